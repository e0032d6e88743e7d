package io.d2g.pipelines;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.schedulers.Scheduler;

/**
 * The multi-step sampling loop of a latent diffusion model with classifier-free guidance, as diffusers'
 * Stable Diffusion pipeline runs it: x = noise · init σ; for each timestep t of the scheduler, the
 * UNet on the scaled x with the prompt's text states and with the empty prompt's, the guided
 * prediction u + g (c − u), and x = step(guided, t, x). Guidance g = 1 (or no unconditional states)
 * runs the conditional pass only. The two passes run as two UNet calls on the same input.
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
    double[] timesteps = scheduler.setTimesteps(steps);
    Tensor x = noise.mul(scheduler.initNoiseSigma());
    try {
      for (double t : timesteps) {
        try (TensorScope s = new TensorScope()) {
          Tensor in = scheduler.scaleModelInput(x, t);
          if (in != x) s.track(in);
          Tensor time = s.track(s.track(Tensor.of(new float[] {(float) t}, 1)).to(noise.device()));
          Tensor eps = s.track(unet.forward(in, time, cond));
          if (guided) {
            Tensor u = s.track(unet.forward(in, time, uncond));
            eps = s.track(Tensor.linearCombination(new double[] {1 - guidance, guidance}, u, eps)); // u + g (c − u)
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
