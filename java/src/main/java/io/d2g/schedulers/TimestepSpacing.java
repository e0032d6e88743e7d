package io.d2g.schedulers;

import com.fasterxml.jackson.databind.JsonNode;
import io.d2g.InvalidArgumentException;

/** How a scheduler spreads its inference timesteps over the training ones (diffusers' {@code timestep_spacing}). */
public enum TimestepSpacing {
  /** 0, T/n, 2T/n, ... plus steps_offset (Stable Diffusion 1.x's DDIM). */
  LEADING,
  /** T−1, T−1−T/n, ...: always starts at the last training timestep. */
  TRAILING,
  /** Evenly from 0 to T−1, rounded. */
  LINSPACE;

  /** The config's {@code timestep_spacing}, or {@code dflt} when absent. */
  static TimestepSpacing fromConfig(JsonNode c, TimestepSpacing dflt) {
    JsonNode v = c.path("timestep_spacing");
    if (v.isMissingNode() || v.isNull()) return dflt;
    return switch (v.asText()) {
      case "leading" -> LEADING;
      case "trailing" -> TRAILING;
      case "linspace" -> LINSPACE;
      default -> throw new InvalidArgumentException("timestep_spacing must be leading, trailing or linspace, not " + v);
    };
  }

  /** A steps_offset that leaves room for timestep 0..T−1. */
  static int checkOffset(int stepsOffset, int train) {
    if (stepsOffset < 0 || stepsOffset >= train)
      throw new InvalidArgumentException("steps_offset must be 0 to " + (train - 1) + ", not " + stepsOffset);
    return stepsOffset;
  }
}
