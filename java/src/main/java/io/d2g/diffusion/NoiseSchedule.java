package io.d2g.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.InvalidArgumentException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The diffusion noise schedule of a diffusers scheduler config: β_t for t = 0..T-1, ᾱ_t = Π(1-β_s),
 * and what the network predicts. x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε.
 */
public final class NoiseSchedule {
  private final double[] alphasCumprod;
  private final Prediction prediction;

  public NoiseSchedule(double[] betas, Prediction prediction) {
    if (betas.length == 0) throw new InvalidArgumentException("a noise schedule needs at least one step");
    this.alphasCumprod = new double[betas.length];
    double a = 1;
    for (int i = 0; i < betas.length; i++) {
      if (!(betas[i] > 0 && betas[i] < 1)) throw new InvalidArgumentException("beta[" + i + "] = " + betas[i] + " is outside (0, 1)");
      a *= 1 - betas[i];
      alphasCumprod[i] = a;
    }
    this.prediction = prediction;
  }

  private NoiseSchedule(Prediction prediction, double[] alphasCumprod) {
    this.alphasCumprod = alphasCumprod;
    this.prediction = prediction;
  }

  /**
   * A schedule given by its table ᾱ_0..ᾱ_{T-1} (each in (0, 1], non-increasing), e.g. a reference
   * scheduler's own float32 table.
   */
  public static NoiseSchedule ofAlphasCumprod(double[] alphasCumprod, Prediction prediction) {
    if (alphasCumprod.length == 0 || alphasCumprod.length > MAX_TIMESTEPS)
      throw new InvalidArgumentException("a noise schedule needs 1 to " + MAX_TIMESTEPS + " steps");
    for (int i = 0; i < alphasCumprod.length; i++)
      if (!(alphasCumprod[i] > 0 && alphasCumprod[i] <= 1) || (i > 0 && alphasCumprod[i] > alphasCumprod[i - 1]))
        throw new InvalidArgumentException("alphas_cumprod[" + i + "] = " + alphasCumprod[i]
            + " is outside (0, 1] or larger than the one before");
    return new NoiseSchedule(prediction, alphasCumprod.clone());
  }

  /** The most training timesteps a schedule may have (diffusers' schedulers use 1000). */
  public static final int MAX_TIMESTEPS = 100_000;

  /**
   * From the keys of a diffusers scheduler_config.json (num_train_timesteps, beta_start, beta_end,
   * beta_schedule, prediction_type), each checked for type and range.
   */
  public static NoiseSchedule fromConfig(JsonNode c) {
    if (c == null || !c.isObject()) throw new InvalidArgumentException("a scheduler config is a JSON object");
    JsonNode steps = c.path("num_train_timesteps");
    int n = 1000;
    if (!steps.isMissingNode() && !steps.isNull()) {
      if (!steps.isIntegralNumber() || !steps.canConvertToInt() || steps.intValue() < 1 || steps.intValue() > MAX_TIMESTEPS)
        throw new InvalidArgumentException("scheduler config: num_train_timesteps must be an integer from 1 to "
            + MAX_TIMESTEPS + ", not " + steps);
      n = steps.intValue();
    }
    double b0 = beta(c, "beta_start", 0.0001), b1 = beta(c, "beta_end", 0.02);
    String kind = c.path("beta_schedule").asText("linear");
    double[] betas = new double[n];
    switch (kind) {
      case "linear" -> {
        for (int i = 0; i < n; i++) betas[i] = b0 + (b1 - b0) * i / Math.max(1, n - 1);
      }
      case "scaled_linear" -> {
        double s0 = Math.sqrt(b0), s1 = Math.sqrt(b1);
        for (int i = 0; i < n; i++) {
          double s = s0 + (s1 - s0) * i / Math.max(1, n - 1);
          betas[i] = s * s;
        }
      }
      case "squaredcos_cap_v2" -> {
        for (int i = 0; i < n; i++) {
          double t1 = (double) i / n, t2 = (double) (i + 1) / n;
          betas[i] = Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), 0.999);
        }
      }
      default -> throw new InvalidArgumentException("unsupported beta_schedule '" + kind
          + "' (linear, scaled_linear or squaredcos_cap_v2)");
    }
    return new NoiseSchedule(betas, Prediction.parse(c.path("prediction_type").asText("epsilon")));
  }

  private static double beta(JsonNode c, String key, double dflt) {
    JsonNode v = c.path(key);
    if (v.isMissingNode() || v.isNull()) return dflt;
    if (!v.isNumber() || !(v.doubleValue() > 0 && v.doubleValue() < 1))
      throw new InvalidArgumentException("scheduler config: " + key + " must be a number in (0, 1), not " + v);
    return v.doubleValue();
  }

  public static NoiseSchedule read(Path schedulerConfig) {
    try {
      return fromConfig(new ObjectMapper().readTree(Files.readString(schedulerConfig)));
    } catch (IOException e) {
      throw new InvalidArgumentException("cannot read scheduler config " + schedulerConfig + ": " + e.getMessage());
    }
  }

  private static double cosineAlphaBar(double t) {
    double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
    return c * c;
  }

  public int numTrainTimesteps() {
    return alphasCumprod.length;
  }

  /** ᾱ_t. */
  public double alphaBar(int t) {
    if (t < 0 || t >= alphasCumprod.length)
      throw new InvalidArgumentException("timestep " + t + " outside 0.." + (alphasCumprod.length - 1));
    return alphasCumprod[t];
  }

  public Prediction prediction() {
    return prediction;
  }
}
