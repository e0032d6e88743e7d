package io.d2g.pipelines;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.hub.ClipTokenizer;
import io.d2g.io.Fixtures;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.AutoencoderKLConfig;
import io.d2g.models.ClipTextConfig;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.nn.NativeModule;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Prompt to image with tiny random models and the real CLIP tokenizer. */
class TextToImageTest {
  @TempDir static Path dir;
  static ClipTextModel text;
  static UNet2DConditionModel unet;
  static AutoencoderKL vae;
  static TextToImage t2i;

  @BeforeAll
  static void setUp() throws Exception {
    Path fx = Fixtures.path("clip-tokenizer");
    Path tokDir = Files.createDirectories(dir.resolve("tokenizer"));
    Fixtures.gunzip(fx.resolve("vocab.json.gz"), tokDir.resolve("vocab.json"));
    Fixtures.gunzip(fx.resolve("merges.txt.gz"), tokDir.resolve("merges.txt"));
    D2g.manualSeed(11);
    text = new ClipTextModel(ClipTextConfig.of(Map.of("vocab_size", 49408, "hidden_size", 32, "intermediate_size", 64,
        "num_hidden_layers", 1, "num_attention_heads", 2, "max_position_embeddings", 77, "eos_token_id", 2)));
    unet = new UNet2DConditionModel(UNet2DConditionConfig.of(Map.ofEntries(
        Map.entry("block_out_channels", List.of(32, 64)),
        Map.entry("down_block_types", List.of("CrossAttnDownBlock2D", "DownBlock2D")),
        Map.entry("up_block_types", List.of("UpBlock2D", "CrossAttnUpBlock2D")),
        Map.entry("layers_per_block", 1), Map.entry("cross_attention_dim", 32), Map.entry("attention_head_dim", 8),
        Map.entry("norm_num_groups", 8), Map.entry("sample_size", 8))));
    vae = new AutoencoderKL(AutoencoderKLConfig.of(Map.of("block_out_channels", List.of(16, 32),
        "down_block_types", List.of("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types", List.of("UpDecoderBlock2D", "UpDecoderBlock2D"), "norm_num_groups", 8, "layers_per_block", 1)));
    for (NativeModule m : List.of(text, unet, vae)) m.eval();
    NoiseSchedule schedule = NoiseSchedule.fromConfig(new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode()
        .put("beta_schedule", "scaled_linear").put("beta_start", 0.00085).put("beta_end", 0.012));
    t2i = new TextToImage(ClipTokenizer.load(tokDir), text, unet, vae, schedule,
        TextToImage.Options.on(Device.CPU, DType.F32).withCudaGraphs(false));
  }

  @AfterAll
  static void tearDown() {
    t2i.close();
    text.close();
    unet.close();
    vae.close();
  }

  private static int[] pixels(BufferedImage img) {
    return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
  }

  @Test
  void seedsAndPromptsDecideTheImage() {
    BufferedImage[] batch = t2i.generate(List.of("a cat, noto style", "a red car on a blue background"), 7);
    assertEquals(2, batch.length);
    assertEquals(16, batch[0].getWidth());
    // image i uses seed + i: the same prompt alone with that seed gives the same picture
    assertArrayEquals(pixels(batch[0]), pixels(t2i.generate("a cat, noto style", 7)));
    assertArrayEquals(pixels(batch[1]), pixels(t2i.generate("a red car on a blue background", 8)));
    // another seed or another prompt gives another picture
    assertFalse(java.util.Arrays.equals(pixels(batch[0]), pixels(t2i.generate("a cat, noto style", 9))));
    assertFalse(java.util.Arrays.equals(pixels(batch[0]), pixels(t2i.generate("a dog, noto style", 7))));
  }

  @Test
  void emptyAndHugePromptsAreClearErrors() {
    var e = assertThrows(InvalidArgumentException.class, () -> t2i.generate("  ", 1));
    assertTrue(e.getMessage().contains("empty"), e.getMessage());
    var h = assertThrows(InvalidArgumentException.class, () -> t2i.generate("cat ".repeat(1000), 1));
    assertTrue(h.getMessage().contains("shorten"), h.getMessage());
    assertThrows(InvalidArgumentException.class, () -> t2i.generate(List.of(), 1));
    // a long but acceptable prompt is truncated to 77 tokens, not refused
    assertEquals(16, t2i.generate("a very long prompt ".repeat(30), 1).getWidth());
  }
}
