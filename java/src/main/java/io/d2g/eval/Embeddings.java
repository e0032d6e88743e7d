package io.d2g.eval;

import io.d2g.InvalidArgumentException;
import java.util.Arrays;

/**
 * A set of embeddings: {@code rows} vectors of {@code dim} floats, row-major in one array (as a
 * judge's encoder returns them, e.g. {@code Tensor.toFloatArray()} of an [n, d] tensor). Immutable:
 * the array is copied in.
 */
public final class Embeddings {
  private final int rows;
  private final int dim;
  private final float[] data;

  private Embeddings(int rows, int dim, float[] data) {
    this.rows = rows;
    this.dim = dim;
    this.data = data;
  }

  /** {@code data} holds rows × dim floats, row after row. */
  public static Embeddings of(int rows, int dim, float[] data) {
    if (rows < 1 || dim < 1) throw new InvalidArgumentException("embeddings need at least one row and one dimension, got "
        + rows + " x " + dim);
    if (data.length != (long) rows * dim)
      throw new InvalidArgumentException(rows + " x " + dim + " embeddings need " + (long) rows * dim + " floats, got "
          + data.length);
    for (int i = 0; i < data.length; i++)
      if (!Float.isFinite(data[i]))
        throw new InvalidArgumentException("embedding " + i / dim + " has a non-finite value at dimension " + i % dim);
    return new Embeddings(rows, dim, data.clone());
  }

  /** One row per array, all of one length. */
  public static Embeddings of(float[][] vectors) {
    if (vectors.length == 0) throw new InvalidArgumentException("no embeddings");
    int d = vectors[0].length;
    float[] data = new float[vectors.length * d];
    for (int i = 0; i < vectors.length; i++) {
      if (vectors[i].length != d)
        throw new InvalidArgumentException("embedding " + i + " has " + vectors[i].length + " dimensions, the first has " + d);
      System.arraycopy(vectors[i], 0, data, i * d, d);
    }
    return of(vectors.length, d, data);
  }

  public int rows() {
    return rows;
  }

  public int dim() {
    return dim;
  }

  /** Element (row, column). */
  public float get(int row, int column) {
    return data[row * dim + column];
  }

  /** A copy of one row. */
  public float[] row(int row) {
    return Arrays.copyOfRange(data, row * dim, (row + 1) * dim);
  }

  /** The rows at these indices (repeats allowed: a bootstrap resample). */
  public Embeddings select(int[] indices) {
    float[] out = new float[indices.length * dim];
    for (int i = 0; i < indices.length; i++) System.arraycopy(data, indices[i] * dim, out, i * dim, dim);
    return new Embeddings(indices.length, dim, out);
  }

  /** Each row scaled to unit length (a zero row stays zero). */
  public Embeddings normalized() {
    float[] out = data.clone();
    for (int r = 0; r < rows; r++) {
      double s = 0;
      for (int c = 0; c < dim; c++) s += (double) out[r * dim + c] * out[r * dim + c];
      if (s == 0) continue;
      float inv = (float) (1 / Math.sqrt(s));
      for (int c = 0; c < dim; c++) out[r * dim + c] *= inv;
    }
    return new Embeddings(rows, dim, out);
  }

  /** Cosine similarity of row i of this and row j of other (0 when either row is zero). */
  public double cosine(int i, Embeddings other, int j) {
    if (other.dim != dim) throw new InvalidArgumentException("embeddings of " + dim + " and " + other.dim + " dimensions");
    double dot = 0, a = 0, b = 0;
    for (int c = 0; c < dim; c++) {
      double x = data[i * dim + c], y = other.data[j * dim + c];
      dot += x * y;
      a += x * x;
      b += y * y;
    }
    return a == 0 || b == 0 ? 0 : dot / Math.sqrt(a * b);
  }
}
