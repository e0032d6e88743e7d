package io.d2g.schedulers;

import com.fasterxml.jackson.databind.JsonNode;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.diffusion.NoiseSchedule;

/**
 * DPM-Solver++(2M) (Lu et al., 2022): a second-order multistep solver of the diffusion ODE in
 * λ = log(α/σ) on the data prediction x̂0, as diffusers' {@code DPMSolverMultistepScheduler} has it
 * with {@code algorithm_type="dpmsolver++"} and {@code solver_type="midpoint"} (its defaults). With
 * α_t = 1/√(σ_t² + 1), σ'_t = σ_t α_t and h = λ_next − λ_t:
 *
 * <pre>
 *   first order:  x_next = (σ'_next/σ'_t) x − α_next (e^{−h} − 1) x̂0_t
 *   second order: x_next = (σ'_next/σ'_t) x − α_next (e^{−h} − 1) (D0 + D1/2),
 *                 D0 = x̂0_t, D1 = (x̂0_t − x̂0_prev) h / (λ_t − λ_prev)
 * </pre>
 *
 * The first step, and the last (always, when the final σ is 0; with {@code lower_order_final} below
 * 15 steps also the one before), are first order. Timesteps "linspace", "leading" or "trailing"
 * (one more than asked, the lowest dropped) or from Karras's σ's between the training schedule's
 * σ_max and σ_min ({@code use_karras_sigmas}, rounded to whole timesteps). solver_order 1 or 2.
 */
public final class DpmSolverMultistepScheduler implements Scheduler {
  private final NoiseSchedule schedule;
  private final TimestepSpacing spacing;
  private final int stepsOffset, order;
  private final boolean karras, lowerOrderFinal, eulerAtFinal, finalSigmaMin;
  private final float[] trainSigmas;
  private int[] timesteps;
  private float[] sigmas;
  private int stepIndex = -1, lowerOrderNums;
  private Tensor previousX0;

  public DpmSolverMultistepScheduler(NoiseSchedule schedule, TimestepSpacing spacing, int stepsOffset, int order,
      boolean karras, boolean lowerOrderFinal, boolean eulerAtFinal, boolean finalSigmaMin) {
    if (order != 1 && order != 2) throw new InvalidArgumentException("solver_order must be 1 or 2, not " + order);
    TimestepSpacing.checkOffset(stepsOffset, schedule.numTrainTimesteps());
    this.schedule = schedule;
    this.spacing = spacing;
    this.stepsOffset = stepsOffset;
    this.order = order;
    this.karras = karras;
    this.lowerOrderFinal = lowerOrderFinal;
    this.eulerAtFinal = eulerAtFinal;
    this.finalSigmaMin = finalSigmaMin;
    trainSigmas = new float[schedule.numTrainTimesteps()];
    for (int i = 0; i < trainSigmas.length; i++) trainSigmas[i] = SigmaSteps.sigmaOf((float) schedule.alphaBar(i));
  }

  /** From a diffusers scheduler_config.json; the options this class does not implement are refused. */
  public static DpmSolverMultistepScheduler fromConfig(JsonNode c) {
    NoiseSchedule schedule = NoiseSchedule.fromConfig(c);
    if (!c.path("algorithm_type").asText("dpmsolver++").equals("dpmsolver++"))
      throw new InvalidArgumentException("algorithm_type must be dpmsolver++, not " + c.path("algorithm_type"));
    if (!c.path("solver_type").asText("midpoint").equals("midpoint"))
      throw new InvalidArgumentException("solver_type must be midpoint, not " + c.path("solver_type"));
    for (String unsupported : new String[] {"thresholding", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas",
        "use_flow_sigmas", "rescale_betas_zero_snr", "use_dynamic_shifting"})
      if (c.path(unsupported).asBoolean(false)) throw new InvalidArgumentException(unsupported + " is not supported");
    if (c.hasNonNull("variance_type")) throw new InvalidArgumentException("variance_type is not supported");
    if (c.hasNonNull("lambda_min_clipped") && c.path("lambda_min_clipped").isNumber())
      throw new InvalidArgumentException("lambda_min_clipped is not supported");
    String last = c.path("final_sigmas_type").asText("zero");
    if (!last.equals("zero") && !last.equals("sigma_min"))
      throw new InvalidArgumentException("final_sigmas_type must be zero or sigma_min, not " + last);
    TimestepSpacing spacing = TimestepSpacing.fromConfig(c, TimestepSpacing.LINSPACE);
    return new DpmSolverMultistepScheduler(schedule, spacing, c.path("steps_offset").asInt(0),
        c.path("solver_order").asInt(2), c.path("use_karras_sigmas").asBoolean(false),
        c.path("lower_order_final").asBoolean(true), c.path("euler_at_final").asBoolean(false), last.equals("sigma_min"));
  }

  @Override
  public NoiseSchedule schedule() {
    return schedule;
  }

