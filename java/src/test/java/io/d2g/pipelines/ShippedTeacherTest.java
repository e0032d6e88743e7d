package io.d2g.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.Device;
import io.d2g.data.RgbaImage;
import io.d2g.eval.Evaluation;
import io.d2g.eval.JudgeMetrics;
import io.d2g.eval.SampleSet;
import io.d2g.hub.DiffusersFolder;
import io.d2g.models.ImageTextJudge;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The teacher shipped in {@code models/emoji-teacher} draws what it is asked for: eight pictures of
 * eight scenes of training concepts on backgrounds of different colours (20 DDIM steps, guidance 5, on
 * the CPU), graded by the shipped judge, which must pick each picture's own prompt among the eight
 * far above chance (1 in 8). (Colours and layout are what this teacher gets right most reliably; a
 * single emoji's identity much less — see its model card.) A
 * broken folder, a wrong scaling factor, a text encoder that no longer matches its tokenizer or a
 * sampler regression makes pictures the judge cannot match to their prompts.
 */
class ShippedTeacherTest {
  static final List<String> PROMPTS = List.of("a red heart on a green background, twemoji style",
      "a yellow star on a blue background, noto style", "a banana on a purple background, noto style",
      "a frog on a pink background, twemoji style", "a ghost on an orange background, noto style",
      "a fire on a black background, twemoji style", "an alien on a white background, twemoji style",
      "a rocket on a red background, noto style");

  @Test
  void theShippedTeacherDrawsItsPrompts(@TempDir Path tmp) {
    Path root = Path.of(System.getProperty("d2g.header")).toAbsolutePath().getParent().getParent().getParent();
    SampleSet.Writer w = SampleSet.writer(tmp.resolve("samples"), false);
    try (MultiStepTextToImage pipe = MultiStepTextToImage.load(root.resolve("models/emoji-teacher"), Device.CPU, null)) {
      BufferedImage[] images = pipe.generate(PROMPTS, 20, 5.0, 100);
      assertEquals(PROMPTS.size(), images.length);
      for (int i = 0; i < images.length; i++) w.add(RgbaImage.of(images[i]), PROMPTS.get(i), 100L + i, Double.NaN);
    }
    SampleSet samples = SampleSet.open(w.commit());
    ObjectNode figures;
    try (ImageTextJudge judge = DiffusersFolder.load(root.resolve("models/judge"), ImageTextJudge.FAMILY)) {
      figures = Evaluation.evaluate(judge, samples, null, null, new JudgeMetrics.Interval(100, 0));
    }
    double top1 = figures.path("prompt_retrieval_top1").path("value").asDouble();
    assertTrue(top1 >= 0.75, "the judge matched only " + top1 + " of the teacher's pictures to their own prompt (chance 0.125): "
        + figures);
  }
}
