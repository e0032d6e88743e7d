package io.d2g.data;

/**
 * Resizes RGBA images with premultiplied-alpha filtering, so transparent pixels never bleed their
 * colour into edges. Downscaling averages exactly the source area under each target pixel (a box
 * filter, like PIL's BOX or OpenCV's INTER_AREA); upscaling interpolates linearly. Pure Java
 * arithmetic: the same input gives the same bytes on every machine.
 */
public final class Resampler {
  private Resampler() {}

  public static RgbaImage resize(RgbaImage src, int width, int height) {
    if (src.width() == width && src.height() == height) return src;
    int sw = src.width(), sh = src.height();
    float[] pre = new float[sw * sh * 4];
    byte[] s = src.rgba();
    for (int i = 0; i < sw * sh; i++) {
      float a = (s[4 * i + 3] & 255) / 255f;
      pre[4 * i] = (s[4 * i] & 255) * a;
      pre[4 * i + 1] = (s[4 * i + 1] & 255) * a;
      pre[4 * i + 2] = (s[4 * i + 2] & 255) * a;
      pre[4 * i + 3] = (s[4 * i + 3] & 255);
    }
    Weights wx = weights(sw, width), wy = weights(sh, height);
    // horizontal pass: sh rows x width
    float[] tmp = new float[width * sh * 4];
    for (int y = 0; y < sh; y++)
      for (int x = 0; x < width; x++) {
        float r = 0, g = 0, b = 0, a = 0;
        for (int k = wx.start[x]; k < wx.start[x + 1]; k++) {
          int si = (y * sw + wx.index[k]) * 4;
          float w = wx.weight[k];
          r += pre[si] * w;
          g += pre[si + 1] * w;
          b += pre[si + 2] * w;
          a += pre[si + 3] * w;
        }
        int di = (y * width + x) * 4;
        tmp[di] = r;
        tmp[di + 1] = g;
        tmp[di + 2] = b;
        tmp[di + 3] = a;
      }
    byte[] out = new byte[width * height * 4];
    for (int y = 0; y < height; y++)
      for (int x = 0; x < width; x++) {
        float r = 0, g = 0, b = 0, a = 0;
        for (int k = wy.start[y]; k < wy.start[y + 1]; k++) {
          int si = (wy.index[k] * width + x) * 4;
          float w = wy.weight[k];
          r += tmp[si] * w;
          g += tmp[si + 1] * w;
          b += tmp[si + 2] * w;
          a += tmp[si + 3] * w;
        }
        int di = (y * width + x) * 4;
        int ai = clamp(Math.round(a));
        out[di + 3] = (byte) ai;
        if (ai > 0) {
          float inv = 255f / a; // straight colour = premultiplied / (alpha / 255)
          out[di] = (byte) clamp(Math.round(r * inv));
          out[di + 1] = (byte) clamp(Math.round(g * inv));
          out[di + 2] = (byte) clamp(Math.round(b * inv));
        }
      }
    return new RgbaImage(width, height, out);
  }

  private static int clamp(int v) {
    return v < 0 ? 0 : Math.min(v, 255);
  }

  /** Sparse weights: for target i, source indices index[start[i]..start[i+1]) with weights summing to 1. */
  private record Weights(int[] start, int[] index, float[] weight) {}

  private static Weights weights(int src, int dst) {
    int[] start = new int[dst + 1];
    java.util.List<Integer> idx = new java.util.ArrayList<>();
    java.util.List<Float> wt = new java.util.ArrayList<>();
    double scale = (double) src / dst;
    for (int i = 0; i < dst; i++) {
      start[i] = idx.size();
      if (scale >= 1) { // area average over [i*scale, (i+1)*scale)
        double lo = i * scale, hi = (i + 1) * scale;
        int a = (int) Math.floor(lo), b = Math.min(src, (int) Math.ceil(hi));
        for (int s = a; s < b; s++) {
          double w = Math.min(hi, s + 1) - Math.max(lo, s);
          if (w > 1e-9) {
            idx.add(s);
            wt.add((float) (w / scale));
          }
        }
      } else { // linear interpolation at the target pixel centre
        double c = (i + 0.5) * scale - 0.5;
        int a = (int) Math.floor(c);
        double f = c - a;
        int a0 = Math.max(0, Math.min(src - 1, a)), a1 = Math.max(0, Math.min(src - 1, a + 1));
        if (a0 == a1) {
          idx.add(a0);
          wt.add(1f);
        } else {
          idx.add(a0);
          wt.add((float) (1 - f));
          idx.add(a1);
          wt.add((float) f);
        }
      }
    }
    start[dst] = idx.size();
    int[] ii = new int[idx.size()];
    float[] ww = new float[idx.size()];
    for (int k = 0; k < ii.length; k++) {
      ii[k] = idx.get(k);
      ww[k] = wt.get(k);
    }
    return new Weights(start, ii, ww);
  }
}