  /** Chooses {@code n} timesteps, highest first, and their σ's. */
  @Override
  public double[] setTimesteps(int n) {
    int train = schedule.numTrainTimesteps();
    if (n < 1 || n >= train) throw new InvalidArgumentException("num_inference_steps must be 1 to " + (train - 1) + ", not " + n);
    int[] ts = new int[n];
    switch (spacing) {
      case LINSPACE -> { // n + 1 points over 0..T-1, the lowest dropped
        double step = (double) (train - 1) / n;
        for (int i = 1; i <= n; i++) ts[n - i] = (int) Math.rint(i == n ? train - 1 : i * step);
      }
      case LEADING -> {
        int ratio = train / (n + 1);
        for (int i = 1; i <= n; i++) ts[n - i] = i * ratio + stepsOffset;
      }
      case TRAILING -> {
        double ratio = (double) train / n;
        for (int i = 0; i < n; i++) ts[i] = (int) Math.rint(train - i * ratio) - 1;
      }
    }
    float[] sig = new float[n + 1];
    if (karras) { // between the whole training schedule's σ_max and σ_min
      double min = trainSigmas[0], max = trainSigmas[train - 1], rho = 7;
      double minInv = Math.pow(min, 1 / rho), maxInv = Math.pow(max, 1 / rho);
      for (int i = 0; i < n; i++) {
        double s = Math.pow(maxInv + SigmaSteps.ramp(i, n) * (minInv - maxInv), rho);
        sig[i] = (float) s;
        ts[i] = (int) Math.rint(SigmaSteps.sigmaToT(trainSigmas, s));
      }
    } else {
      for (int i = 0; i < n; i++) sig[i] = (float) SigmaSteps.interp(trainSigmas, ts[i]);
    }
    sig[n] = finalSigmaMin ? trainSigmas[0] : 0f;
    for (int t : ts)
      if (t < 0 || t >= train) throw new InvalidArgumentException("timestep " + t + " outside 0.." + (train - 1)
          + " (steps_offset too large for " + n + " steps?)");
    timesteps = ts;
    sigmas = sig;
    reset();
    return java.util.Arrays.stream(ts).asDoubleStream().toArray();
  }

  /** The σ's of the last {@link #setTimesteps}, one per timestep and the final one. */
  public float[] sigmas() {
    if (sigmas == null) throw new IllegalStateException("call setTimesteps first");
    return sigmas.clone();
  }

  /** The initial noise's standard deviation: 1. */
  @Override
  public double initNoiseSigma() {
    return 1.0;
  }

  /** The network's input (not scaled). */
  @Override
  public Tensor scaleModelInput(Tensor sample, double t) {
    return sample;
  }

  /** One step from the network's output at timestep t (a new tensor). Steps go in order. */
  @Override
  public Tensor step(Tensor modelOutput, double t, Tensor sample) {
    int i = index(DdimScheduler.wholeTimestep(t, schedule.numTrainTimesteps()));
    int n = timesteps.length;
    boolean firstOrderFinal = i == n - 1 && (eulerAtFinal || (lowerOrderFinal && n < 15) || !finalSigmaMin);
    float sigma = sigmas[i];
    float alpha = alphaOf(sigma), sigmaT = sigma * alpha;
    Tensor x0;
    try (TensorScope s = new TensorScope()) {
      x0 = switch (schedule.prediction()) {
        case EPSILON -> s.track(sample.sub(s.track(modelOutput.mul(sigmaT)))).div(alpha);
        case SAMPLE -> modelOutput.detach();
        case V_PREDICTION -> s.track(sample.mul(alpha)).sub(s.track(modelOutput.mul(sigmaT)));
      };
    }
    Tensor next;
    try (TensorScope s = new TensorScope()) {
      float sNext = sigmas[i + 1], aNext = alphaOf(sNext), sigNext = sNext * aNext;
      float lambdaNext = lambda(aNext, sigNext), lambdaNow = lambda(alpha, sigmaT);
      float h = lambdaNext - lambdaNow;
      float coef = aNext * ((float) Math.exp(-h) - 1f);
      double scale = sigNext / sigmaT;
      if (order == 1 || lowerOrderNums < 1 || firstOrderFinal) { // (σ_next/σ) x − coef x̂0
        next = Tensor.linearCombination(new double[] {scale, -coef}, sample, x0);
      } else { // ... − ½ coef D1, D1 = (x̂0 − x̂0_prev) / r0
        float sPrev = sigmas[i - 1], aPrev = alphaOf(sPrev), sigPrev = sPrev * aPrev;
        float h0 = lambdaNow - lambda(aPrev, sigPrev);
        double half = 0.5 * coef / (h0 / h);
        next = Tensor.linearCombination(new double[] {scale, -coef - half, half}, sample, x0, previousX0);
      }
    }
    if (previousX0 != null) previousX0.close();
    previousX0 = x0;
    if (lowerOrderNums < order) lowerOrderNums++;
    stepIndex = i + 1;
    return next;
  }

  private static float alphaOf(float sigma) {
    return 1f / (float) Math.sqrt(sigma * sigma + 1f);
  }

  private static float lambda(float alpha, float sigma) {
    return (float) Math.log(alpha) - (float) Math.log(sigma);
  }

  private void reset() {
    if (previousX0 != null) previousX0.close();
    previousX0 = null;
    lowerOrderNums = 0;
    stepIndex = -1;
  }

  private int index(int t) {
    if (timesteps == null) throw new IllegalStateException("call setTimesteps first");
    if (stepIndex >= 0 && stepIndex < timesteps.length) return stepIndex;
    int first = -1, count = 0;
    for (int i = 0; i < timesteps.length; i++)
      if (timesteps[i] == t) {
        if (first < 0) first = i;
        if (++count == 2) return stepIndex = i;
      }
    if (first < 0) throw new InvalidArgumentException("timestep " + t + " is not one of this schedule's");
    return stepIndex = first;
  }
}
