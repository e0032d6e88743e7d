package io.d2g.data.emoji;

import io.d2g.data.DatasetException;
import java.util.Locale;

/** Which skin-tone variants of people and hands go into the dataset. */
public enum SkinTones {
  /** Leave out every concept that has skin-tone variants (people, hands, gestures). */
  NONE,
  /** Keep those concepts in their default (yellow, unspecified) tone only. */
  DEFAULT,
  /** Keep the default and add every skin-tone variant, captioned "label: medium skin tone" etc. */
  ALL;

  public static SkinTones parse(String s) {
    try {
      return valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new DatasetException("unknown skin-tone mode '" + s + "' (expected none, default or all)");
    }
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
