package io.d2g.train;

import io.d2g.InvalidArgumentException;

/**
 * A learning-rate schedule: the factor each group's base rate is multiplied by at a step (0-based),
 * as torch's LambdaLR applies it. Pass it to {@link Optimizer#setLrFactor} before each step.
 */
@FunctionalInterface
public interface LrSchedule {
  double factor(long step);

  /** 1 at every step. */
  static LrSchedule constant() {
    return step -> 1;
  }

  /** Linear warm-up from 1/(warmup+1) to 1 over {@code warmup} steps, then 1. */
  static LrSchedule warmup(long warmup) {
    if (warmup < 0) throw new InvalidArgumentException("warmup must be >= 0, not " + warmup);
    return step -> step < warmup ? (step + 1.0) / (warmup + 1.0) : 1;
  }

  /**
   * Linear warm-up over {@code warmup} steps, then a half cosine from 1 down to {@code minFactor} at
   * step {@code total} (and {@code minFactor} after).
   */
  static LrSchedule warmupCosine(long warmup, long total, double minFactor) {
    if (warmup < 0 || total <= warmup)
      throw new InvalidArgumentException("need 0 <= warmup < total, not warmup " + warmup + ", total " + total);
    if (!(minFactor >= 0 && minFactor <= 1)) throw new InvalidArgumentException("minFactor must be in [0, 1]");
    return step -> {
      if (step < warmup) return (step + 1.0) / (warmup + 1.0);
      if (step >= total) return minFactor;
      double progress = (double) (step - warmup) / (total - warmup);
      return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * progress));
    };
  }
}
