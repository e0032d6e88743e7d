package io.d2g.diffusion;

import io.d2g.InvalidArgumentException;

/** What a diffusion UNet predicts (diffusers' {@code prediction_type}). */
public enum Prediction {
  /** The noise ε ("epsilon"). */
  EPSILON("epsilon"),
  /** v = √ᾱ ε − √(1−ᾱ) x0 ("v_prediction"). */
  V_PREDICTION("v_prediction"),
  /** The clean sample x0 ("sample"); Diffusion2GAN's generator predicts this. */
  SAMPLE("sample");

  private final String configName;

  Prediction(String configName) {
    this.configName = configName;
  }

  /** The name in a scheduler config. */
  public String configName() {
    return configName;
  }

  /** Parses a scheduler config's prediction_type. */
  public static Prediction parse(String s) {
    for (Prediction p : values()) if (p.configName.equals(s)) return p;
    throw new InvalidArgumentException("prediction_type '" + s + "' is not one of epsilon, v_prediction, sample");
  }
}
