package io.d2g.sd;

import static io.d2g.bindings.d2g_h.*;

import io.d2g.DType;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.bindings.d2g_h;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.nn.NativeModule;
import java.awt.image.BufferedImage;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Prompt ids to images in one native call: text encoder → UNet once → x0 → VAE decoder → u8 RGB.
 * Diffusion2GAN's one-step generator is this pipeline with {@link NoiseSchedule.Prediction#SAMPLE};
 * a diffusion teacher gives a single DDIM-style jump. On CUDA each stage is captured once per input
 * shape as a CUDA graph and replayed. The pipeline shares the modules: keep them open while it is.
 */
public final class OneStepPipeline implements AutoCloseable {
  /** Device milliseconds of each stage of the last run. */
  public record Timings(float textMs, float unetMs, float vaeMs) {
    public float totalMs() {
      return textMs + unetMs + vaeMs;
    }
  }

  private final NativeHandle handle;
  // kept so that the Java objects (and their cleaners) outlive the pipeline that shares them
  private final NativeModule textEncoder, unet, vae;

  public OneStepPipeline(NativeModule textEncoder, NativeModule unet, NativeModule vae,
      NoiseSchedule.Prediction prediction, double scalingFactor, boolean cudaGraphs) {
    this.textEncoder = textEncoder;
    this.unet = unet;
    this.vae = vae;
    MemorySegment out = Native.scratch();
    Native.check(d2g_onestep_create(textEncoder.handle(), unet.handle(), vae.handle(), prediction.code,
        scalingFactor, cudaGraphs ? 1 : 0, out));
    handle = new NativeHandle(this, out.get(ValueLayout.ADDRESS, 0), d2g_h::d2g_onestep_free);
  }

  private MemorySegment handle() {
    return handle.get("pipeline is closed");
  }

  /**
   * Runs the pipeline. {@code inputIds}: i64 [B, T]; {@code noise}: the UNet's input x_t, [B, C, h, w];
   * {@code alphaBar}: ᾱ at {@code timestep} (unused for SAMPLE prediction). Returns u8 [B, H, W, 3]
   * on the modules' device.
   */
  public Tensor run(Tensor inputIds, Tensor noise, long timestep, double alphaBar) {
    MemorySegment out = Native.scratch();
    Native.check(d2g_onestep_run(handle(), inputIds.handle(), noise.handle(), timestep, alphaBar, out));
    return Tensor.adopt(out.get(ValueLayout.ADDRESS, 0));
  }

  public Timings lastTimings() {
    MemorySegment out = Native.scratch();
    Native.check(d2g_onestep_last_timings(handle(), out, out.asSlice(4), out.asSlice(8)));
    return new Timings(out.get(ValueLayout.JAVA_FLOAT, 0), out.get(ValueLayout.JAVA_FLOAT, 4),
        out.get(ValueLayout.JAVA_FLOAT, 8));
  }

  /** u8 [B, H, W, 3] images (any device) as BufferedImages (one copy to the host). */
  public static BufferedImage[] toImages(Tensor u8) {
    long[] s = u8.shape();
    if (u8.dtype() != DType.U8 || s.length != 4 || s[3] != 3)
      throw new InvalidArgumentException("expected u8 [batch, height, width, 3] images, got " + u8);
    byte[] px = u8.toByteArray();
    int b = (int) s[0], h = (int) s[1], w = (int) s[2];
    BufferedImage[] images = new BufferedImage[b];
    for (int i = 0; i < b; i++) {
      BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
      int[] rgb = new int[w * h];
      int base = i * w * h * 3;
      for (int p = 0; p < w * h; p++) {
        int o = base + 3 * p;
        rgb[p] = (px[o] & 0xff) << 16 | (px[o + 1] & 0xff) << 8 | (px[o + 2] & 0xff);
      }
      img.setRGB(0, 0, w, h, rgb, 0, w);
      images[i] = img;
    }
    return images;
  }

  @Override
  public void close() {
    handle.close();  // frees once; later calls do nothing
  }
}
