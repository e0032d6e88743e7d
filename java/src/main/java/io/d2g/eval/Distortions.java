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
    float[] k = new float[2 * radius + 1];
    java.util.Arrays.fill(k, 1f / (2 * radius + 1));
    return separable(images, k);
  }

  /** A Gaussian blur of standard deviation sigma pixels (kernel radius ceil(3 sigma)), the border clamped. */
  public static Tensor gaussianBlur(Tensor images, double sigma) {
    if (!(sigma > 0 && sigma <= 16)) throw new IllegalArgumentException("sigma must be in (0, 16], not " + sigma);
    int r = (int) Math.ceil(3 * sigma);
    float[] k = new float[2 * r + 1];
    double total = 0;
    for (int d = -r; d <= r; d++) total += k[d + r] = (float) Math.exp(-d * d / (2 * sigma * sigma));
    for (int i = 0; i < k.length; i++) k[i] /= (float) total;
    return separable(images, k);
  }

  /** Each channel convolved with {@code k} (odd length, centred) along rows, then columns; the border clamped. */
  private static Tensor separable(Tensor images, float[] k) {
    int r = k.length / 2;
    long[] s = images.shape();
    int planes = (int) (s[0] * s[1]), h = (int) s[2], w = (int) s[3];
    float[] x = images.toFloatArray(), tmp = new float[x.length], y = new float[x.length];
    for (int p = 0; p < planes; p++) {
      int base = p * h * w;
      for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
          float sum = 0;
          for (int d = -r; d <= r; d++) sum += k[d + r] * x[base + i * w + Math.clamp(j + d, 0, w - 1)];
          tmp[base + i * w + j] = sum;
        }
      for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
          float sum = 0;
          for (int d = -r; d <= r; d++) sum += k[d + r] * tmp[base + Math.clamp(i + d, 0, h - 1) * w + j];
          y[base + i * w + j] = sum;
        }
    }
    return Tensor.of(y, s);
  }

  /** Each image through a baseline JPEG encoder (javax.imageio) at {@code quality} in [0, 1], and back. */
  public static Tensor jpeg(Tensor images, double quality) {
    if (!(quality >= 0 && quality <= 1)) throw new IllegalArgumentException("quality must be in [0, 1], not " + quality);
    long[] s = images.shape();
    int h = (int) s[2], w = (int) s[3], px = h * w;
    if (s[1] != 3) throw new IllegalArgumentException("JPEG needs 3 channels, not " + s[1]);
    float[] x = images.toFloatArray();
    javax.imageio.ImageWriter writer = javax.imageio.ImageIO.getImageWritersByFormatName("jpeg").next();
    try {
      javax.imageio.ImageWriteParam param = writer.getDefaultWriteParam();
      param.setCompressionMode(javax.imageio.ImageWriteParam.MODE_EXPLICIT);
      param.setCompressionQuality((float) quality);
      for (int n = 0; n < s[0]; n++) {
        java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(w, h, java.awt.image.BufferedImage.TYPE_INT_RGB);
        for (int p = 0; p < px; p++) {
          int rgb = 0;
          for (int c = 0; c < 3; c++)
            rgb = (rgb << 8) | (int) Math.round((clamp(x[(n * 3 + c) * px + p]) + 1) * 127.5);
          img.setRGB(p % w, p / w, rgb);
        }
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (javax.imageio.stream.ImageOutputStream out = javax.imageio.ImageIO.createImageOutputStream(bytes)) {
          writer.setOutput(out);
          writer.write(null, new javax.imageio.IIOImage(img, null, null), param);
        }
        java.awt.image.BufferedImage back = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(bytes.toByteArray()));
        for (int p = 0; p < px; p++) {
          int rgb = back.getRGB(p % w, p / w);
          for (int c = 0; c < 3; c++) x[(n * 3 + c) * px + p] = ((rgb >> (16 - 8 * c)) & 255) / 127.5f - 1;
        }
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } finally {
      writer.dispose();
    }
    return Tensor.of(x, s);
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
