package io.d2g.examples;

import io.d2g.D2g;
import io.d2g.Device;
import java.util.Arrays;

/** The benchmarks' one timing loop: warm-ups, then timed runs on the host clock, the device synchronised after each. */
final class Timing {
  private Timing() {}

  /** Milliseconds of each of {@code runs} runs of {@code step} after {@code warmup} untimed ones, sorted ascending. */
  static double[] sortedMillis(Runnable step, int warmup, int runs, Device device) {
    for (int i = 0; i < warmup; i++) step.run();
    D2g.synchronize(device);
    double[] ms = new double[runs];
    for (int i = 0; i < runs; i++) {
      long t0 = System.nanoTime();
      step.run();
      D2g.synchronize(device);
      ms[i] = (System.nanoTime() - t0) / 1e6;
    }
    Arrays.sort(ms);
    return ms;
  }

  /** The median of sorted values (the mean of the middle two for an even count). */
  static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
