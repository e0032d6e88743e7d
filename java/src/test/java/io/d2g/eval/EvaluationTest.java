package io.d2g.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.InvalidArgumentException;
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.models.ImageTextJudge;
import io.d2g.models.ImageTextJudgeConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sample folders (reading and refusing them) and the evaluation of one with a tiny judge. */
class EvaluationTest {
  static final ImageTextJudgeConfig TINY = new ImageTextJudgeConfig(List.of(8, 16), 4, 16, 1, 32, 4);
  static final JudgeMetrics.Interval IV = new JudgeMetrics.Interval(50, 0);

  @TempDir Path dir;

  /** n samples of 16x16 random pictures, prompts "prompt k" for k = i % prompts, seed i / prompts. */
  static Path sampleFolder(Path dir, int n, int prompts, long pictureSeed) throws IOException {
    Files.createDirectories(dir);
    SplittableRandom r = new SplittableRandom(pictureSeed);
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] rgba = new byte[16 * 16 * 4];
      r.nextBytes(rgba);
      for (int p = 3; p < rgba.length; p += 4) rgba[p] = (byte) 255;
      Files.write(dir.resolve(i + ".png"), ImageCodec.encodePng(new RgbaImage(16, 16, rgba)));
      lines.add("{\"image\": \"" + i + ".png\", \"prompt\": \"prompt " + i % prompts + "\", \"seed\": " + i / prompts
          + ", \"seconds\": 0.5, \"timed_on\": \"cpu " + (i % 2 == 0 ? "A" : "B") + "\"}");
    }
    Files.write(dir.resolve(SampleSet.INDEX), lines);
    return dir;
  }

  @Test
  void aSetGradedAgainstItselfHasZeroFdAndFullFidelity() throws IOException {
    SampleSet set = SampleSet.open(sampleFolder(dir.resolve("s"), 12, 3, 1));
    assertEquals(12, set.size());
    try (ImageTextJudge judge = new ImageTextJudge(TINY)) {
      Embeddings own = Evaluation.embed(judge, set);
      ObjectNode o = Evaluation.evaluate(judge, set, own, set, IV);
      assertEquals(0, o.path("fd").path("value").asDouble(), 1e-6);
      assertEquals(0, o.path("fidelity").path("value").asDouble(), 1e-6);
      assertEquals(0.5, o.path("seconds_per_image").asDouble(), 0);
      assertEquals("cpu A; cpu B", o.path("timed_on").asText(), "the devices the times were taken on, each once");
      assertTrue(o.path("diversity").path("value").asDouble() > 0, o.toString());
      assertTrue(o.has("text_image_score") && o.has("prompt_retrieval_top1"), o.toString());
      // the prompts name no relation, colour or style: only those are skipped
      assertEquals(List.of("relation_accuracy", "colour_accuracy", "style_accuracy"), iterator(o.path("skipped").fieldNames()));
      // without a real side or a teacher those figures are skipped, with the reason
      ObjectNode bare = Evaluation.evaluate(judge, set, null, null, IV);
      assertTrue(bare.path("skipped").has("fd") && bare.path("skipped").has("fidelity"), bare.toString());
    }
  }

  @Test
  void compositionalAccuracySwapsTheFirstRelationOrColour() throws IOException {
    SampleSet set = SampleSet.open(sampleFolder(dir.resolve("s"), 4, 4, 1));
    try (ImageTextJudge judge = new ImageTextJudge(TINY)) {
      Embeddings img = Evaluation.embed(judge, set);
      List<String> prompts = List.of("a cat to the left of a red car, noto style", "a dog above a cat, noto style",
          "hot springs, noto style", "a blue car on a green background, twemoji style");
      // prompts 0 and 1 name relations, 0 and 3 colours; 2 neither
      Estimate rel = Evaluation.swapAccuracy(judge, img, prompts, Evaluation.RELATIONS, IV);
      Estimate col = Evaluation.swapAccuracy(judge, img, prompts, Evaluation.COLOURS, IV);
      Estimate sty = Evaluation.swapAccuracy(judge, img, prompts, Evaluation.STYLES, IV);
      assertEquals(2, rel.samples());
      assertEquals(2, col.samples());
      assertEquals(4, sty.samples(), "every prompt names its style");
      assertTrue(Evaluation.STYLES.contains("fluent 3d style") && Evaluation.STYLES.size() == 7, Evaluation.STYLES.toString());
      // with one prompt naming a colour there is nothing to average
      assertEquals(null, Evaluation.swapAccuracy(judge, img, List.of("a red car, noto style", "a cat, noto style",
          "a dog, noto style", "a fox, noto style"), Evaluation.COLOURS, IV));
    }
  }

  @Test
  void tooFewSamplesForFdAreRefusedWithTheMinimum() throws IOException {
    SampleSet set = SampleSet.open(sampleFolder(dir.resolve("s"), 6, 3, 1));
    try (ImageTextJudge judge = new ImageTextJudge(TINY)) {
      Embeddings real = Evaluation.embed(judge, SampleSet.open(sampleFolder(dir.resolve("r"), 20, 4, 2)));
      InsufficientSamplesException e = assertThrows(InsufficientSamplesException.class,
          () -> Evaluation.evaluate(judge, set, real, null, IV));
      assertEquals(8, e.minimum());
      assertTrue(e.getMessage().contains("at least 8"), e.getMessage());
    }
  }

  @Test
  void brokenFoldersGetAClearError() throws IOException {
    Path s = sampleFolder(dir.resolve("missing"), 4, 2, 1);
    Files.delete(s.resolve("2.png"));
    assertMessage(s, "2.png is missing");
    s = sampleFolder(dir.resolve("corrupt"), 4, 2, 1);
    Files.write(s.resolve("1.png"), new byte[] {1, 2, 3});
    assertMessage(s, "is corrupt");
    s = sampleFolder(dir.resolve("sizes"), 4, 2, 1);
    byte[] big = new byte[32 * 32 * 4];
    Files.write(s.resolve("3.png"), ImageCodec.encodePng(new RgbaImage(32, 32, big)));
    assertMessage(s, "is 32x32, the first sample is 16x16");
    s = sampleFolder(dir.resolve("json"), 2, 2, 1);
    Files.writeString(s.resolve(SampleSet.INDEX), "{\"image\": \"0.png\"}\n");
    assertMessage(s, "line 1 needs \"image\" and a non-empty \"prompt\"");
    Files.writeString(s.resolve(SampleSet.INDEX), "not json\n");
    assertMessage(s, "line 1 is not JSON");
    Files.writeString(s.resolve(SampleSet.INDEX), "{\"image\": \"../x.png\", \"prompt\": \"p\"}\n");
    assertMessage(s, "lies outside");
    assertMessage(dir.resolve("nowhere"), "has no samples.jsonl");
  }

  private static List<String> iterator(java.util.Iterator<String> it) {
    List<String> out = new ArrayList<>();
    it.forEachRemaining(out::add);
    return out;
  }

  private static void assertMessage(Path folder, String part) {
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> SampleSet.open(folder));
    assertTrue(e.getMessage().contains(part), e.getMessage());
  }
}
