package io.d2g.train;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.diffusion.Prediction;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionModel;
import java.lang.foreign.MemorySegment;

/**
 * A diffusion model's whole training step in one native call: {@code x_t = sqrt(abar_t) x0 +
 * sqrt(1 - abar_t) eps}, the UNet's prediction (eps, v or x0, as the schedule's {@link Prediction}
 * says), the mean squared error, backward, the gradients averaged across data-parallel ranks,
 * clipping, the optimizer step and the EMA, with bf16 or f16 mixed precision. The Java loop gives it
 * batches and sets the learning rate ({@link Optimizer#setLrFactor}); everything inside a step stays
 * in C++.
 *
 * <pre>{@code
 * try (DenoiseStep step = DenoiseStep.create(unet, opt, ema, null, schedule, DenoiseStep.Options.DEFAULT)) {
 *   DenoiseStep.Metrics m = step.run(latents, textStates, timesteps, noise);
 * }
 * }</pre>
 */
public final class DenoiseStep implements AutoCloseable {
  /** Mixed precision of the forward and backward; the weights stay as they are (f32). */
  public enum Precision {
    F32, BF16,
    /** f16 with a dynamic loss scale (CUDA only). */
    F16
  }

  /** maxGradNorm 0: no clipping; emaDecay: used when an EMA is given. */
  /**
   * {@code cudaGraphs}: on CUDA in f32 or bf16 with AdamW and without data parallelism, capture the
   * whole step as a CUDA graph after two warm-up steps and replay it for every later batch of the same
   * shapes (no per-kernel launch cost; one host synchronisation a step, for the metrics); ignored
   * elsewhere. The graph keeps the optimizer's and the EMA's state tensors it captured: load a
   * checkpoint into them before the first step (as the trainers do), not in the middle of a run.
   */
  public record Options(Precision precision, double maxGradNorm, double emaDecay, boolean cudaGraphs) {
    public static final Options DEFAULT = new Options(Precision.F32, 1.0, 0.9999, false);

    public Options {
      if (precision == null) throw new InvalidArgumentException("precision is required");
      if (!(maxGradNorm >= 0)) throw new InvalidArgumentException("maxGradNorm must be >= 0 (0: no clipping)");
      if (!(emaDecay >= 0 && emaDecay <= 1)) throw new InvalidArgumentException("emaDecay must be in [0, 1]");
    }

    /** Without CUDA graphs. */
    public Options(Precision precision, double maxGradNorm, double emaDecay) {
      this(precision, maxGradNorm, emaDecay, false);
    }

    public Options withPrecision(Precision p) {
      return new Options(p, maxGradNorm, emaDecay, cudaGraphs);
    }

    public Options withMaxGradNorm(double n) {
      return new Options(precision, n, emaDecay, cudaGraphs);
    }

    public Options withEmaDecay(double d) {
      return new Options(precision, maxGradNorm, d, cudaGraphs);
    }

    public Options withCudaGraphs(boolean graphs) {
      return new Options(precision, maxGradNorm, emaDecay, graphs);
    }
  }

  /**
   * What a step did: the loss (mean over the batch and the ranks), the gradient norm before clipping
   * (0 without clipping), the f16 loss scale after it (1 otherwise), and whether the weights were
   * updated (f16 skips a step whose gradients overflowed).
   */
  public record Metrics(double loss, double gradNorm, double lossScale, boolean stepped) {}

  private final NativeHandle handle;

  private DenoiseStep(MemorySegment h) {
    this.handle = NativeHandle.trainStep(this, h);
  }

  /**
   * A step that trains {@code unet} with {@code opt} (over its parameters), updating {@code ema} and
   * averaging across {@code dp}'s ranks when they are not null. The step keeps the optimizer, EMA
   * and data-parallel objects alive as long as it lives; keep the UNet open.
   */
  public static DenoiseStep create(UNet2DConditionModel unet, Optimizer opt, Ema ema, DataParallel dp,
      NoiseSchedule schedule, Options options) {
    double[] abar = new double[schedule.numTrainTimesteps()];
    for (int t = 0; t < abar.length; t++) abar[t] = schedule.alphaBar(t);
    String config = "prediction=" + schedule.prediction().configName() + "\nprecision=" + options.precision().name().toLowerCase()
        + "\nmax_grad_norm=" + options.maxGradNorm() + "\nema_decay=" + options.emaDecay()
        + "\ncuda_graphs=" + options.cudaGraphs();
    try (Tensor table = Tensor.of(abar, abar.length)) {
      return new DenoiseStep(Native.trainStepCreate("denoise", config, Access.handle(unet), opt.handle(),
          ema == null ? MemorySegment.NULL : ema.handle(), dp == null ? MemorySegment.NULL : dp.handle(),
          Access.handle(table)));
    }
  }

  /**
   * Trains {@code text} with the UNet (the teacher's joint training, as the latent-diffusion
   * text-to-image model did): from now on {@link #run}'s context is token ids [B, T], encoded inside
   * the step (the last hidden state). The optimizer must hold the text encoder's parameters too
   * ({@link Optimizer#create(OptimizerConfig, java.util.Map, ParamGroup...)} over both). Keep it open.
   */
  public DenoiseStep withTextEncoder(ClipTextModel text) {
    Native.trainStepSetModule(handle.get("training step is closed"), "text_encoder", Access.handle(text));
    return this;
  }

  /**
   * One step on a batch: clean latents x0 [B, C, H, W], text states [B, T, D] (token ids [B, T] with
   * a text encoder), integer timesteps [B], noise like x0. Waits for the device.
   */
  public Metrics run(Tensor x0, Tensor context, Tensor timesteps, Tensor noise) {
    double[] m = Native.trainStepRun(handle.get("training step is closed"), Access.handle(x0), Access.handle(context),
        Access.handle(timesteps), Access.handle(noise));
    return new Metrics(m[0], m[1], m[2], m[3] != 0);
  }

  @Override
  public void close() {
    handle.close();
  }
}
