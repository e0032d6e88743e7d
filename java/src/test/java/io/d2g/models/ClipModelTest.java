package io.d2g.models;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.eval.Embeddings;
import io.d2g.eval.JudgeMetrics;
import io.d2g.hub.ClipBpeTrainer;
import io.d2g.hub.ClipTokenizer;
import io.d2g.train.ContrastiveStep;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Contrastive pretraining of a CLIP text encoder: the model's state is a CLIPTextModelWithProjection's
 * plus the image tower; a tiny one trained with the contrastive step on eight (picture, caption) pairs
 * learns to match them; the text encoder taken out of it gives the same text embeddings on its own.
 */
class ClipModelTest {
  private static final Logger LOG = LoggerFactory.getLogger(ClipModelTest.class);
  private static final String[] COLOURS = {"red", "blue"};
  private static final String[] PLACES = {"top left", "top right", "bottom left", "bottom right"};

  private static List<String> captions() {
    List<String> out = new ArrayList<>();
    for (String c : COLOURS)
      for (String p : PLACES) out.add("a " + c + " square, " + p);
    return out;
  }

  private static ClipTextConfig textConfig(ClipTokenizer tok, boolean projection) {
    return new ClipTextConfig(tok.vocabSize(), 16, 32, 2, 2, 77, "quick_gelu", 1e-5, 0, tok.bosId(), tok.eosId(),
        tok.padId(), 16, projection);
  }

  /** Eight 16x16 pictures: a red or blue 8x8 square in one of four places, on black. */
  private static float[] pictures(int size) {
    int n = COLOURS.length * PLACES.length;
    float[] px = new float[n * 3 * size * size];
    java.util.Arrays.fill(px, -1f);
    for (int c = 0; c < COLOURS.length; c++)
      for (int p = 0; p < PLACES.length; p++) {
        int i = c * PLACES.length + p, y0 = p / 2 * 8, x0 = p % 2 * 8;
        for (int y = y0; y < y0 + 8; y++)
          for (int x = x0; x < x0 + 8; x++) px[((i * 3 + (c == 0 ? 0 : 2)) * size + y) * size + x] = 1f;
      }
    return px;
  }

  @Test
  void stateIsATextEncoderWithProjectionAndAnImageTower() {
    ClipTokenizer tok = ClipBpeTrainer.train(captions(), 600, 1);
    try (ClipModel m = new ClipModel(new ClipModelConfig(textConfig(tok, true), List.of(8, 16), 4));
        ClipTextModel alone = new ClipTextModel(textConfig(tok, true))) {
      List<String> names = m.stateNames();
      List<String> text = names.stream().filter(n -> !n.startsWith("vision_model.") && !n.equals("logit_scale")).toList();
      assertEquals(alone.stateNames().stream().sorted().toList(), text.stream().sorted().toList(),
          "the text side is named as a CLIPTextModelWithProjection");
      assertTrue(names.contains("vision_model.stem.weight") && names.contains("vision_model.proj.weight"), names.toString());
      assertTrue(names.contains("logit_scale"));
    }
  }

  @Test
  void aTinyModelLearnsAndItsTextEncoderGivesTheSameEmbeddingsAlone() {
    List<String> captions = captions();
    int n = captions.size(), size = 16;
    ClipTokenizer tok = ClipBpeTrainer.train(captions, 600, 1);
    ClipModelConfig config = new ClipModelConfig(textConfig(tok, true), List.of(8, 16), 4);
    try (ClipModel model = new ClipModel(config); TensorScope s = new TensorScope();
        Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(3e-3).withWeightDecay(0), model);
        ContrastiveStep step = ContrastiveStep.create(model, opt, null, ContrastiveStep.Options.DEFAULT)) {
      Tensor images = s.track(Tensor.of(pictures(size), n, 3, size, size));
      Tensor ids = s.track(tok.encodeBatch(captions));
      Tensor captionIds = s.track(Tensor.of(IntStream.range(0, n).asLongStream().toArray(), n));
      ContrastiveStep.Metrics first = step.run(images, ids, captionIds), last = first;
      for (int i = 1; i < 150; i++) last = step.run(images, ids, captionIds);
      LOG.info("tiny CLIP on 8 pairs: loss {} -> {}, batch accuracy {}", first.loss(), last.loss(), last.batchAccuracy());
      assertTrue(last.loss() < first.loss() / 10, "loss " + first.loss() + " -> " + last.loss());
      model.eval();
      Embeddings img = Embeddings.of(n, 16, s.track(model.encodeImage(images)).toFloatArray());
      float[] textEmbeds = s.track(model.encodeText(ids)).toFloatArray();
      Embeddings txt = Embeddings.of(n, 16, textEmbeds);
      int[] truth = IntStream.range(0, n).toArray();
      assertEquals(1.0, JudgeMetrics.retrievalAccuracy(img, txt, truth, 1, new JudgeMetrics.Interval(20, 0)).value());

      // The text encoder alone (with its projection): the same embeddings; without: the same pooled output.
      try (ClipTextModel withProjection = model.textEncoder(textConfig(tok, true));
          ClipTextModel plain = model.textEncoder(textConfig(tok, false))) {
        Tensor pooled = s.track(withProjection.pooled(ids));
        assertArrayEquals(textEmbeds, s.track(withProjection.textEmbeds(pooled)).toFloatArray(), 1e-6f);
        assertArrayEquals(pooled.toFloatArray(), s.track(plain.pooled(ids)).toFloatArray(), 1e-6f);
        assertFalse(plain.stateNames().contains(ClipTextModel.PROJECTION));
      }
    }
  }

  @Test
  void badConfigsAndInputsGetClearErrors() {
    ClipTokenizer tok = ClipBpeTrainer.train(captions(), 600, 1);
    var e = assertThrows(InvalidArgumentException.class, () -> new ClipModelConfig(textConfig(tok, true), List.of(8, 10), 4));
    assertTrue(e.getMessage().contains("multiples of norm_groups"), e.getMessage());
    try (ClipModel model = new ClipModel(new ClipModelConfig(textConfig(tok, true), List.of(8), 4)); TensorScope s = new TensorScope()) {
      e = assertThrows(InvalidArgumentException.class, () -> model.encodeText(s.track(Tensor.of(new float[] {1, 2}, 1, 2))));
      assertTrue(e.getMessage().contains("input_ids"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class, () -> model.encodeImage(s.track(Tensor.of(new float[3 * 4 * 4], 1, 3, 4, 4))));
      assertTrue(e.getMessage().contains("clip_model: images"), e.getMessage());
      // a text encoder of another width does not take these weights
      ClipTextConfig other = new ClipTextConfig(tok.vocabSize(), 24, 32, 2, 2, 77, "quick_gelu", 1e-5, 0, tok.bosId(),
          tok.eosId(), tok.padId(), 24, false);
      assertThrows(InvalidArgumentException.class, () -> model.textEncoder(other).close());
    }
  }
}
