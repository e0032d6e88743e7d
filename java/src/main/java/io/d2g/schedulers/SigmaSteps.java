package io.d2g.schedulers;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.diffusion.Prediction;

/**
 * The timesteps and σ's of the σ-parameterised samplers (Euler, Heun), as diffusers computes them:
 * timesteps spaced over the training steps, σ interpolated linearly between training timesteps, or
 * Karras's σ's (ρ = 7) between the same σ_max and σ_min with their fractional timesteps.
 */
final class SigmaSteps {
  private SigmaSteps() {}

  /** numpy.linspace(0, 1, n)[i]: i · (1/(n−1)), the last exactly 1. */
  static double ramp(int i, int n) {
    if (n == 1) return 0;
    return i == n - 1 ? 1.0 : i * (1.0 / (n - 1));
  }

  /** σ of ᾱ in float32: √((1 − ᾱ)/ᾱ). */
  static float sigmaOf(float alphaBar) {
    return (float) Math.sqrt((1f - alphaBar) / alphaBar);
  }

  /** {timesteps, σ's} of n steps, highest first; timesteps rounded to float32 as diffusers holds them. */
  static double[][] timestepsAndSigmas(float[] trainSigmas, TimestepSpacing spacing, int stepsOffset, boolean karras,
      int n) {
    int train = trainSigmas.length;
    if (n < 1 || n > train) throw new InvalidArgumentException("num_inference_steps must be 1 to " + train + ", not " + n);
    double[] ts = new double[n];
    switch (spacing) {
      case LINSPACE -> {
        double step = n == 1 ? 0 : (double) (train - 1) / (n - 1);
        for (int i = 0; i < n; i++) ts[n - 1 - i] = (float) (i == n - 1 && n > 1 ? train - 1 : i * step);
      }
      case LEADING -> {
        int ratio = train / n;
        for (int i = 0; i < n; i++) ts[n - 1 - i] = (float) (i * ratio) + stepsOffset;
      }
      case TRAILING -> {
        double ratio = (double) train / n;
        for (int i = 0; i < n; i++) ts[i] = (float) Math.rint(train - i * ratio) - 1;
      }
    }
    double[] sig = new double[n];
    for (int i = 0; i < n; i++) sig[i] = interp(trainSigmas, ts[i]);
    if (karras) {
      double min = sig[n - 1], max = sig[0], rho = 7;
      double minInv = Math.pow(min, 1 / rho), maxInv = Math.pow(max, 1 / rho);
      for (int i = 0; i < n; i++) {
        sig[i] = Math.pow(maxInv + ramp(i, n) * (minInv - maxInv), rho);
        ts[i] = (float) sigmaToT(trainSigmas, sig[i]);
      }
    }
    for (double t : ts)
      if (t < 0 || t > train - 1) throw new InvalidArgumentException("timestep " + t + " outside 0.." + (train - 1)
          + " (steps_offset too large for " + n + " steps?)");
    return new double[][] {ts, sig};
  }

  /** σ at a (fractional) training timestep, linear between neighbours (numpy.interp). */
  static double interp(float[] trainSigmas, double t) {
    int n = trainSigmas.length;
    if (t <= 0) return trainSigmas[0];
    if (t >= n - 1) return trainSigmas[n - 1];
    int j = (int) Math.floor(t);
    double slope = (double) trainSigmas[j + 1] - trainSigmas[j];
    return slope * (t - j) + trainSigmas[j];
  }

  /** The fractional timestep of σ, interpolating log σ between training timesteps (diffusers' _sigma_to_t). */
  static double sigmaToT(float[] trainSigmas, double sigma) {
    double logSigma = Math.log(Math.max(sigma, 1e-10));
    int n = trainSigmas.length, low = 0;
    for (int i = 0; i < n; i++) if (logSigma - (float) Math.log(trainSigmas[i]) >= 0) low = i;
    low = Math.min(low, n - 2);
    double lo = (float) Math.log(trainSigmas[low]), hi = (float) Math.log(trainSigmas[low + 1]);
    double w = Math.clamp((lo - logSigma) / (lo - hi), 0, 1);
    return (1 - w) * low + w * (low + 1);
  }

  /** σ_max, or √(σ_max² + 1) for "leading" spacing (diffusers' init_noise_sigma of the σ samplers). */
  static double initNoiseSigma(float[] sigmas, TimestepSpacing spacing) {
    if (sigmas == null) throw new IllegalStateException("call setTimesteps first");
    float max = 0;
    for (float v : sigmas) max = Math.max(max, v);
    return spacing == TimestepSpacing.LEADING ? (float) Math.sqrt(max * max + 1f) : max;
  }

  /** The network's input at σ: x / √(σ² + 1) (a new tensor). */
  static Tensor scaleInput(Tensor sample, float sigma) {
    return sample.div((float) Math.sqrt(sigma * sigma + 1f));
  }

  /** x̂0 from the network's output at σ (ε, v or x0), float32 coefficients as diffusers'; tracked in s. */
  static Tensor x0(Prediction prediction, Tensor modelOutput, Tensor sample, float sigma, TensorScope s) {
    return switch (prediction) {
      case EPSILON -> s.track(sample.sub(s.track(modelOutput.mul(sigma))));
      case SAMPLE -> modelOutput;
      case V_PREDICTION -> {
        float p1 = sigma * sigma + 1f;
        yield s.track(s.track(modelOutput.mul(-sigma / (float) Math.sqrt(p1))).add(s.track(sample.div(p1))));
      }
    };
  }
}
