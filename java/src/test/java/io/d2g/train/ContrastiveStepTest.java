package io.d2g.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.eval.Embeddings;
import io.d2g.eval.JudgeMetrics;
import io.d2g.models.ImageTextJudge;
import io.d2g.models.ImageTextJudgeConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The judge learns: a tiny judge trained with the contrastive step on eight (picture, caption) pairs
 * — coloured squares in four places — drives its loss down and then retrieves every caption from its
 * picture and every picture from its caption.
 */
class ContrastiveStepTest {
  private static final Logger LOG = LoggerFactory.getLogger(ContrastiveStepTest.class);
  static final ImageTextJudgeConfig TINY = new ImageTextJudgeConfig(List.of(8, 16), 4, 16, 2, 32, 16);
  static final String[] COLOURS = {"red", "blue"};
  static final String[] PLACES = {"top left", "top right", "bottom left", "bottom right"};

  @Test
  void aTinyJudgeLearnsToMatchPicturesAndCaptions() {
    List<String> captions = new ArrayList<>();
    int n = COLOURS.length * PLACES.length, size = 16;
    float[] pixels = new float[n * 3 * size * size];
    java.util.Arrays.fill(pixels, -1f);
    for (int c = 0; c < COLOURS.length; c++)
      for (int p = 0; p < PLACES.length; p++) {
        int i = c * PLACES.length + p;
        captions.add("a " + COLOURS[c] + " square, " + PLACES[p]);
        int y0 = p / 2 * 8, x0 = p % 2 * 8;
        for (int y = y0; y < y0 + 8; y++)
          for (int x = x0; x < x0 + 8; x++) pixels[((i * 3 + (c == 0 ? 0 : 2)) * size + y) * size + x] = 1f;
      }
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) ids[i] = i;
    try (ImageTextJudge judge = new ImageTextJudge(TINY); TensorScope s = new TensorScope();
        Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(3e-3).withWeightDecay(0), judge);
        ContrastiveStep step = ContrastiveStep.create(judge, opt, null, ContrastiveStep.Options.DEFAULT)) {
      Tensor images = s.track(Tensor.of(pixels, n, 3, size, size));
      Tensor bytes = s.track(ImageTextJudge.textBytes(captions, TINY.textMaxBytes()));
      Tensor idt = s.track(Tensor.of(ids, n));
      ContrastiveStep.Metrics first = step.run(images, bytes, idt), last = first;
      for (int i = 1; i < 150; i++) last = step.run(images, bytes, idt);
      LOG.info("tiny judge on 8 pairs: loss {} -> {}, batch accuracy {}, scale {}", first.loss(), last.loss(),
          last.batchAccuracy(), last.logitScale());
      assertTrue(last.loss() < first.loss() / 10, "loss " + first.loss() + " -> " + last.loss());
      assertEquals(1.0, last.batchAccuracy());
      Embeddings img = Embeddings.of(n, TINY.embedDim(), s.track(judge.encodeImage(images)).toFloatArray());
      Embeddings txt = Embeddings.of(n, TINY.embedDim(), s.track(judge.encodeText(captions)).toFloatArray());
      int[] truth = java.util.stream.IntStream.range(0, n).toArray();
      JudgeMetrics.Interval iv = new JudgeMetrics.Interval(20, 0);
      assertEquals(1.0, JudgeMetrics.retrievalAccuracy(img, txt, truth, 1, iv).value(), "image -> caption");
      assertEquals(1.0, JudgeMetrics.retrievalAccuracy(txt, img, truth, 1, iv).value(), "caption -> image");
    }
  }

  @Test
  void badBatchesGetClearErrors() {
    try (ImageTextJudge judge = new ImageTextJudge(TINY); TensorScope s = new TensorScope();
        Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-3), judge);
        ContrastiveStep step = ContrastiveStep.create(judge, opt, null, ContrastiveStep.Options.DEFAULT)) {
      Tensor one = s.track(Tensor.of(new float[3 * 16 * 16], 1, 3, 16, 16));
      var e = assertThrows(InvalidArgumentException.class, () -> step.run(one,
          s.track(ImageTextJudge.textBytes(List.of("x"), 8)), s.track(Tensor.of(new long[] {0}, 1))));
      assertTrue(e.getMessage().contains("at least 2 pairs"), e.getMessage());
      Tensor two = s.track(Tensor.of(new float[2 * 3 * 16 * 16], 2, 3, 16, 16));
      e = assertThrows(InvalidArgumentException.class, () -> step.run(two,
          s.track(ImageTextJudge.textBytes(List.of("x", "y"), 8)), s.track(Tensor.of(new float[] {0, 1}, 2))));
      assertTrue(e.getMessage().contains("caption ids"), e.getMessage());
    }
  }
}
