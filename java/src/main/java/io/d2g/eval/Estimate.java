package io.d2g.eval;

/**
 * A metric's value on the whole sample with a bootstrap confidence interval: {@code low} and
 * {@code high} are the 2.5th and 97.5th percentiles of the metric over {@code rounds} resamples (rows
 * drawn with replacement, from a generator seeded with {@code seed}, so the interval is reproducible).
 * {@code samples} is the number of rows the value was computed on.
 */
public record Estimate(double value, double low, double high, int samples, int rounds, long seed) {
  @Override
  public String toString() {
    return String.format("%.4g [%.4g, %.4g] (n=%d, 95%% bootstrap of %d)", value, low, high, samples, rounds);
  }
}
