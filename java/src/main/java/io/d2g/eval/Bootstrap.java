package io.d2g.eval;

import io.d2g.InvalidArgumentException;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Percentile bootstrap: a statistic of n rows recomputed on {@code rounds} resamples of n rows drawn
 * with replacement. Reproducible: the resamples come from a {@link SplittableRandom} seeded with the
 * given seed, in order.
 */
public final class Bootstrap {
  private Bootstrap() {}

  /** A statistic of the rows at the given indices (indices may repeat). */
  @FunctionalInterface
  public interface Statistic {
    double of(int[] indices);
  }

  /** A statistic of two independent samples, each resampled on its own. */
  @FunctionalInterface
  public interface TwoSampleStatistic {
    double of(int[] indicesA, int[] indicesB);
  }

  /** The statistic on all n rows with the 95% percentile interval over {@code rounds} resamples. */
  public static Estimate estimate(int n, int rounds, long seed, Statistic statistic) {
    check(n, rounds);
    double[] values = new double[rounds];
    SplittableRandom random = new SplittableRandom(seed);
    for (int r = 0; r < rounds; r++) values[r] = statistic.of(resample(n, random));
    return finish(statistic.of(identity(n)), values, n, rounds, seed);
  }

  /** As {@link #estimate}, for a statistic of two samples (e.g. a distance between distributions). */
  public static Estimate estimate(int nA, int nB, int rounds, long seed, TwoSampleStatistic statistic) {
    return twoSample(nA, nB, rounds, seed, statistic, false);
  }

  /**
   * As the two-sample {@link #estimate}, with the interval shifted by the bootstrap's bias (the median
   * of the resampled statistics minus the statistic), for statistics that resampling with
   * replacement inflates (duplicated rows shrink a sample's spread, so FD grows): the interval is
   * then placed around the statistic as the resampled values lie around their median.
   */
  public static Estimate estimateBiasCorrected(int nA, int nB, int rounds, long seed, TwoSampleStatistic statistic) {
    return twoSample(nA, nB, rounds, seed, statistic, true);
  }

  private static Estimate twoSample(int nA, int nB, int rounds, long seed, TwoSampleStatistic statistic,
      boolean biasCorrected) {
    check(Math.min(nA, nB), rounds);
    double[] values = new double[rounds];
    SplittableRandom random = new SplittableRandom(seed);
    for (int r = 0; r < rounds; r++) values[r] = statistic.of(resample(nA, random), resample(nB, random));
    double value = statistic.of(identity(nA), identity(nB));
    Arrays.sort(values);
    double shift = biasCorrected ? percentile(values, 0.5) - value : 0;
    return new Estimate(value, percentile(values, 0.025) - shift, percentile(values, 0.975) - shift, Math.min(nA, nB),
        rounds, seed);
  }

  private static void check(int n, int rounds) {
    if (n < 2) throw new InvalidArgumentException("a bootstrap needs at least 2 samples, got " + n);
    if (rounds < 10) throw new InvalidArgumentException("a bootstrap needs at least 10 rounds, got " + rounds);
  }

  private static Estimate finish(double value, double[] values, int n, int rounds, long seed) {
    Arrays.sort(values);
    return new Estimate(value, percentile(values, 0.025), percentile(values, 0.975), n, rounds, seed);
  }

  /** Linear interpolation between the closest ranks of sorted values. */
  static double percentile(double[] sorted, double q) {
    double pos = q * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
  }

  private static int[] resample(int n, SplittableRandom random) {
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) idx[i] = random.nextInt(n);
    return idx;
  }

  private static int[] identity(int n) {
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) idx[i] = i;
    return idx;
  }
}
