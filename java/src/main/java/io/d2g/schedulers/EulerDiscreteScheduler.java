package io.d2g.schedulers;

import com.fasterxml.jackson.databind.JsonNode;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.diffusion.NoiseSchedule;

/**
 * Euler's method on the probability-flow ODE in σ (Karras et al., 2022), as diffusers'
 * {@code EulerDiscreteScheduler} has it, deterministic (s_churn = 0). With σ_t = √((1−ᾱ_t)/ᾱ_t):
 *
 * <pre>
 *   network input = x / √(σ² + 1)                     ({@link #scaleModelInput})
 *   x̂0 = x − σ ε̂   (or from v / x0)
 *   x_next = x + (x − x̂0)/σ · (σ_next − σ)
 * </pre>
 *
 * Timesteps are spaced "linspace", "leading" or "trailing" and the σ's interpolated linearly between
 * training timesteps, or spread as Karras's σ's ({@code use_karras_sigmas}, ρ = 7) with fractional
 * timesteps; the last σ is 0 or σ_min ({@code final_sigmas_type}). The initial noise is scaled by
 * {@link #initNoiseSigma()}. The σ's and coefficients are float32 as diffusers' are.
 */
public final class EulerDiscreteScheduler implements Scheduler {
  private final NoiseSchedule schedule;
  private final TimestepSpacing spacing;
  private final int stepsOffset;
  private final boolean karras;
  private final boolean finalSigmaMin;
  private final float[] trainSigmas;
  private double[] timesteps;
  private float[] sigmas;
  private int stepIndex = -1;

  public EulerDiscreteScheduler(NoiseSchedule schedule, TimestepSpacing spacing, int stepsOffset, boolean karras,
      boolean finalSigmaMin) {
    TimestepSpacing.checkOffset(stepsOffset, schedule.numTrainTimesteps());
    this.schedule = schedule;
    this.spacing = spacing;
    this.stepsOffset = stepsOffset;
    this.karras = karras;
    this.finalSigmaMin = finalSigmaMin;
    int n = schedule.numTrainTimesteps();
    trainSigmas = new float[n];
    for (int i = 0; i < n; i++) trainSigmas[i] = SigmaSteps.sigmaOf((float) schedule.alphaBar(i));
  }

  /** From a diffusers scheduler_config.json; the options this class does not implement are refused. */
  public static EulerDiscreteScheduler fromConfig(JsonNode c) {
    NoiseSchedule schedule = NoiseSchedule.fromConfig(c);
    for (String unsupported : new String[] {"use_exponential_sigmas", "use_beta_sigmas", "rescale_betas_zero_snr"})
      if (c.path(unsupported).asBoolean(false)) throw new InvalidArgumentException(unsupported + " is not supported");
    if (!c.path("interpolation_type").asText("linear").equals("linear"))
      throw new InvalidArgumentException("interpolation_type must be linear, not " + c.path("interpolation_type"));
    if (!c.path("timestep_type").asText("discrete").equals("discrete"))
      throw new InvalidArgumentException("timestep_type must be discrete, not " + c.path("timestep_type"));
    String last = c.path("final_sigmas_type").asText("zero");
    if (!last.equals("zero") && !last.equals("sigma_min"))
      throw new InvalidArgumentException("final_sigmas_type must be zero or sigma_min, not " + last);
    TimestepSpacing spacing = TimestepSpacing.fromConfig(c, TimestepSpacing.LINSPACE);
    return new EulerDiscreteScheduler(schedule, spacing, c.path("steps_offset").asInt(0),
        c.path("use_karras_sigmas").asBoolean(false), last.equals("sigma_min"));
  }

  @Override
  public NoiseSchedule schedule() {
    return schedule;
  }

  /** Chooses {@code n} timesteps (possibly fractional with Karras σ's), highest first, and their σ's. */
  @Override
  public double[] setTimesteps(int n) {
    double[][] tsSig = SigmaSteps.timestepsAndSigmas(trainSigmas, spacing, stepsOffset, karras, n);
    double[] ts = tsSig[0], sig = tsSig[1];
    float[] all = new float[n + 1];
    for (int i = 0; i < n; i++) all[i] = (float) sig[i];
    all[n] = finalSigmaMin ? SigmaSteps.sigmaOf((float) schedule.alphaBar(0)) : 0f;
    this.timesteps = ts;
    this.sigmas = all;
    this.stepIndex = -1;
    return ts.clone();
  }

  /** The σ's of the last {@link #setTimesteps}, one per timestep and the final one. */
  public float[] sigmas() {
    if (sigmas == null) throw new IllegalStateException("call setTimesteps first");
    return sigmas.clone();
  }

  /** The standard deviation of the initial noise: σ_max, or √(σ_max² + 1) for "leading" spacing. */
  @Override
  public double initNoiseSigma() {
    return SigmaSteps.initNoiseSigma(sigmas, spacing);
  }


  /** The network's input at timestep t: x / √(σ² + 1). */
  @Override
  public Tensor scaleModelInput(Tensor sample, double t) {
    return SigmaSteps.scaleInput(sample, sigmas == null ? 0 : sigmas[index(t)]);
  }

  /** One Euler step from the sample at timestep t (a new tensor). Steps go in order. */
  @Override
  public Tensor step(Tensor modelOutput, double t, Tensor sample) {
    int i = index(t);
    float sigma = sigmas[i];
    try (TensorScope s = new TensorScope()) {
      Tensor x0 = SigmaSteps.x0(schedule.prediction(), modelOutput, sample, sigma, s);
      float dt = sigmas[i + 1] - sigma;
      // x + (x − x̂0) / σ · dt, in one native call
      Tensor next = Tensor.linearCombination(new double[] {1 + (double) dt / sigma, -(double) dt / sigma}, sample, x0);
      stepIndex = i + 1;
      return next;
    }
  }

  /** The step index of timestep t: the current one once stepping has begun, else t's place in the list. */
  private int index(double t) {
    if (timesteps == null) throw new IllegalStateException("call setTimesteps first");
    if (stepIndex >= 0 && stepIndex < timesteps.length) return stepIndex;
    int first = -1, count = 0;
    for (int i = 0; i < timesteps.length; i++)
      if (timesteps[i] == (float) t) {
        if (first < 0) first = i;
        if (++count == 2) return i; // diffusers takes the second of repeated timesteps
      }
    if (first < 0) throw new InvalidArgumentException("timestep " + t + " is not one of this schedule's");
    stepIndex = first;
    return first;
  }

}
