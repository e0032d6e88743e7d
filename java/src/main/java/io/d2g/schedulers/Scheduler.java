package io.d2g.schedulers;

import io.d2g.Tensor;
import io.d2g.diffusion.NoiseSchedule;

/**
 * A sampler of the diffusion ODE, used the way diffusers' schedulers are: {@link #setTimesteps}, then
 * for each returned timestep t, the network on {@link #scaleModelInput}(x, t) and x = {@link #step}(output,
 * t, x); the first x is standard-normal noise times {@link #initNoiseSigma()}. Implementations keep
 * the state of the current pass (multistep history, the stage of a two-stage step), so one instance
 * serves one sampling loop at a time.
 */
public interface Scheduler {
  /** Prepares {@code steps} steps; returns the timesteps the network runs at, in order. */
  double[] setTimesteps(int steps);

  /** The standard deviation of the initial noise. */
  double initNoiseSigma();

  /** The network's input for sample x at timestep t (a new tensor, or x itself when unscaled). */
  Tensor scaleModelInput(Tensor sample, double t);

  /** The next sample from the network's output at timestep t (a new tensor). */
  Tensor step(Tensor modelOutput, double t, Tensor sample);

  /**
   * For samplers whose every step is linear in the sample and the network's output, x_next = cx x +
   * cm output with the network run on s x (DDIM with η = 0): the steps prepared by the last
   * {@link #setTimesteps}, each {t, s, cx, cm}, so that a caller may run the whole loop itself (the
   * native {@link io.d2g.pipelines.GuidedSampler}). Null for samplers with history or stages.
   */
  default double[][] linearSteps() {
    return null;
  }

  /** The training noise schedule (ᾱ and the prediction type). */
  NoiseSchedule schedule();
}
