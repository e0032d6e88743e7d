package io.d2g.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.InvalidArgumentException;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The Fréchet distance against values computed by hand, and its bootstrap interval. */
class FrechetDistanceTest {
  @Test
  void diagonalGaussiansMatchTheClosedForm() {
    // |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2 for diagonal covariances a, b
    double fd = FrechetDistance.ofMoments(new double[] {0, 1, 2}, diag(1, 4, 9), new double[] {1, 1, 0}, diag(4, 1, 9));
    assertEquals(1 + 0 + 4 + 1 + 1 + 0, fd, 1e-12);
  }

  @Test
  void nonCommutingCovariancesMatchTheTwoByTwoFormula() {
    // tr((S1 S2)^(1/2)) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)) for 2x2 matrices with positive eigenvalues:
    // S1 S2 = [[2, 3], [1, 6]] (trace 8), det S1 = det S2 = 3, so the trace of the root is sqrt(14).
    double[][] s1 = {{2, 1}, {1, 2}}, s2 = {{1, 0}, {0, 3}};
    double fd = FrechetDistance.ofMoments(new double[] {0, 0}, s1, new double[] {1, 2}, s2);
    assertEquals(5 + 4 + 4 - 2 * Math.sqrt(14), fd, 1e-12);
  }

  @Test
  void sampledGaussiansApproachTheirPopulationDistance() {
    SplittableRandom r = new SplittableRandom(7);
    double[] sdA = {1, 2, 0.5, 1.5}, sdB = {1.5, 1, 0.5, 3};
    double[] muA = {0, 0, 1, -1}, muB = {0.5, 0, 0, -1};
    Embeddings a = gaussian(r, 40_000, muA, sdA), b = gaussian(r, 40_000, muB, sdB);
    double expected = 0;
    for (int i = 0; i < 4; i++) expected += Math.pow(muA[i] - muB[i], 2) + Math.pow(sdA[i] - sdB[i], 2);
    assertEquals(expected, FrechetDistance.between(a, b), 0.03 * expected);
  }

  @Test
  void aSetIsAtDistanceZeroFromItselfAndTheDistanceIsSymmetric() {
    SplittableRandom r = new SplittableRandom(3);
    Embeddings a = gaussian(r, 200, new double[8], ones(8)), b = gaussian(r, 300, new double[8], ones(8));
    assertEquals(0, FrechetDistance.between(a, a), 1e-9);
    assertEquals(FrechetDistance.between(a, b), FrechetDistance.between(b, a), 1e-9);
  }

  @Test
  void tooFewSamplesAreRefusedWithTheMinimum() {
    SplittableRandom r = new SplittableRandom(1);
    Embeddings a = gaussian(r, 31, new double[16], ones(16)), b = gaussian(r, 64, new double[16], ones(16));
    InsufficientSamplesException e = assertThrows(InsufficientSamplesException.class, () -> FrechetDistance.between(a, b));
    assertEquals(32, e.minimum());
    assertTrue(e.getMessage().contains("at least 32 samples"), e.getMessage());
    Embeddings other = gaussian(r, 64, new double[8], ones(8));
    assertThrows(InvalidArgumentException.class, () -> FrechetDistance.between(b, other));
  }

  @Test
  void theBootstrapIntervalIsReproducibleAndHoldsTheValue() {
    SplittableRandom r = new SplittableRandom(5);
    Embeddings a = gaussian(r, 100, new double[4], ones(4)), b = gaussian(r, 120, new double[] {1, 0, 0, 0}, ones(4));
    Estimate e1 = FrechetDistance.withInterval(a, b, 200, 42), e2 = FrechetDistance.withInterval(a, b, 200, 42);
    assertEquals(e1, e2);
    assertEquals(FrechetDistance.between(a, b), e1.value(), 0);
    assertTrue(e1.low() < e1.value() && e1.value() < e1.high(), e1.toString());
    assertNotEquals(e1.low(), FrechetDistance.withInterval(a, b, 200, 43).low());
  }

  @Test
  void theIntervalIsCorrectedForTheInflationResamplingCauses() {
    // two samples of one distribution: FD is near 0, and resampling with replacement inflates it, so a
    // plain percentile interval would lie wholly above the value; the corrected one holds it
    SplittableRandom r = new SplittableRandom(9);
    Embeddings a = gaussian(r, 300, new double[32], ones(32)), b = gaussian(r, 300, new double[32], ones(32));
    Estimate plain = Bootstrap.estimate(300, 300, 200, 1, (ia, ib) -> FrechetDistance.between(a.select(ia), b.select(ib)));
    Estimate corrected = FrechetDistance.withInterval(a, b, 200, 1);
    assertTrue(plain.low() > plain.value(), "the plain interval " + plain + " lies above the value");
    assertTrue(corrected.low() < corrected.value() && corrected.value() < corrected.high(), corrected.toString());
    assertEquals(plain.high() - plain.low(), corrected.high() - corrected.low(), 1e-9);
  }

  static Embeddings gaussian(SplittableRandom r, int n, double[] mean, double[] sd) {
    float[] data = new float[n * mean.length];
    for (int i = 0; i < n; i++)
      for (int c = 0; c < mean.length; c++) data[i * mean.length + c] = (float) (mean[c] + sd[c] * gauss(r));
    return Embeddings.of(n, mean.length, data);
  }

  private static double gauss(SplittableRandom r) {
    return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
  }

  private static double[] ones(int d) {
    double[] o = new double[d];
    java.util.Arrays.fill(o, 1);
    return o;
  }

  private static double[][] diag(double... v) {
    double[][] m = new double[v.length][v.length];
    for (int i = 0; i < v.length; i++) m[i][i] = v[i];
    return m;
  }
}
