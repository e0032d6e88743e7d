package io.d2g.pipelines;

import io.d2g.DType;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.diffusion.Prediction;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionModel;
import java.awt.image.BufferedImage;
import java.lang.foreign.MemorySegment;

/**
 * Prompt ids to images in one native call: text encoder → UNet once → x0 → VAE decoder → u8 RGB.
 * Diffusion2GAN's one-step generator is this pipeline with {@link Prediction#SAMPLE};
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
  private final ClipTextModel textEncoder;
  private final UNet2DConditionModel unet;
  private final AutoencoderKL vae;

  public OneStepPipeline(ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae, Prediction prediction,
      double scalingFactor, boolean cudaGraphs) {
    this.textEncoder = textEncoder;
    this.unet = unet;
    this.vae = vae;
    handle = NativeHandle.onestep(this, Native.onestepCreate(Access.handle(textEncoder), Access.handle(unet),
        Access.handle(vae), prediction, scalingFactor, cudaGraphs));
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
    return Access.tensor(Native.onestepRun(handle(), Access.handle(inputIds), Access.handle(noise), timestep, alphaBar));
  }

  public Timings lastTimings() {
    float[] t = Native.onestepLastTimings(handle());
    return new Timings(t[0], t[1], t[2]);
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
