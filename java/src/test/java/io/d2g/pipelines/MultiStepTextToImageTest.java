package io.d2g.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import java.awt.image.BufferedImage;
import java.io.IOException;
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
        assertTrue(Arrays.equals(pixels(a[0]), pixels(p.generate(List.of("a red car, noto style"), 3, 4.0, 7)[0])),
            "the same seed gives the same image (" + sampler + ")");
        assertFalse(Arrays.equals(pixels(a[0]), pixels(p.generate(List.of("a red car, noto style"), 3, 4.0, 8)[0])),
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
    }
    assertThrows(InvalidArgumentException.class, () -> MultiStepTextToImage.load(tmp, Device.CPU, null));
    assertThrows(InvalidArgumentException.class, () -> MultiStepTextToImage.Sampler.parse("plms"));
  }

  private static int[] pixels(BufferedImage img) {
    return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
  }
}
