package io.d2g.data.emoji;

import java.util.List;

/**
 * One emoji concept from Unicode CLDR (via emojibase): the thing a picture shows, whatever the art
 * style. {@code id} is its position in CLDR order among the concepts the dataset keeps; {@code hexcode}
 * is the base codepoint sequence without FE0F (e.g. {@code 1F431}).
 */
public record Concept(int id, String hexcode, String emoji, String label, List<String> tags, String group,
    String subgroup, List<Variant> skins) {

  /** A skin-tone variant of a concept ({@code tone} e.g. "light skin tone"; several for multi-person emoji). */
  public record Variant(String hexcode, String label, String tone) {}

  public boolean hasSkins() {
    return !skins.isEmpty();
  }
}
