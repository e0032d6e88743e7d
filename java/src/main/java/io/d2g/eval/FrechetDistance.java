package io.d2g.eval;

import io.d2g.InvalidArgumentException;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * The Fréchet distance between two sets of embeddings, each summarised as a Gaussian (mean and
 * covariance): {@code |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))}. In Inception's feature
 * space this is FID; here the space is the judge's image embeddings.
 *
 * <p>Computed in double precision. The covariances are the unbiased sample covariances (divided by n
 * - 1, as pytorch-fid's {@code np.cov}); {@code tr((S1 S2)^(1/2))} is the sum of the square roots of
 * the eigenvalues of the symmetric matrix {@code S1^(1/2) S2 S1^(1/2)}, which has the same spectrum,
 * so only symmetric eigendecompositions are needed (no complex parts to discard, unlike
 * {@code scipy.linalg.sqrtm}); eigenvalues that rounding leaves slightly negative count as zero.
 *
 * <p>A sample covariance in d dimensions from n rows has rank at most n - 1 and its eigenvalues
 * spread out as d/n grows, which biases the distance upward. Sets with fewer than
 * {@link #minimumSamples(int) 2d} rows are refused with {@link InsufficientSamplesException}.
 */
public final class FrechetDistance {
  private FrechetDistance() {}

  /** The fewest rows per set accepted in {@code dim} dimensions: 2 · dim. */
  public static int minimumSamples(int dim) {
    return 2 * dim;
  }

  /** The distance between two sets of embeddings of one dimension. */
  public static double between(Embeddings a, Embeddings b) {
    checkSizes(a, b);
    return distance(a, b);
  }

  /**
   * The distance with a 95% bootstrap interval: both sets resampled with replacement,
   * {@code rounds} times, from a generator seeded with {@code seed}; resampling inflates FD, so the
   * interval is corrected for that bias ({@link Bootstrap#estimateBiasCorrected}).
   */
  public static Estimate withInterval(Embeddings a, Embeddings b, int rounds, long seed) {
    checkSizes(a, b);
    return Bootstrap.estimateBiasCorrected(a.rows(), b.rows(), rounds, seed,
        (ia, ib) -> distance(a.select(ia), b.select(ib)));
  }

  /** The distance between two Gaussians given by their means and covariances (symmetric, PSD). */
  public static double ofMoments(double[] mean1, double[][] cov1, double[] mean2, double[][] cov2) {
    int d = mean1.length;
    if (mean2.length != d || cov1.length != d || cov2.length != d)
      throw new InvalidArgumentException("means and covariances of different dimensions");
    for (int i = 0; i < d; i++)
      if (cov1[i].length != d || cov2[i].length != d) throw new InvalidArgumentException("covariances must be d x d");
    return ofMoments(mean1, new DMatrixRMaj(cov1), mean2, new DMatrixRMaj(cov2));
  }

  private static void checkSizes(Embeddings a, Embeddings b) {
    if (a.dim() != b.dim())
      throw new InvalidArgumentException("embeddings of " + a.dim() + " and " + b.dim() + " dimensions cannot be compared");
    int min = minimumSamples(a.dim());
    if (a.rows() < min || b.rows() < min)
      throw new InsufficientSamplesException("the Fréchet distance in " + a.dim() + " dimensions needs at least " + min
          + " samples in each set for a stable estimate (2 per dimension); got " + a.rows() + " and " + b.rows(), min);
  }

  private static double distance(Embeddings a, Embeddings b) {
    double[] m1 = mean(a), m2 = mean(b);
    return ofMoments(m1, covariance(a, m1), m2, covariance(b, m2));
  }

  private static double ofMoments(double[] m1, DMatrixRMaj s1, double[] m2, DMatrixRMaj s2) {
    double diff = 0;
    for (int i = 0; i < m1.length; i++) diff += (m1[i] - m2[i]) * (m1[i] - m2[i]);
    DMatrixRMaj root1 = symmetricSqrt(s1);
    DMatrixRMaj tmp = new DMatrixRMaj(s1.numRows, s1.numCols), inner = new DMatrixRMaj(s1.numRows, s1.numCols);
    CommonOps_DDRM.mult(root1, s2, tmp);
    CommonOps_DDRM.mult(tmp, root1, inner);
    symmetrize(inner);
    double traceRoot = 0;
    for (double ev : eigenvalues(inner)) traceRoot += Math.sqrt(Math.max(ev, 0));
    return diff + CommonOps_DDRM.trace(s1) + CommonOps_DDRM.trace(s2) - 2 * traceRoot;
  }

  static double[] mean(Embeddings e) {
    double[] m = new double[e.dim()];
    for (int r = 0; r < e.rows(); r++)
      for (int c = 0; c < e.dim(); c++) m[c] += e.get(r, c);
    for (int c = 0; c < m.length; c++) m[c] /= e.rows();
    return m;
  }

  static DMatrixRMaj covariance(Embeddings e, double[] mean) {
    int n = e.rows(), d = e.dim();
    DMatrixRMaj centred = new DMatrixRMaj(n, d);
    for (int r = 0; r < n; r++)
      for (int c = 0; c < d; c++) centred.unsafe_set(r, c, e.get(r, c) - mean[c]);
    DMatrixRMaj cov = new DMatrixRMaj(d, d);
    CommonOps_DDRM.multTransA(centred, centred, cov);
    CommonOps_DDRM.scale(1.0 / (n - 1), cov);
    return cov;
  }

  /** V diag(sqrt(max(lambda, 0))) V^T of a symmetric matrix. */
  private static DMatrixRMaj symmetricSqrt(DMatrixRMaj s) {
    int d = s.numRows;
    EigenDecomposition_F64<DMatrixRMaj> eig = decompose(s, true);
    DMatrixRMaj out = new DMatrixRMaj(d, d);
    for (int k = 0; k < d; k++) {
      double root = Math.sqrt(Math.max(eig.getEigenvalue(k).real, 0));
      DMatrixRMaj v = eig.getEigenVector(k);
      for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) out.add(i, j, root * v.get(i) * v.get(j));
    }
    return out;
  }

  private static double[] eigenvalues(DMatrixRMaj s) {
    EigenDecomposition_F64<DMatrixRMaj> eig = decompose(s, false);
    double[] out = new double[s.numRows];
    for (int k = 0; k < out.length; k++) out[k] = eig.getEigenvalue(k).real;
    return out;
  }

  private static EigenDecomposition_F64<DMatrixRMaj> decompose(DMatrixRMaj s, boolean vectors) {
    EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(s.numRows, vectors, true);
    if (!eig.decompose(s.copy())) throw new ArithmeticException("the eigendecomposition of a covariance did not converge");
    return eig;
  }

  private static void symmetrize(DMatrixRMaj m) {
    for (int i = 0; i < m.numRows; i++)
      for (int j = i + 1; j < m.numCols; j++) {
        double v = 0.5 * (m.get(i, j) + m.get(j, i));
        m.set(i, j, v);
        m.set(j, i, v);
      }
  }
}
