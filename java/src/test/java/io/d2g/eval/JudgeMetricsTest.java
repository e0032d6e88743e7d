package io.d2g.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.d2g.InvalidArgumentException;
import io.d2g.eval.JudgeMetrics.Interval;
import org.junit.jupiter.api.Test;

/** The judge-space metrics on embeddings small enough to work out by hand. */
class JudgeMetricsTest {
  private static final Interval I = new Interval(100, 0);

  @Test
  void textImageScoreIsTheMeanClampedCosineTimes100() {
    Embeddings images = Embeddings.of(new float[][] {{1, 0}, {0, 2}, {1, 0}});
    Embeddings texts = Embeddings.of(new float[][] {{3, 0}, {1, 1}, {-1, 0}});
    // cos = 1, 1/sqrt(2), -1 (clamped to 0)
    assertEquals((100 + 100 / Math.sqrt(2) + 0) / 3, JudgeMetrics.textImageScore(images, texts, I).value(), 1e-9);
  }

  @Test
  void retrievalCountsTheTrueCandidateAmongTheTopK() {
    Embeddings candidates = Embeddings.of(new float[][] {{1, 0}, {0, 1}, {1, 1}});
    // query 0 is closest to candidate 0 (true), query 1 to candidate 2 (true is 1: second), query 2 exactly
    // between 0 and 1 is closest to 2 (true is 0: second, tied with 1)
    Embeddings queries = Embeddings.of(new float[][] {{1, 0.1f}, {0.6f, 1}, {1, 1}});
    int[] truth = {0, 1, 0};
    assertEquals(1.0 / 3, JudgeMetrics.retrievalAccuracy(queries, candidates, truth, 1, I).value(), 1e-12);
    assertEquals(1.0, JudgeMetrics.retrievalAccuracy(queries, candidates, truth, 2, I).value(), 1e-12);
    assertThrows(InvalidArgumentException.class, () -> JudgeMetrics.retrievalAccuracy(queries, candidates, truth, 4, I));
    assertThrows(InvalidArgumentException.class,
        () -> JudgeMetrics.retrievalAccuracy(queries, candidates, new int[] {0, 1, 3}, 1, I));
  }

  @Test
  void fidelityIsZeroForTheSameImagesAndOneForOrthogonalOnes() {
    Embeddings a = Embeddings.of(new float[][] {{1, 0}, {0, 1}});
    Embeddings b = Embeddings.of(new float[][] {{0, 5}, {0, 2}});
    assertEquals(0, JudgeMetrics.fidelity(a, a, I).value(), 1e-12);
    assertEquals(0.5, JudgeMetrics.fidelity(a, b, I).value(), 1e-12); // 1 and 0
  }

  @Test
  void diversityAveragesPairwiseDistancesPerPrompt() {
    // prompt 7: three identical images (0); prompt 9: two orthogonal ones (1)
    Embeddings e = Embeddings.of(new float[][] {{1, 0}, {0, 1}, {2, 0}, {1, 0}, {3, 0}});
    assertEquals(0.5, JudgeMetrics.diversity(e, new int[] {7, 9, 7, 9, 7}, I).value(), 1e-12);
    assertThrows(InsufficientSamplesException.class, () -> JudgeMetrics.diversity(e, new int[] {7, 9, 7, 7, 7}, I));
  }

  @Test
  void mismatchedInputsAreRefused() {
    Embeddings two = Embeddings.of(new float[][] {{1, 0}, {0, 1}});
    Embeddings three = Embeddings.of(new float[][] {{1, 0}, {0, 1}, {1, 1}});
    assertThrows(InvalidArgumentException.class, () -> JudgeMetrics.textImageScore(two, three, I));
    assertThrows(InvalidArgumentException.class, () -> Embeddings.of(2, 2, new float[] {1, 2, 3}));
    assertThrows(InvalidArgumentException.class, () -> Embeddings.of(1, 2, new float[] {1, Float.NaN}));
  }
}
