package io.d2g.pipelines;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.schedulers.Scheduler;
import java.util.List;

/**
 * The multi-step sampling loop of a latent diffusion model with classifier-free guidance, as diffusers'
 * Stable Diffusion pipeline runs it: x = noise · init σ; for each timestep t of the scheduler, the
 * UNet on the scaled x with the empty prompt's and the prompt's text states (one call on both halves,
 * as diffusers batches them), the guided
 * prediction u + g (c − u), and x = step(guided, t, x). Guidance g = 1 (or no unconditional states)
 * runs the conditional pass only. The sample and the arithmetic are float32; a UNet in another dtype
 * (that of the text states) sees its input in its own dtype. {@link GuidedSampler} runs the same loop
 * in one native call for the samplers with linear steps.
 */
public final class DenoisingLoop {
  private DenoisingLoop() {}

  /**
   * Final latents (a new tensor) from {@code noise} [B, C, H, W] (standard normal) after {@code steps}
   * steps of {@code scheduler}; {@code cond} and {@code uncond} are text states [B, T, D] (uncond may
   * be null when guidance is 1).
   */
  public static Tensor run(UNet2DConditionModel unet, Scheduler scheduler, int steps, Tensor noise, Tensor cond,
      Tensor uncond, double guidance) {
    if (!(guidance >= 0 && guidance <= 100)) throw new InvalidArgumentException("guidance must be 0 to 100, not " + guidance);
    boolean guided = guidance != 1.0;
    if (guided && uncond == null) throw new InvalidArgumentException("guidance " + guidance + " needs unconditional text states");
    if (guided && !java.util.Arrays.equals(uncond.shape(), cond.shape()))
      throw new InvalidArgumentException("the unconditional text states " + java.util.Arrays.toString(uncond.shape())
          + " must have the prompts' shape " + java.util.Arrays.toString(cond.shape()));
    double[] timesteps = scheduler.setTimesteps(steps);
    long b = noise.shape()[0];
    // With guidance, one UNet call per step on both halves, as diffusers' pipeline does: the
    // unconditional states first, then the prompts'.
    Tensor both = guided ? Tensor.cat(List.of(uncond, cond), 0) : null;
    Tensor x = noise.mul(scheduler.initNoiseSigma());
    try (Tensor context = both) {
      for (double t : timesteps) {
        try (TensorScope s = new TensorScope()) {
          Tensor in = scheduler.scaleModelInput(x, t);
          if (in != x) s.track(in);
          if (cond.dtype() != in.dtype()) in = s.track(in.to(cond.dtype()));
          Tensor time = s.track(s.track(Tensor.of(new float[] {(float) t}, 1)).to(noise.device()));
          Tensor eps;
          if (guided) {
            Tensor out = s.track(unet.forward(s.track(Tensor.cat(List.of(in, in), 0)), time, context));
            Tensor u = s.track(out.narrow(0, 0, b)), c = s.track(out.narrow(0, b, b));
            if (u.dtype() != x.dtype()) {
              u = s.track(u.to(x.dtype()));
              c = s.track(c.to(x.dtype()));
            }
            eps = s.track(Tensor.linearCombination(new double[] {1 - guidance, guidance}, u, c)); // u + g (c − u)
          } else {
            eps = s.track(unet.forward(in, time, cond));
            if (eps.dtype() != x.dtype()) eps = s.track(eps.to(x.dtype()));
          }
          Tensor next = scheduler.step(eps, t, x);
          x.close();
          x = next;
        }
      }
      return x;
    } catch (RuntimeException e) {
      x.close();
      throw e;
    }
  }
}
