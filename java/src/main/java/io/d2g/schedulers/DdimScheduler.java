package io.d2g.schedulers;

import com.fasterxml.jackson.databind.JsonNode;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.diffusion.Prediction;

/**
 * DDIM (Song et al., 2021) with η = 0: the deterministic ODE sampler, as diffusers' {@code DDIMScheduler}
 * has it (same config keys, timesteps and arithmetic). From x_t and the network's output at t:
 *
 * <pre>
 *   x̂0 = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t          (ε̂ and x̂0 from ε, v or x0 as the schedule predicts)
 *   x_prev = √ᾱ_prev x̂0 + √(1−ᾱ_prev) ε̂,     prev = t − T / n   (ᾱ_prev = final ᾱ below 0)
 * </pre>
 *
 * The coefficients are rounded to float32 as diffusers' float32 tables give them, so that a step on
 * float32 tensors matches diffusers' to float32 rounding. {@code clip_sample} and thresholding are
 * not supported (Stable Diffusion's configs turn both off).
 */
public final class DdimScheduler implements Scheduler {
  private final NoiseSchedule schedule;
  private final TimestepSpacing spacing;
  private final int stepsOffset;
  private final double finalAlphaCumprod;
  private int numInferenceSteps;
  private int[] timesteps;

  /**
   * setAlphaToOne: ᾱ below timestep 0 is 1 (else ᾱ_0); stepsOffset: added to "leading" timesteps
   * (Stable Diffusion: 1).
   */
  public DdimScheduler(NoiseSchedule schedule, TimestepSpacing spacing, boolean setAlphaToOne, int stepsOffset) {
    TimestepSpacing.checkOffset(stepsOffset, schedule.numTrainTimesteps());
    this.schedule = schedule;
    this.spacing = spacing;
    this.stepsOffset = stepsOffset;
    this.finalAlphaCumprod = setAlphaToOne ? 1.0 : schedule.alphaBar(0);
  }

  /** From a diffusers scheduler_config.json (its schedule, spacing, set_alpha_to_one, steps_offset). */
  public static DdimScheduler fromConfig(JsonNode c) {
    NoiseSchedule schedule = NoiseSchedule.fromConfig(c);
    if (c.path("clip_sample").asBoolean(true) || c.path("thresholding").asBoolean(false))
      throw new InvalidArgumentException("DDIM with clip_sample or thresholding is not supported (set both false, "
          + "as Stable Diffusion's configs do)");
    if (c.path("rescale_betas_zero_snr").asBoolean(false))
      throw new InvalidArgumentException("rescale_betas_zero_snr is not supported yet");
    TimestepSpacing spacing = TimestepSpacing.fromConfig(c, TimestepSpacing.LEADING);
    return new DdimScheduler(schedule, spacing, c.path("set_alpha_to_one").asBoolean(true), c.path("steps_offset").asInt(0));
  }

  @Override
  public NoiseSchedule schedule() {
    return schedule;
  }

  /** Chooses {@code n} timesteps (1 to T) and returns them, highest first. */
  @Override
  public double[] setTimesteps(int n) {
    int train = schedule.numTrainTimesteps();
    if (n < 1 || n > train) throw new InvalidArgumentException("num_inference_steps must be 1 to " + train + ", not " + n);
    int[] ts = new int[n];
    switch (spacing) {
      case LINSPACE -> {
        double step = n == 1 ? 0 : (double) (train - 1) / (n - 1); // numpy.linspace: i * step, the last exact
        for (int i = 0; i < n; i++) ts[n - 1 - i] = (int) Math.rint(i == n - 1 && n > 1 ? train - 1 : i * step);
      }
      case LEADING -> {
        int ratio = train / n;
        for (int i = 0; i < n; i++) ts[n - 1 - i] = i * ratio + stepsOffset;
      }
      case TRAILING -> {
        double ratio = (double) train / n;
        for (int i = 0; i < n; i++) ts[i] = (int) Math.rint(train - i * ratio) - 1;
      }
    }
    for (int t : ts)
      if (t < 0 || t >= train) throw new InvalidArgumentException("timestep " + t + " outside 0.." + (train - 1)
          + " (steps_offset too large for " + n + " steps?)");
    this.numInferenceSteps = n;
    this.timesteps = ts;
    return java.util.Arrays.stream(ts).asDoubleStream().toArray();
  }

  /** The timesteps of the last {@link #setTimesteps}. */
  public int[] timesteps() {
    if (timesteps == null) throw new IllegalStateException("call setTimesteps first");
    return timesteps.clone();
  }

  /** 1: DDIM starts from unscaled noise. */
  @Override
  public double initNoiseSigma() {
    return 1.0;
  }

  /** The network's input at t (DDIM does not scale it). */
  @Override
  public Tensor scaleModelInput(Tensor sample, double t) {
    return sample;
  }

  /** One step from x_t to x_prev (a new tensor); inputs are left as they are. t is a whole timestep. */
  @Override
  public Tensor step(Tensor modelOutput, double timestep, Tensor sample) {
    double[] c = coefficients(timestep);
    return Tensor.linearCombination(c, sample, modelOutput); // one native call
  }

  /** Every DDIM step is x_prev = cx x_t + cm output, with no input scaling. */
  @Override
  public double[][] linearSteps() {
    if (timesteps == null) throw new IllegalStateException("call setTimesteps first");
    double[][] steps = new double[timesteps.length][];
    for (int i = 0; i < timesteps.length; i++) {
      double[] c = coefficients(timesteps[i]);
      steps[i] = new double[] {timesteps[i], 1.0, c[0], c[1]};
    }
    return steps;
  }

  /** {cx, cm} of x_prev = cx x_t + cm output at timestep t. */
  private double[] coefficients(double timestep) {
    if (timesteps == null) throw new IllegalStateException("call setTimesteps first");
    int t = wholeTimestep(timestep, schedule.numTrainTimesteps());
    int prev = t - schedule.numTrainTimesteps() / numInferenceSteps;
    float a = (float) schedule.alphaBar(t);
    float aPrev = prev >= 0 ? (float) schedule.alphaBar(prev) : (float) finalAlphaCumprod;
    double sa = f32sqrt(a), sb = f32sqrt(1f - a), ca = f32sqrt(aPrev), cb = f32sqrt(1f - aPrev);
    // x_prev = √ᾱ_prev x̂0 + √(1 − ᾱ_prev) ε̂, with x̂0 and ε̂ linear in (x_t, output)
    return switch (schedule.prediction()) {
      case EPSILON -> // x̂0 = (x_t − √(1−ᾱ) out) / √ᾱ, ε̂ = out
          new double[] {ca / sa, cb - ca * sb / sa};
      case SAMPLE -> // x̂0 = out, ε̂ = (x_t − √ᾱ out) / √(1−ᾱ)
          new double[] {cb / sb, ca - cb * sa / sb};
      case V_PREDICTION -> // x̂0 = √ᾱ x_t − √(1−ᾱ) out, ε̂ = √ᾱ out + √(1−ᾱ) x_t
          new double[] {ca * sa + cb * sb, cb * sa - ca * sb};
    };
  }

  /** t as a training timestep index, checked. */
  static int wholeTimestep(double t, int train) {
    if (t != Math.rint(t) || t < 0 || t >= train)
      throw new InvalidArgumentException("timestep " + t + " is not a whole timestep in 0.." + (train - 1));
    return (int) t;
  }

  /** The correctly rounded float32 square root (what a float32 tensor's pow(0.5) gives). */
  static float f32sqrt(float x) {
    return (float) Math.sqrt(x);
  }
}
