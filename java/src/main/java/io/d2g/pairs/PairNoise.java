package io.d2g.pairs;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;

/**
 * The input noise of the teacher pairs: the standard normals of pair {@code i} are a pure function of
 * (seed, {@code i}), drawn from a counter-based generator, so a pair's noise {@code z} is recomputed
 * where it is needed instead of stored next to the teacher's output.
 *
 * <p>The contract: the same (seed, {@code i}) always gives the same {@code z}, bit for bit, on any
 * machine, JVM and operating system, whatever the number of ranks that generate the pairs and however
 * they are batched: no state is carried from one pair to the next, and only {@link StrictMath} (not
 * {@link Math}, whose results may differ between JVMs) touches floating point. A longer draw extends
 * a shorter one: the first {@code k} normals of pair {@code i} are the same whatever count is asked
 * for. Different pairs and different seeds give independent streams.
 *
 * <p>The generator is Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy
 * as 1, 2, 3", SC 2011), as Random123 defines it: the key is the seed's low and high 32 bits; block
 * {@code b} of pair {@code i} encrypts the counter ({@code b}, 0, low 32 bits of {@code i}, high 32
 * bits of {@code i}) into four 32-bit words {@code w0..w3}. Each block gives four normals by the
 * Box–Muller transform on ({@code w0}, {@code w1}) and ({@code w2}, {@code w3}), in double precision:
 * {@code u1 = (w0 + 1) / 2^32} (in (0, 1], so the logarithm is finite), {@code u2 = w1 / 2^32},
 * {@code r = sqrt(-2 ln u1)}, normals {@code r cos(2π u2)} and {@code r sin(2π u2)}, each rounded to
 * float. Normal {@code k} of a pair is word {@code k % 4}'s normal of block {@code k / 4}.
 *
 * <p>Instances are immutable and may be shared between threads.
 */
public final class PairNoise {
  private static final int ROUNDS = 10;
  private static final long M0 = 0xD2511F53L, M1 = 0xCD9E8D57L;
  private static final int W0 = 0x9E3779B9, W1 = 0xBB67AE85;
  private static final long MASK = 0xFFFFFFFFL;
  private static final double TWO_POW_M32 = 0x1.0p-32;
  private static final double TWO_PI = 2 * Math.PI;

  private final long seed;
  /** The key of each round, Weyl-incremented from (low 32 bits, high 32 bits) of the seed. */
  private final int[] roundKeys;

  private PairNoise(long seed) {
    this.seed = seed;
    this.roundKeys = roundKeys((int) seed, (int) (seed >>> 32));
  }

  /** The noise of every pair drawn with {@code seed}. */
  public static PairNoise of(long seed) {
    return new PairNoise(seed);
  }

  public long seed() {
    return seed;
  }

  /**
   * Writes the first {@code count} standard normals of pair {@code pairIndex} into {@code
   * out[offset .. offset + count)}.
   */
  public void fill(long pairIndex, float[] out, int offset, int count) {
    requirePair(pairIndex);
    if (out == null) throw new InvalidArgumentException("out is null");
    if (count < 0) throw new InvalidArgumentException("count is " + count + "; it must be 0 or more");
    if (offset < 0 || offset > out.length - count)
      throw new InvalidArgumentException("offset " + offset + " and count " + count
          + " do not fit an array of " + out.length + " floats");
    int lo = (int) pairIndex, hi = (int) (pairIndex >>> 32);
    int[] words = new int[4];
    for (int k = 0; k < count; k += 4) {
      philox(k >>> 2, 0, lo, hi, roundKeys, words);
      int left = count - k;
      put(out, offset + k, Math.min(left, 2), words[0], words[1]);
      if (left > 2) put(out, offset + k + 2, Math.min(left - 2, 2), words[2], words[3]);
    }
  }

  /** The first {@code count} standard normals of pair {@code pairIndex}, in a new array. */
  public float[] normals(long pairIndex, int count) {
    requirePair(pairIndex);
    if (count < 0) throw new InvalidArgumentException("count is " + count + "; it must be 0 or more");
    float[] out = new float[count];
    fill(pairIndex, out, 0, count);
    return out;
  }

