package io.d2g.data.emoji;

import io.d2g.data.DatasetException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The deterministic split by concept. A concept is held out (never in training, in any style) when
 * the hash of (seed, codepoints) falls below {@code conceptFraction}; of the remaining concepts, a
 * concept x style pair is held out when the hash of (seed, codepoints, style) falls below
 * {@code pairFraction} (the concept is seen in training, but never drawn in that style). The hash is
 * SHA-256, so the split depends only on the seed and the codepoints, not on which styles or how many
 * concepts a build includes, and it is the same on every machine.
 */
public record Splits(long seed, double conceptFraction, double pairFraction) {
  public static final long DEFAULT_SEED = 20250101L;
  public static final Splits DEFAULT = new Splits(DEFAULT_SEED, 0.10, 0.05);

  public static final String TRAIN = "train";
  public static final String HELDOUT_CONCEPT = "heldout-concept";
  public static final String HELDOUT_PAIR = "heldout-pair";

  public Splits {
    if (!(conceptFraction >= 0 && conceptFraction < 1) || !(pairFraction >= 0 && pairFraction < 1))
      throw new DatasetException("held-out fractions must be in [0, 1), got " + conceptFraction + " and " + pairFraction);
  }

  public boolean heldOutConcept(String hexcode) {
    return unit("concept|" + seed + "|" + EmojiCatalog.key(hexcode)) < conceptFraction;
  }

  public boolean heldOutPair(String hexcode, EmojiStyle style) {
    return !heldOutConcept(hexcode) && unit("pair|" + seed + "|" + EmojiCatalog.key(hexcode) + "|" + style.id()) < pairFraction;
  }

  /** {@link #TRAIN}, {@link #HELDOUT_CONCEPT} or {@link #HELDOUT_PAIR} for a concept's base codepoints. */
  public String of(String conceptHexcode, EmojiStyle style) {
    if (heldOutConcept(conceptHexcode)) return HELDOUT_CONCEPT;
    if (heldOutPair(conceptHexcode, style)) return HELDOUT_PAIR;
    return TRAIN;
  }

  /** A uniform number in [0, 1) from the first 53 bits of SHA-256 of the text. */
  static double unit(String text) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      long v = 0;
      for (int i = 0; i < 8; i++) v = (v << 8) | (h[i] & 255);
      return (v >>> 11) * 0x1.0p-53;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
