package io.d2g.pairs;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The pairs' noise: Philox4x32-10 against Random123's known answers, normals pinned against an
 * independent implementation, the reproducibility contract, the distribution, and bad arguments.
 */
class PairNoiseTest {
  private static void assertPhilox(int[] counter, int[] key, int[] expected) {
    int[] got = PairNoise.philox4x32(counter, key);
    assertArrayEquals(expected, got, () -> "philox4x32-10 of " + hex(counter) + " under " + hex(key)
        + " gave " + hex(got));
  }

  private static String hex(int[] words) {
    return Arrays.stream(words).mapToObj(w -> String.format("0x%08x", w)).toList().toString();
  }

  @Test
  void philoxMatchesRandom123KnownAnswers() {
    // Random123's kat_vectors, philox4x32 with 10 rounds
    assertPhilox(new int[] {0, 0, 0, 0}, new int[] {0, 0},
        new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
    assertPhilox(new int[] {-1, -1, -1, -1}, new int[] {-1, -1},
        new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
    assertPhilox(new int[] {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, new int[] {0xa4093822, 0x299f31d0},
        new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
  }

  @Test
  void philoxMatchesAnIndependentImplementationOnRandomInputs() {
    // computed by a separate implementation of the reference algorithm (Python, arbitrary-precision ints)
    assertPhilox(new int[] {0x52e6b438, 0xf2a74de4, 0x269e0d37, 0x6513270e}, new int[] {0xa6a3a450, 0x0c5c7fd0},
        new int[] {0x783b7a82, 0x93a7eb5a, 0xf3f9c662, 0x859381e5});
    assertPhilox(new int[] {0x128b2f33, 0xd23f0824, 0x892f902b, 0x1818e811}, new int[] {0x5d9dc9f8, 0x9531985d},
        new int[] {0xccb2f1e0, 0x33a4fb24, 0x2349ec54, 0x2516b9b0});
    assertPhilox(new int[] {0x0ed90475, 0xe8e25d94, 0x81e74ef5, 0x36f675cc}, new int[] {0x099950d8, 0x1600a35a},
        new int[] {0x980f4a96, 0x0451e25a, 0xdede68f7, 0x512e472f});
  }

  @Test
  void normalsArePinnedBitForBit() {
    // Box–Muller in double on the Philox words, rounded to float, by the same independent implementation;
    // both the seed and the pair index use their high 32 bits here
    assertArrayEquals(new float[] {
        0.6218954920768738f, -0.17383083701133728f, 0.5729326605796814f, -0.4128169119358063f,
        0.5034324526786804f, 2.3700287342071533f, 0.2516159117221832f, 0.23449039459228516f,
        -0.13338229060173035f, 0.7198928594589233f},
        PairNoise.of(0x0123456789ABCDEFL).normals((1L << 32) + 5, 10));
    assertArrayEquals(new float[] {
        -2.321124315261841f, -0.09754525125026703f, -3.4164352416992188f, 0.6590061187744141f,
        1.3161137104034424f, -1.6372119188308716f, -1.368798851966858f, -0.29465803503990173f,
        -0.519115149974823f, -2.064375877380371f},
        PairNoise.of(-42).normals(3, 10));
  }

  @Test
  void boxMullerUsesTheOpenEndOfTheUnitInterval() {
    float[] out = new float[2];
    // w0 = 2^32 - 1 gives u1 = 1, radius 0
    PairNoise.put(out, 0, 2, -1, 0x12345678);
    assertEquals(0f, out[0], 0f);
    assertEquals(0f, out[1], 0f);
    // w0 = 0 gives the smallest u1 = 2^-32: the largest radius, sqrt(64 ln 2), still finite; angle 0
    PairNoise.put(out, 0, 2, 0, 0);
    assertEquals((float) Math.sqrt(64 * Math.log(2)), out[0], 1e-6f);
    assertEquals(0f, out[1], 0f);
    // a quarter turn: w1 = 2^30
    PairNoise.put(out, 0, 2, 0, 1 << 30);
    assertEquals(0f, out[0], 1e-6f);
    assertEquals((float) Math.sqrt(64 * Math.log(2)), out[1], 1e-6f);
    // n = 1 writes one value only
    float[] one = {7f, 7f};
    PairNoise.put(one, 0, 1, 0, 0);
    assertEquals(7f, one[1]);
  }

  @Test
  void theSameSeedAndPairAlwaysGiveTheSameNoise() {
    float[] a = PairNoise.of(17).normals(123, 1000);
    float[] b = PairNoise.of(17).normals(123, 1000);
    assertArrayEquals(a, b);
    // whatever was drawn in between, and in whichever order
    PairNoise n = PairNoise.of(17);
    n.normals(5, 77);
    n.normals(124, 1000);
    assertArrayEquals(a, n.normals(123, 1000));
    assertEquals(17, n.seed());
    assertEquals(PairNoise.of(17), n);
    assertNotEquals(PairNoise.of(18), n);
  }

  @Test
  void aShorterDrawIsAPrefixOfALongerOne() {
    PairNoise n = PairNoise.of(99);
    float[] full = n.normals(7, 4099);
    for (int k : new int[] {0, 1, 2, 3, 4, 5, 6, 7, 9, 1000, 4098}) {
      assertArrayEquals(Arrays.copyOf(full, k), n.normals(7, k), "prefix of " + k);
    }
    // fill writes exactly its slice
    float[] out = new float[20];
    Arrays.fill(out, Float.NaN);
    n.fill(7, out, 3, 11);
    for (int i = 0; i < 20; i++) {
      if (i < 3 || i >= 14) assertTrue(Float.isNaN(out[i]), "index " + i + " was written");
      else assertEquals(full[i - 3], out[i]);
    }
  }

  @Test
  void differentPairsAndSeedsGiveDifferentNoise() {
    float[] base = PairNoise.of(1).normals(0, 64);
    for (float[] other : new float[][] {
        PairNoise.of(1).normals(1, 64),
        PairNoise.of(1).normals(1L << 32, 64), // differs only in the pair's high word
        PairNoise.of(2).normals(0, 64),
        PairNoise.of(1 + (1L << 32)).normals(0, 64)}) { // differs only in the seed's high word
      int same = 0;
      for (int i = 0; i < 64; i++) if (base[i] == other[i]) same++;
      assertEquals(0, same, "draws share " + same + " of 64 values");
    }
    // and the four normals of one block are not copies of each other
    float[] x = PairNoise.of(3).normals(0, 4);
    assertEquals(4, (int) java.util.stream.IntStream.range(0, 4).mapToDouble(i -> x[i]).distinct().count());
  }

  @Test
  void tensorRowsAreThePairsNormals() {
    PairNoise n = PairNoise.of(2024);
    try (Tensor t = n.tensor(40, 3, 2, 3, 5)) {
      assertArrayEquals(new long[] {3, 2, 3, 5}, t.shape());
      float[] all = t.toFloatArray();
      for (int k = 0; k < 3; k++) {
        assertArrayEquals(n.normals(40 + k, 30), Arrays.copyOfRange(all, 30 * k, 30 * (k + 1)), "row " + k);
      }
    }
    // a batch's rows do not depend on how the pairs were batched
    try (Tensor one = n.tensor(41, 1, 30)) {
      assertArrayEquals(n.normals(41, 30), one.toFloatArray());
    }
  }

  @Test
  void theNormalsAreStandardNormal() {
    PairNoise n = PairNoise.of(0x5eedL);
    int pairs = 200, per = 1000;
    double sum = 0, sumSq = 0;
    long beyond3 = 0;
    float[] z = new float[per];
    for (int p = 0; p < pairs; p++) {
      n.fill(p, z, 0, per);
      for (float v : z) {
        assertTrue(Float.isFinite(v));
        sum += v;
        sumSq += (double) v * v;
        if (Math.abs(v) > 3) beyond3++;
      }
    }
    double count = pairs * per;
    double mean = sum / count, var = sumSq / count - mean * mean, tail = beyond3 / count;
    assertEquals(0, mean, 0.01, "mean");
    assertEquals(1, var, 0.01, "variance");
    assertEquals(0.0027, tail, 0.0006, "fraction beyond |3|");
  }

  @Test
  void badArgumentsAreRejected() {
    PairNoise n = PairNoise.of(0);
    assertThrows(InvalidArgumentException.class, () -> n.normals(-1, 4));
    assertThrows(InvalidArgumentException.class, () -> n.normals(Long.MIN_VALUE, 4));
    assertThrows(InvalidArgumentException.class, () -> n.normals(0, -1));
    assertThrows(InvalidArgumentException.class, () -> n.fill(-1, new float[4], 0, 4));
    assertThrows(InvalidArgumentException.class, () -> n.fill(0, null, 0, 4));
    assertThrows(InvalidArgumentException.class, () -> n.fill(0, new float[4], 0, -1));
    assertThrows(InvalidArgumentException.class, () -> n.fill(0, new float[4], -1, 2));
    assertThrows(InvalidArgumentException.class, () -> n.fill(0, new float[4], 1, 4));
    assertThrows(InvalidArgumentException.class, () -> n.fill(0, new float[4], Integer.MAX_VALUE, 2));
    assertThrows(InvalidArgumentException.class, () -> n.tensor(-1, 1, 4));
    assertThrows(InvalidArgumentException.class, () -> n.tensor(0, -1, 4));
    assertThrows(InvalidArgumentException.class, () -> n.tensor(Long.MAX_VALUE, 2, 4));
    assertThrows(InvalidArgumentException.class, () -> n.tensor(0, 1));
    assertThrows(InvalidArgumentException.class, () -> n.tensor(0, 1, (long[]) null));
    assertThrows(InvalidArgumentException.class, () -> n.tensor(0, 1, 4, 0, 4));
    assertThrows(InvalidArgumentException.class, () -> n.tensor(0, 1, 4, -2));
    assertThrows(InvalidArgumentException.class, () -> n.tensor(0, 1, 1L << 20, 1L << 20));
    assertThrows(InvalidArgumentException.class, () -> n.tensor(0, 1 << 16, 1 << 16));
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> n.normals(-3, 1));
    assertTrue(e.getMessage().contains("-3"), e.getMessage());
    // the edges that are allowed
    assertEquals(0, n.normals(0, 0).length);
    n.fill(0, new float[4], 4, 0);
    assertEquals(1, n.normals(Long.MAX_VALUE, 1).length);
  }
}