  /**
   * The noise of pairs {@code firstPair .. firstPair + pairs - 1} as a new CPU float32 tensor of shape
   * [{@code pairs}, {@code shapePerPair}...]: row {@code k} holds the first normals of pair {@code
   * firstPair + k}, in C order, so a row equals {@link #normals(long, int)} of its pair.
   */
  public Tensor tensor(long firstPair, int pairs, long... shapePerPair) {
    requirePair(firstPair);
    if (pairs < 0) throw new InvalidArgumentException("pairs is " + pairs + "; it must be 0 or more");
    if (pairs > 0 && firstPair > Long.MAX_VALUE - (pairs - 1))
      throw new InvalidArgumentException("pairs " + firstPair + " .. " + firstPair + " + " + pairs
          + " - 1 run past the largest pair index, " + Long.MAX_VALUE);
    if (shapePerPair == null || shapePerPair.length == 0)
      throw new InvalidArgumentException("shapePerPair is empty; give the shape of one pair's noise, "
          + "e.g. 4, 64, 64 for SD latents");
    long perPair = 1;
    for (int d = 0; d < shapePerPair.length; d++) {
      if (shapePerPair[d] <= 0)
        throw new InvalidArgumentException("shapePerPair[" + d + "] is " + shapePerPair[d]
            + "; every dimension must be positive");
      perPair *= shapePerPair[d];
      if (perPair > Integer.MAX_VALUE)
        throw new InvalidArgumentException("shapePerPair " + java.util.Arrays.toString(shapePerPair)
            + " has more than " + Integer.MAX_VALUE + " elements");
    }
    long total = perPair * pairs;
    if (total > Integer.MAX_VALUE)
      throw new InvalidArgumentException(pairs + " pairs of " + perPair + " normals are " + total
          + " floats, more than one array holds (" + Integer.MAX_VALUE + "); draw fewer pairs at a time");
    int n = (int) perPair;
    float[] data = new float[(int) total];
    for (int k = 0; k < pairs; k++) fill(firstPair + k, data, k * n, n);
    long[] shape = new long[shapePerPair.length + 1];
    shape[0] = pairs;
    System.arraycopy(shapePerPair, 0, shape, 1, shapePerPair.length);
    return Tensor.of(data, shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PairNoise p && p.seed == seed;
  }

  @Override
  public int hashCode() {
    return Long.hashCode(seed);
  }

  @Override
  public String toString() {
    return "PairNoise[seed=" + seed + "]";
  }

  // ---- the generator -----------------------------------------------------------------------------

  private static void requirePair(long pairIndex) {
    if (pairIndex < 0)
      throw new InvalidArgumentException("pair index is " + pairIndex + "; it must be 0 or more");
  }

  private static int[] roundKeys(int k0, int k1) {
    int[] keys = new int[2 * ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
      keys[2 * r] = k0;
      keys[2 * r + 1] = k1;
      k0 += W0;
      k1 += W1;
    }
    return keys;
  }

  /** Philox4x32-10 of one counter under the round keys; the four words go to {@code out}. */
  private static void philox(int c0, int c1, int c2, int c3, int[] keys, int[] out) {
    for (int r = 0; r < ROUNDS; r++) {
      long p0 = M0 * (c0 & MASK), p1 = M1 * (c2 & MASK);
      int hi0 = (int) (p0 >>> 32), lo0 = (int) p0;
      int hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
      c0 = hi1 ^ c1 ^ keys[2 * r];
      c1 = lo1;
      c2 = hi0 ^ c3 ^ keys[2 * r + 1];
      c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
  }

  /** Philox4x32-10 of a four-word counter under a two-word key, Random123's definition. */
  static int[] philox4x32(int[] counter, int[] key) {
    int[] out = new int[4];
    philox(counter[0], counter[1], counter[2], counter[3], roundKeys(key[0], key[1]), out);
    return out;
  }

  /**
   * Box–Muller on one pair of words: writes the first {@code n} (1 or 2) of {@code r cos(2π u2)},
   * {@code r sin(2π u2)} at {@code out[at]}.
   */
  static void put(float[] out, int at, int n, int a, int b) {
    double u1 = ((a & MASK) + 1) * TWO_POW_M32;
    double theta = TWO_PI * ((b & MASK) * TWO_POW_M32);
    double r = StrictMath.sqrt(-2 * StrictMath.log(u1));
    out[at] = (float) (r * StrictMath.cos(theta));
    if (n > 1) out[at + 1] = (float) (r * StrictMath.sin(theta));
  }
}
