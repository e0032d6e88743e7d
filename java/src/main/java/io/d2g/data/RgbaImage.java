package io.d2g.data;

import java.awt.image.BufferedImage;

/**
 * An 8-bit RGBA image, rows top to bottom, pixels R,G,B,A, straight (not premultiplied) alpha, sRGB
 * values, as in a PNG.
 */
public record RgbaImage(int width, int height, byte[] rgba) {
  public RgbaImage {
    if (width <= 0 || height <= 0) throw new IllegalArgumentException("empty image " + width + "x" + height);
    if (rgba.length != width * height * 4)
      throw new IllegalArgumentException("expected " + width * height * 4 + " bytes, got " + rgba.length);
  }

  public static RgbaImage of(BufferedImage img) {
    int w = img.getWidth(), h = img.getHeight();
    int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
    byte[] out = new byte[w * h * 4];
    for (int i = 0; i < argb.length; i++) {
      int p = argb[i];
      out[4 * i] = (byte) (p >>> 16);
      out[4 * i + 1] = (byte) (p >>> 8);
      out[4 * i + 2] = (byte) p;
      out[4 * i + 3] = (byte) (p >>> 24);
    }
    return new RgbaImage(w, h, out);
  }

  public BufferedImage toBufferedImage() {
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_ARGB);
    int[] argb = new int[width * height];
    for (int i = 0; i < argb.length; i++)
      argb[i] = (rgba[4 * i + 3] & 255) << 24 | (rgba[4 * i] & 255) << 16 | (rgba[4 * i + 1] & 255) << 8
          | (rgba[4 * i + 2] & 255);
    img.setRGB(0, 0, width, height, argb, 0, width);
    return img;
  }

  public int alpha(int x, int y) {
    return rgba[(y * width + x) * 4 + 3] & 255;
  }

  /** The same picture with the colour of fully transparent pixels set to 0 (they are never seen). */
  public RgbaImage clearTransparent() {
    byte[] out = rgba.clone();
    for (int i = 0; i < out.length; i += 4)
      if (out[i + 3] == 0) out[i] = out[i + 1] = out[i + 2] = 0;
    return new RgbaImage(width, height, out);
  }

  /** Number of pixels with alpha above {@code threshold}. */
  public int opaqueCount(int threshold) {
    int n = 0;
    for (int i = 3; i < rgba.length; i += 4) if ((rgba[i] & 255) > threshold) n++;
    return n;
  }

  /**
   * Pictures of one size as a model's input [n, 3, H, W] in [-1, 1] (f32, on the CPU), transparency
   * composited over white.
   */
  public static io.d2g.Tensor toTensorOverWhite(java.util.List<RgbaImage> images) {
    if (images.isEmpty()) throw new io.d2g.InvalidArgumentException("no pictures");
    int w = images.get(0).width(), h = images.get(0).height(), px = w * h, n = images.size();
    float[] rgb = new float[n * 3 * px];
    for (int i = 0; i < n; i++) {
      RgbaImage img = images.get(i);
      if (img.width() != w || img.height() != h)
        throw new io.d2g.InvalidArgumentException("picture " + i + " is " + img.width() + "x" + img.height() + ", the first "
            + w + "x" + h + ": they must have one size");
      byte[] rgba = img.rgba();
      for (int p = 0; p < px; p++) {
        float a = (rgba[p * 4 + 3] & 255) / 255f;
        for (int c = 0; c < 3; c++) rgb[(i * 3 + c) * px + p] = 2 * ((rgba[p * 4 + c] & 255) / 255f * a + (1 - a)) - 1;
      }
    }
    return io.d2g.Tensor.of(rgb, n, 3, h, w);
  }
}
