package io.d2g.train;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.models.AutoencoderKL;
import java.lang.foreign.MemorySegment;

/**
 * The latent autoencoder's whole training step in one native call: encode to N(μ, σ²), z = μ + σ ε
 * with the given noise, decode, loss = Σ(x̂ − x)²/B + klWeight · KL/B, backward, gradients averaged
 * across data-parallel ranks, clipping and the optimizer step. The noise comes from the caller, so a
 * run's randomness is its own (and a resumed run draws the same).
 *
 * <pre>{@code
 * try (AutoencoderStep step = AutoencoderStep.create(vae, opt, null, AutoencoderStep.Options.DEFAULT)) {
 *   AutoencoderStep.Metrics m = step.run(images, noise);   // noise [B, latent_channels, H/f, W/f]
 * }
 * }</pre>
 */
public final class AutoencoderStep implements AutoCloseable {
  /** klWeight: the KL term's weight (latent diffusion's autoencoders: 1e-6); maxGradNorm 0: no clipping. */
  public record Options(double klWeight, boolean bf16, double maxGradNorm) {
    public static final Options DEFAULT = new Options(1e-6, false, 1.0);

    public Options {
      if (!(klWeight >= 0 && klWeight <= 1)) throw new InvalidArgumentException("klWeight must be in [0, 1]");
      if (!(maxGradNorm >= 0)) throw new InvalidArgumentException("maxGradNorm must be >= 0 (0: no clipping)");
    }
  }

  /**
   * The loss, the gradient norm before clipping, the reconstruction's squared error per element, the
   * KL per image, and whether the weights were updated (a loss that is not finite skips the update).
   */
  public record Metrics(double loss, double gradNorm, double reconstructionMse, double kl, boolean stepped) {}

  private final NativeHandle handle;

  private AutoencoderStep(MemorySegment h) {
    this.handle = NativeHandle.trainStep(this, h);
  }

  /** A step that trains {@code vae} with {@code opt}; {@code dp} may be null. Keep the VAE open while it lives. */
  public static AutoencoderStep create(AutoencoderKL vae, Optimizer opt, DataParallel dp, Options options) {
    String config = "kl_weight=" + options.klWeight() + "\nprecision=" + (options.bf16() ? "bf16" : "f32")
        + "\nmax_grad_norm=" + options.maxGradNorm();
    return new AutoencoderStep(Native.trainStepCreate("autoencoder", config, Access.handle(vae), opt.handle(),
        MemorySegment.NULL, dp == null ? MemorySegment.NULL : dp.handle(), MemorySegment.NULL));
  }

  /** One step: images [B, C, H, W] in [-1, 1] and standard-normal noise of the latents' shape. */
  public Metrics run(Tensor images, Tensor noise) {
    double[] m = Native.trainStepRunInputs(handle.get("training step is closed"), Access.handle(images), Access.handle(noise));
    return new Metrics(m[0], m[1], m[2], m[3], m[4] != 0);
  }

  @Override
  public void close() {
    handle.close();
  }
}
