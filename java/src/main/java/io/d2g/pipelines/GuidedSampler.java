package io.d2g.pipelines;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.schedulers.Scheduler;
import java.lang.foreign.MemorySegment;

/**
 * {@link DenoisingLoop}'s sampling loop with classifier-free guidance in one native call, for the
 * samplers whose step is linear in the sample and the guided output ({@link Scheduler#linearSteps()}:
 * DDIM with η = 0) — what recording a teacher's ODE pairs spends its time on. Per step: the UNet once on
 * both halves ([uncond; cond]), g = u + w (c − u), x = cx x + cm g. The sample and that arithmetic are
 * float32 whatever the UNet's dtype (f16 and bf16 UNets see their own dtype). On CUDA with graphs, one
 * step is captured per input shape on its first run and replayed for every step after: no per-kernel
 * launch cost and no host synchronisation in a run. The sampler shares the UNet: keep it open while the
 * sampler is, and don't change its weights, device or dtype.
 */
public final class GuidedSampler implements AutoCloseable {
  private final NativeHandle handle;
  private final UNet2DConditionModel unet; // kept so that the module outlives the sampler sharing it

  /** {@code cudaGraphs}: capture and replay on CUDA (ignored on the CPU). */
  public GuidedSampler(UNet2DConditionModel unet, boolean cudaGraphs) {
    this.unet = unet;
    handle = NativeHandle.guidedSampler(this, Native.guidedSamplerCreate(Access.handle(unet), cudaGraphs));
  }

  /** Whether {@code scheduler} can run here: its steps are linear (DDIM with η = 0). */
  public static boolean supports(Scheduler scheduler) {
    scheduler.setTimesteps(1);
    return scheduler.linearSteps() != null;
  }

  /**
   * Final latents, float32 [B, C, H, W] on the UNet's device, from standard-normal {@code noise} after
   * {@code steps} steps of {@code scheduler} (which must {@link #supports} it); {@code cond} and
   * {@code uncond} are text states [B, T, D] (uncond may be null when guidance is 1), any dtype and
   * device. Asynchronous on CUDA (reading the result waits for it).
   */
  public Tensor run(Scheduler scheduler, int steps, Tensor noise, Tensor cond, Tensor uncond, double guidance) {
    double[] timesteps = scheduler.setTimesteps(steps);
    double[][] rows = scheduler.linearSteps();
    if (rows == null)
      throw new InvalidArgumentException(scheduler.getClass().getSimpleName() + " has no linear steps; run it with DenoisingLoop");
    if (rows.length != timesteps.length) throw new IllegalStateException("linearSteps() disagrees with setTimesteps()");
    try (TensorScope s = new TensorScope()) {
      double sigma = scheduler.initNoiseSigma();
      Tensor x = sigma == 1.0 ? noise : s.track(noise.mul(sigma));
      return Access.tensor(Native.guidedSamplerRun(handle(), Access.handle(x), Access.handle(cond),
          uncond == null ? MemorySegment.NULL : Access.handle(uncond), guidance, rows));
    }
  }

  private MemorySegment handle() {
    return handle.get("sampler is closed");
  }

  @Override
  public void close() {
    handle.close();  // frees once; later calls do nothing
  }
}
