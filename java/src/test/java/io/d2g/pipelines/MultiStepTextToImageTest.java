package io.d2g.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The multi-step pipeline on a tiny random diffusers folder it loads (tokenizer learnt by
 * ClipBpeTrainer, text encoder, UNet, VAE, a DDIM scheduler config): image size, the same seed gives
 * the same pixels and another seed others, every sampler runs, and bad requests get clear errors.
 * (The loop's numerics are checked against diffusers in DenoisingLoopTest.)
 */
class MultiStepTextToImageTest {
  @Test
  void generatesDeterministicImagesWithEverySampler(@TempDir Path tmp) throws IOException {
    Path folder = TinyPipeline.write(tmp.resolve("pipe"));
    int[] first = null;
    for (MultiStepTextToImage.Sampler sampler : new MultiStepTextToImage.Sampler[] {null,
        MultiStepTextToImage.Sampler.EULER, MultiStepTextToImage.Sampler.HEUN, MultiStepTextToImage.Sampler.DPM_SOLVER}) {
      try (MultiStepTextToImage p = MultiStepTextToImage.load(folder, Device.CPU, sampler)) {
        BufferedImage[] a = p.generate(List.of("a red car, noto style", "a cat, twemoji style"), 3, 4.0, 7);
        assertEquals(2, a.length);
        assertEquals(16, a[0].getWidth());
        assertEquals(16, a[0].getHeight());
        // alone rather than in a batch of two: the same picture up to float rounding (one 8-bit level)
        assertTrue(worstLevel(pixels(a[0]), pixels(p.generate(List.of("a red car, noto style"), 3, 4.0, 7)[0])) <= 1,
            "the same seed gives the same image (" + sampler + ")");
        assertTrue(worstLevel(pixels(a[0]), pixels(p.generate(List.of("a red car, noto style"), 3, 4.0, 8)[0])) > 8,
            "another seed another");
        if (sampler == null) first = pixels(a[0]);
        else assertFalse(Arrays.equals(first, pixels(a[0])), sampler + " differs from DDIM");
        p.generate(List.of("a cat"), 2, 1.0, 1); // no guidance: one pass per step
      }
    }
    try (MultiStepTextToImage p = MultiStepTextToImage.load(folder, Device.CPU, null)) {
      assertThrows(InvalidArgumentException.class, () -> p.generate(List.of(" "), 3, 4.0, 1));
      assertThrows(InvalidArgumentException.class, () -> p.generate(List.of("a cat"), 0, 4.0, 1));
      assertThrows(InvalidArgumentException.class, () -> p.generate(List.of("a cat"), 3, Double.NaN, 1));
      assertThrows(InvalidArgumentException.class, () -> p.generate(List.of(), 3, 4.0, 1));
      InvalidArgumentException style = assertThrows(InvalidArgumentException.class,
          () -> p.generate(List.of("a cat, twemoji style", "a red car, cubist style"), 3, 4.0, 1));
      assertTrue(style.getMessage().contains("prompt 1") && style.getMessage().contains("\"cubist\""), style.getMessage());
      p.generate(List.of("a zebra, noto style"), 1, 4.0, 1); // an unseen word elsewhere is only logged
    }
    assertThrows(InvalidArgumentException.class, () -> MultiStepTextToImage.load(tmp, Device.CPU, null));
    assertThrows(InvalidArgumentException.class, () -> MultiStepTextToImage.Sampler.parse("plms"));
  }

  /**
   * diffusers' own StableDiffusionPipeline on a tiny pipeline folder the teacher example wrote
   * (test/fixtures/sd-pipeline-tiny; images by scripts/fixtures/make_pipeline_fixtures.py): the same
   * prompt, seed, steps, guidance and sampler give the same image here, within one 8-bit level — the
   * folder is standard and the whole pipeline (tokenizer, noise, text encoder, guided loop, VAE) agrees.
   */
  @Test
  void matchesDiffusersOnTheSameFolder() throws IOException {
    Path root = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(root.resolve("test/fixtures/sd-pipeline-tiny"))) root = root.getParent();
    Path images = root.resolve("test/fixtures/sd-pipeline-tiny-images");
    var cases = new com.fasterxml.jackson.databind.ObjectMapper().readTree(images.resolve("cases.json").toFile()).path("cases");
    int checked = 0;
    for (var c : cases) {
      try (MultiStepTextToImage p = MultiStepTextToImage.load(root.resolve("test/fixtures/sd-pipeline-tiny"), Device.CPU,
          MultiStepTextToImage.Sampler.parse(c.path("sampler").asText()))) {
        BufferedImage ours = p.generate(List.of(c.path("prompt").asText()), c.path("steps").asInt(), c.path("cfg").asDouble(),
            c.path("seed").asLong())[0];
        BufferedImage theirs = javax.imageio.ImageIO.read(images.resolve(c.path("name").asText() + ".png").toFile());
        int worst = worstLevel(pixels(ours), pixels(theirs));
        assertTrue(worst <= 1, c.path("name").asText() + ": pixels differ by up to " + worst + " levels");
        checked++;
      }
    }
    assertEquals(4, checked);
  }

  /** The largest difference of one colour channel of one pixel, in 8-bit levels. */
  private static int worstLevel(int[] a, int[] b) {
    int worst = 0;
    for (int i = 0; i < a.length; i++)
      for (int shift = 0; shift < 24; shift += 8)
        worst = Math.max(worst, Math.abs(((a[i] >> shift) & 255) - ((b[i] >> shift) & 255)));
    return worst;
  }

  private static int[] pixels(BufferedImage img) {
    return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
  }
}
