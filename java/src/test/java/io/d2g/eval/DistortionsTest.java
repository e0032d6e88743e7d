package io.d2g.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
