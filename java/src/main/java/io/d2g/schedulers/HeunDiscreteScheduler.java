package io.d2g.schedulers;

import com.fasterxml.jackson.databind.JsonNode;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.diffusion.NoiseSchedule;

/**
 * Heun's second-order method on the probability-flow ODE in σ (Karras et al., 2022, Algorithm 1
 * without churn), as diffusers' {@code HeunDiscreteScheduler} has it: each σ interval takes an Euler
 * step, then the network again at its end, and the two slopes averaged. The network runs 2n − 1
 * times for n steps: {@link #setTimesteps} returns every timestep it is called at, in order (all but
 * the first twice), and {@link #step} alternates between the two stages; the last interval, down to
 * σ = 0, is a plain Euler step. σ's spaced as for {@link EulerDiscreteScheduler} (Karras's with
 * {@code use_karras_sigmas}).
 */
public final class HeunDiscreteScheduler implements Scheduler {
  private final NoiseSchedule schedule;
  private final TimestepSpacing spacing;
  private final int stepsOffset;
  private final boolean karras;
  private final float[] trainSigmas;
  private double[] timesteps;
  private float[] sigmas;
  private int stepIndex = -1;
  private Tensor prevDerivative, firstSample;
  private float dt = Float.NaN;

  public HeunDiscreteScheduler(NoiseSchedule schedule, TimestepSpacing spacing, int stepsOffset, boolean karras) {
    TimestepSpacing.checkOffset(stepsOffset, schedule.numTrainTimesteps());
    this.schedule = schedule;
    this.spacing = spacing;
    this.stepsOffset = stepsOffset;
    this.karras = karras;
    trainSigmas = new float[schedule.numTrainTimesteps()];
    for (int i = 0; i < trainSigmas.length; i++) trainSigmas[i] = SigmaSteps.sigmaOf((float) schedule.alphaBar(i));
  }

  /** From a diffusers scheduler_config.json; the options this class does not implement are refused. */
  public static HeunDiscreteScheduler fromConfig(JsonNode c) {
    NoiseSchedule schedule = NoiseSchedule.fromConfig(c);
    for (String unsupported : new String[] {"use_exponential_sigmas", "use_beta_sigmas", "clip_sample"})
      if (c.path(unsupported).asBoolean(false)) throw new InvalidArgumentException(unsupported + " is not supported");
    TimestepSpacing spacing = TimestepSpacing.fromConfig(c, TimestepSpacing.LINSPACE);
    return new HeunDiscreteScheduler(schedule, spacing, c.path("steps_offset").asInt(0),
        c.path("use_karras_sigmas").asBoolean(false));
  }

  @Override
  public NoiseSchedule schedule() {
    return schedule;
  }

  /** n steps: returns the 2n − 1 timesteps the network is called at, in order. */
  @Override
  public double[] setTimesteps(int n) {
    double[][] tsSig = SigmaSteps.timestepsAndSigmas(trainSigmas, spacing, stepsOffset, karras, n);
    double[] ts = tsSig[0], sig = tsSig[1];
    timesteps = new double[2 * n - 1];
    sigmas = new float[2 * n];
    timesteps[0] = ts[0];
    sigmas[0] = (float) sig[0];
    for (int i = 1; i < n; i++) {
      timesteps[2 * i - 1] = timesteps[2 * i] = ts[i];
      sigmas[2 * i - 1] = sigmas[2 * i] = (float) sig[i];
    }
    sigmas[2 * n - 1] = 0f;
    reset();
    return timesteps.clone();
  }

  /** The σ's, one per network call and the final 0. */
  public float[] sigmas() {
    if (sigmas == null) throw new IllegalStateException("call setTimesteps first");
    return sigmas.clone();
  }

  /** σ_max, or √(σ_max² + 1) for "leading" spacing. */
  @Override
  public double initNoiseSigma() {
    return SigmaSteps.initNoiseSigma(sigmas, spacing);
  }


  /** The network's input at the current call: x / √(σ² + 1). */
  @Override
  public Tensor scaleModelInput(Tensor sample, double t) {
    return SigmaSteps.scaleInput(sample, sigmas == null ? 0 : sigmas[index(t)]);
  }

  /** The next stage from the network's output at timestep t (a new tensor). Calls go in order. */
  @Override
  public Tensor step(Tensor modelOutput, double t, Tensor sample) {
    int i = index(t);
    boolean first = Float.isNaN(dt);
    float sigma = first ? sigmas[i] : sigmas[i - 1], sigmaNext = first ? sigmas[i + 1] : sigmas[i];
    float at = first ? sigma : sigmaNext; // the σ the network's output belongs to
    try (TensorScope s = new TensorScope()) {
      Tensor x0 = SigmaSteps.x0(schedule.prediction(), modelOutput, sample, at, s);
      Tensor next;
      if (first) {
        Tensor derivative = sample.sub(x0).div(sigma);
        dt = sigmaNext - sigma;
        prevDerivative = derivative;
        firstSample = sample.detach(); // a second handle to the same values
        next = Tensor.linearCombination(new double[] {1, dt}, sample, derivative);
      } else {
        // x_first + ((x − x̂0) / σ_next + d_first) / 2 · dt, in one native call
        double k = (double) dt / (2.0 * sigmaNext);
        next = Tensor.linearCombination(new double[] {1, k, -k, dt / 2.0}, firstSample, sample, x0, prevDerivative);
        reset();
      }
      stepIndex = i + 1;
      return next;
    }
  }

  private void reset() {
    if (prevDerivative != null) prevDerivative.close();
    if (firstSample != null) firstSample.close();
    prevDerivative = firstSample = null;
    dt = Float.NaN;
    stepIndex = -1;
  }

  private int index(double t) {
    if (timesteps == null) throw new IllegalStateException("call setTimesteps first");
    if (stepIndex >= 0 && stepIndex < timesteps.length) return stepIndex;
    for (int i = 0; i < timesteps.length; i++)
      if (timesteps[i] == (float) t) {
        int second = i + 1 < timesteps.length && timesteps[i + 1] == timesteps[i] ? i + 1 : i;
        return stepIndex = (i == 0 ? 0 : second);
      }
    throw new InvalidArgumentException("timestep " + t + " is not one of this schedule's");
  }
}
