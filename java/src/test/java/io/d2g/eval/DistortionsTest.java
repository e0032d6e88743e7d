package io.d2g.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.Tensor;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The distortions JudgeValidation grows: what each does to pictures whose answer is known. */
class DistortionsTest {
  @Test
  void blurKeepsAFlatPictureAndSpreadsAPoint() {
    float[] flat = new float[2 * 3 * 8 * 8];
    java.util.Arrays.fill(flat, 0.25f);
    try (Tensor x = Tensor.of(flat, 2, 3, 8, 8); Tensor y = Distortions.boxBlur(x, 2)) {
      assertArrayEquals(flat, y.toFloatArray(), 1e-6f);
    }
    float[] point = new float[3 * 9 * 9];
    point[4 * 9 + 4] = 1; // red channel, centre
    try (Tensor x = Tensor.of(point, 1, 3, 9, 9); Tensor y = Distortions.boxBlur(x, 1)) {
      float[] v = y.toFloatArray();
      assertEquals(1f / 9, v[3 * 9 + 3], 1e-6f); // a corner of the 3x3 box
      assertEquals(1f / 9, v[4 * 9 + 4], 1e-6f);
      assertEquals(0f, v[2 * 9 + 4], 0f); // outside the box
    }
  }

  @Test
  void noiseHasTheAskedDeviationAndColourShiftClamps() {
    float[] zero = new float[3 * 64 * 64];
    try (Tensor x = Tensor.of(zero, 1, 3, 64, 64); Tensor y = Distortions.noise(x, 0.1, new SplittableRandom(1))) {
      double ss = 0;
      for (float v : y.toFloatArray()) ss += v * v;
      assertEquals(0.1, Math.sqrt(ss / zero.length), 0.005);
    }
    try (Tensor x = Tensor.of(new float[] {0.9f, 0f, -0.9f}, 1, 3, 1, 1); Tensor y = Distortions.colourShift(x, 0.2)) {
      assertArrayEquals(new float[] {1f, 0f, -1f}, y.toFloatArray(), 1e-6f);
    }
  }

  @Test
  void gaussianBlurKeepsAFlatPictureAndSpreadsAPointSymmetrically() {
    float[] flat = new float[3 * 8 * 8];
    java.util.Arrays.fill(flat, -0.5f);
    try (Tensor x = Tensor.of(flat, 1, 3, 8, 8); Tensor y = Distortions.gaussianBlur(x, 1.3)) {
      assertArrayEquals(flat, y.toFloatArray(), 1e-6f);
    }
    float[] point = new float[3 * 15 * 15];
    point[7 * 15 + 7] = 1;
    try (Tensor x = Tensor.of(point, 1, 3, 15, 15); Tensor y = Distortions.gaussianBlur(x, 1.0)) {
      float[] v = y.toFloatArray();
      double sum = 0;
      for (int i = 0; i < 225; i++) sum += v[i];
      assertEquals(1.0, sum, 1e-5); // nothing reaches the border: the mass stays
      assertEquals(v[7 * 15 + 6], v[7 * 15 + 8], 1e-7f);
      assertEquals(v[6 * 15 + 7], v[7 * 15 + 6], 1e-7f);
      // N(0, 1) sampled at 0 and 1, normalised over [-3, 3]: the ratio of neighbour to centre is exp(-1/2)
      assertEquals(Math.exp(-0.5), v[7 * 15 + 8] / v[7 * 15 + 7], 1e-5);
      assertEquals(0f, v[225 + 7 * 15 + 7], 0f); // other channels untouched
    }
  }

  @Test
  void jpegKeepsFlatColoursAndLosesMoreDetailAtLowerQuality() {
    float[] flat = new float[3 * 16 * 16];
    java.util.Arrays.fill(flat, 0, 256, 0.2f);
    java.util.Arrays.fill(flat, 256, 512, -0.4f);
    java.util.Arrays.fill(flat, 512, 768, 0.6f);
    try (Tensor x = Tensor.of(flat, 1, 3, 16, 16); Tensor y = Distortions.jpeg(x, 0.9)) {
      assertArrayEquals(flat, y.toFloatArray(), 4f / 127.5f); // chroma subsampling and rounding: a few levels
    }
    float[] fine = new float[3 * 32 * 32];
    java.util.SplittableRandom r = new java.util.SplittableRandom(3);
    for (int i = 0; i < 1024; i++) fine[i] = fine[1024 + i] = fine[2048 + i] = (float) (r.nextDouble() * 2 - 1); // grey
    try (Tensor x = Tensor.of(fine, 1, 3, 32, 32); Tensor hi = Distortions.jpeg(x, 0.95); Tensor lo = Distortions.jpeg(x, 0.1)) {
      double eHi = 0, eLo = 0;
      float[] h = hi.toFloatArray(), l = lo.toFloatArray();
      for (int i = 0; i < fine.length; i++) {
        eHi += (h[i] - fine[i]) * (h[i] - fine[i]);
        eLo += (l[i] - fine[i]) * (l[i] - fine[i]);
      }
      assertTrue(eLo > 2 * eHi, "quality 0.1 error " + eLo + " against 0.95 error " + eHi);
    }
    try (Tensor x = Tensor.of(flat, 1, 3, 16, 16)) {
      assertThrows(IllegalArgumentException.class, () -> Distortions.jpeg(x, 1.5));
      assertThrows(IllegalArgumentException.class, () -> Distortions.gaussianBlur(x, 0));
    }
  }
}
