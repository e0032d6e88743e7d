package io.d2g.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The judge's structure, input encoding, masking and input checks (its learning: ContrastiveStepTest). */
class ImageTextJudgeTest {
  static final ImageTextJudgeConfig TINY = new ImageTextJudgeConfig(List.of(8, 16), 4, 16, 2, 24, 12);

  @Test
  void stateNamesAndEmbeddingShapes() {
    try (ImageTextJudge judge = new ImageTextJudge(TINY); TensorScope s = new TensorScope();
        Generator g = Generator.create(Device.CPU, 1)) {
      List<String> names = judge.stateNames();
      for (String k : List.of("image.stem.weight", "image.blocks.0.conv1.weight", "image.blocks.1.shortcut.weight",
          "image.norm.weight", "image.proj.weight", "text.embed.weight", "text.blocks.1.conv.weight", "text.proj.bias",
          "logit_scale"))
        assertTrue(names.contains(k), k + " missing from " + names);
      assertEquals(2, names.stream().filter(n -> n.matches("image\\.blocks\\.\\d\\.shortcut\\.weight")).count());
      assertEquals(List.of(257L, 16L), List.of(judge.state().get("text.embed.weight").shape()[0],
          judge.state().get("text.embed.weight").shape()[1]));
      Tensor img = s.track(judge.encodeImage(s.track(Tensor.randn(g, DType.F32, 3, 3, 32, 32))));
      assertArrayEquals(new long[] {3, 12}, img.shape());
      Tensor txt = s.track(judge.encodeText(List.of("a red car", "ein grünes Auto")));
      assertArrayEquals(new long[] {2, 12}, txt.shape());
    }
  }

  @Test
  void textBytesAreUtf8PlusOnePaddedAndCut() {
    try (Tensor t = ImageTextJudge.textBytes(List.of("aé", "abcdef"), 4)) {
      assertArrayEquals(new long[] {2, 4}, t.shape());
      // 'a' = 0x61, 'é' = 0xC3 0xA9; +1 each; 0 pads; the second is cut at 4 bytes
      assertArrayEquals(new long[] {98, 196, 170, 0, 98, 99, 100, 101}, t.toLongArray());
    }
    assertThrows(InvalidArgumentException.class, () -> ImageTextJudge.textBytes(List.of("ok", ""), 8));
  }

  @Test
  void embeddingsDoNotDependOnPaddingOrOnTheRestOfTheBatch() {
    try (ImageTextJudge judge = new ImageTextJudge(TINY); TensorScope s = new TensorScope();
        Generator g = Generator.create(Device.CPU, 2)) {
      float[] alone = s.track(judge.encodeText(List.of("cat"))).toFloatArray();
      float[] padded = s.track(judge.encodeText(List.of("cat", "a much longer caption"))).toFloatArray();
      for (int i = 0; i < alone.length; i++) assertEquals(alone[i], padded[i], 1e-5, "dimension " + i);
      float[] pixels = s.track(Tensor.randn(g, DType.F32, 2, 3, 16, 16)).toFloatArray();
      float[] both = s.track(judge.encodeImage(s.track(Tensor.of(pixels, 2, 3, 16, 16)))).toFloatArray();
      float[] first = s.track(judge.encodeImage(s.track(Tensor.of(java.util.Arrays.copyOf(pixels, 3 * 16 * 16),
          1, 3, 16, 16)))).toFloatArray();
      for (int i = 0; i < first.length; i++) assertEquals(first[i], both[i], 1e-5, "dimension " + i);
    }
  }

  @Test
  void badInputsGetClearErrors() {
    try (ImageTextJudge judge = new ImageTextJudge(TINY); TensorScope s = new TensorScope()) {
      var e = assertThrows(InvalidArgumentException.class,
          () -> judge.encodeImage(s.track(Tensor.of(new float[4 * 16 * 16], 1, 4, 16, 16))));
      assertTrue(e.getMessage().contains("[B, 3, H, W]"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class,
          () -> judge.encodeText(s.track(Tensor.of(new long[] {5, 300}, 1, 2))));
      assertTrue(e.getMessage().contains("1..256"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class,
          () -> judge.encodeText(s.track(Tensor.of(new long[] {5, 6, 0, 0}, 2, 2))));
      assertTrue(e.getMessage().contains("at least one byte"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class, () -> judge.encodeText(s.track(Tensor.of(new long[25], 1, 25))));
      assertTrue(e.getMessage().contains("L <= 24"), e.getMessage());
      assertThrows(InvalidArgumentException.class, () -> new ImageTextJudgeConfig(List.of(8, 10), 4, 16, 2, 24, 12));
    }
  }

  @Test
  void configRoundTripsThroughJson() {
    assertEquals(TINY, ImageTextJudgeConfig.fromJson(TINY.toJson()));
    assertEquals(ImageTextJudgeConfig.EMOJI, ImageTextJudgeConfig.fromJson(new com.fasterxml.jackson.databind.ObjectMapper()
        .createObjectNode()));
  }
}
