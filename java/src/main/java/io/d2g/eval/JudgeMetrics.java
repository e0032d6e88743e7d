package io.d2g.eval;

import io.d2g.InvalidArgumentException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The metrics computed in the judge's embedding space other than the {@link FrechetDistance}: each a
 * mean over items with a 95% bootstrap interval over those items (see {@link Bootstrap}). Cosine
 * similarity throughout, so the embeddings need not be normalised.
 *
 * <ul>
 *   <li>{@link #textImageScore}: the CLIP-score analogue, 100 · max(cos(image, its prompt), 0);
 *   <li>{@link #retrievalAccuracy}: how often a query's own candidate is among the k most similar
 *       (image → caption among all concepts, caption → image, style or relation retrieval);
 *   <li>{@link #fidelity}: the DreamSim analogue, mean 1 - cos between paired images (student and
 *       teacher for the same noise and prompt); 0 means identical embeddings;
 *   <li>{@link #diversity}: the DreamDiv analogue, mean pairwise 1 - cos among the images of one
 *       prompt (across seeds), averaged over prompts.
 * </ul>
 */
public final class JudgeMetrics {
  private JudgeMetrics() {}

  /** Bootstrap rounds and seed of the intervals; {@link #DEFAULT}: 1000 rounds, seed 0. */
  public record Interval(int rounds, long seed) {
    public static final Interval DEFAULT = new Interval(1000, 0);
  }

  /** Row i of images against row i of texts: mean of 100 · max(cos, 0). */
  public static Estimate textImageScore(Embeddings images, Embeddings texts, Interval interval) {
    paired(images, texts, "images", "texts");
    double[] s = new double[images.rows()];
    for (int i = 0; i < s.length; i++) s[i] = 100 * Math.max(images.cosine(i, texts, i), 0);
    return meanOf(s, interval);
  }

  /**
   * For each query i, whether candidate {@code truth[i]} is among the {@code k} candidates most
   * similar to it (a tie with the true candidate counts for it); the mean is the top-k accuracy.
   */
  public static Estimate retrievalAccuracy(Embeddings queries, Embeddings candidates, int[] truth, int k,
                                           Interval interval) {
    if (truth.length != queries.rows())
      throw new InvalidArgumentException(queries.rows() + " queries but " + truth.length + " true candidates");
    if (queries.dim() != candidates.dim())
      throw new InvalidArgumentException("queries of " + queries.dim() + " and candidates of " + candidates.dim() + " dimensions");
    if (k < 1 || k > candidates.rows())
      throw new InvalidArgumentException("k must be 1 to the " + candidates.rows() + " candidates, got " + k);
    double[] hit = new double[truth.length];
    for (int i = 0; i < truth.length; i++) {
      if (truth[i] < 0 || truth[i] >= candidates.rows())
        throw new InvalidArgumentException("query " + i + " names candidate " + truth[i] + " of " + candidates.rows());
      double own = queries.cosine(i, candidates, truth[i]);
      int better = 0;
      for (int j = 0; j < candidates.rows() && better < k; j++)
        if (j != truth[i] && queries.cosine(i, candidates, j) > own) better++;
      hit[i] = better < k ? 1 : 0;
    }
    return meanOf(hit, interval);
  }

  /** Row i of a against row i of b: mean of 1 - cos. */
  public static Estimate fidelity(Embeddings student, Embeddings teacher, Interval interval) {
    paired(student, teacher, "student images", "teacher images");
    double[] d = new double[student.rows()];
    for (int i = 0; i < d.length; i++) d[i] = 1 - student.cosine(i, teacher, i);
    return meanOf(d, interval);
  }

  /**
   * Rows grouped by {@code group[i]} (e.g. the prompt's index): per group the mean 1 - cos over its
   * pairs of rows, then the mean over groups (the interval resamples groups). Every group needs at
   * least two rows.
   */
  public static Estimate diversity(Embeddings images, int[] group, Interval interval) {
    if (group.length != images.rows())
      throw new InvalidArgumentException(images.rows() + " images but " + group.length + " group labels");
    Map<Integer, List<Integer>> members = new LinkedHashMap<>();
    for (int i = 0; i < group.length; i++) members.computeIfAbsent(group[i], g -> new ArrayList<>()).add(i);
    double[] per = new double[members.size()];
    int gi = 0;
    for (Map.Entry<Integer, List<Integer>> e : members.entrySet()) {
      List<Integer> m = e.getValue();
      if (m.size() < 2)
        throw new InsufficientSamplesException("diversity needs at least 2 images per prompt; group " + e.getKey()
            + " has " + m.size(), 2);
      double sum = 0;
      int pairs = 0;
      for (int a = 0; a < m.size(); a++)
        for (int b = a + 1; b < m.size(); b++, pairs++) sum += 1 - images.cosine(m.get(a), images, m.get(b));
      per[gi++] = sum / pairs;
    }
    return meanOf(per, interval);
  }

  private static void paired(Embeddings a, Embeddings b, String aName, String bName) {
    if (a.rows() != b.rows())
      throw new InvalidArgumentException(a.rows() + " " + aName + " but " + b.rows() + " " + bName + ": they pair row by row");
    if (a.dim() != b.dim())
      throw new InvalidArgumentException(aName + " of " + a.dim() + " and " + bName + " of " + b.dim() + " dimensions");
  }

  private static Estimate meanOf(double[] values, Interval interval) {
    if (values.length < 2)
      throw new InsufficientSamplesException("a mean with an interval needs at least 2 items, got " + values.length, 2);
    return Bootstrap.estimate(values.length, interval.rounds(), interval.seed(), idx -> {
      double s = 0;
      for (int i : idx) s += values[i];
      return s / idx.length;
    });
  }
}
