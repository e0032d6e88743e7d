package io.d2g.eval;

import io.d2g.Tensor;
import java.util.SplittableRandom;

/**
 * Image distortions of growing strength for checking a metric (FD must grow with each): images
 * [n, 3, H, W] in [-1, 1] in, new tensors out, clamped to [-1, 1].
 */
public final class Distortions {
  private Distortions() {}

  /** Adds Gaussian noise of standard deviation sigma (in [-1, 1] units). */
  public static Tensor noise(Tensor images, double sigma, SplittableRandom random) {
    float[] x = images.toFloatArray();
    for (int i = 0; i < x.length; i++) {
      double g = Math.sqrt(-2 * Math.log(1 - random.nextDouble())) * Math.cos(2 * Math.PI * random.nextDouble());
      x[i] = clamp(x[i] + (float) (sigma * g));
    }
    return Tensor.of(x, images.shape());
  }

  /** A (2r+1) x (2r+1) box blur of each channel, the border clamped. */
  public static Tensor boxBlur(Tensor images, int radius) {
    long[] s = images.shape();
    int planes = (int) (s[0] * s[1]), h = (int) s[2], w = (int) s[3];
    float[] x = images.toFloatArray(), tmp = new float[x.length], y = new float[x.length];
    for (int p = 0; p < planes; p++) {
      int base = p * h * w;
      for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
          float sum = 0;
          for (int d = -radius; d <= radius; d++) sum += x[base + i * w + Math.clamp(j + d, 0, w - 1)];
          tmp[base + i * w + j] = sum / (2 * radius + 1);
        }
      for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
          float sum = 0;
          for (int d = -radius; d <= radius; d++) sum += tmp[base + Math.clamp(i + d, 0, h - 1) * w + j];
          y[base + i * w + j] = sum / (2 * radius + 1);
        }
    }
    return Tensor.of(y, s);
  }

  /** Shifts red up and blue down by {@code amount} (in [-1, 1] units): a colour cast. */
  public static Tensor colourShift(Tensor images, double amount) {
    long[] s = images.shape();
    int px = (int) (s[2] * s[3]);
    float[] x = images.toFloatArray();
    for (int n = 0; n < s[0]; n++)
      for (int p = 0; p < px; p++) {
        int r = (int) ((n * 3) * px + p), b = (int) ((n * 3 + 2) * px + p);
        x[r] = clamp(x[r] + (float) amount);
        x[b] = clamp(x[b] - (float) amount);
      }
    return Tensor.of(x, s);
  }

  private static float clamp(float v) {
    return Math.max(-1f, Math.min(1f, v));
  }
}
