package io.d2g.data.emoji;

import java.util.Locale;

/** The caption grammar shared by the dataset, the composer and the caption corpus. */
public final class Captions {
  private Captions() {}

  /** {@code "<label>, <style> style"}, the caption of one emoji on its own. */
  public static String single(String label, EmojiStyle style) {
    return label + ", " + style.captionName() + " style";
  }

  /** {@code "<phrase>, <style> style"}. */
  public static String withStyle(String phrase, EmojiStyle style) {
    return phrase + ", " + style.captionName() + " style";
  }

  /**
   * A noun phrase for a label inside a scene caption: "a cat", "an apple", "a red car", "the flag of
   * Japan". Labels that look plural ("sparkles", "eyes") get no article.
   */
  public static String objectPhrase(String label, String colour) {
    String l = label;
    if (l.startsWith("flag: ")) l = "flag of " + l.substring(6);
    String head = colour == null ? l : colour + " " + l;
    if (looksPlural(label)) return head;
    return article(head) + " " + head;
  }

  /** "the cat" for a second mention. */
  public static String definite(String label) {
    String l = label.startsWith("flag: ") ? "flag of " + label.substring(6) : label;
    return looksPlural(label) ? l : "the " + l;
  }

  static String article(String word) {
    char c = Character.toLowerCase(word.charAt(0));
    String w = word.toLowerCase(Locale.ROOT);
    boolean vowel = "aeiou".indexOf(c) >= 0 && !w.startsWith("uni") && !w.startsWith("use") && !w.startsWith("one");
    if (w.startsWith("hour") || w.startsWith("honest")) vowel = true;
    if (Character.isDigit(c)) vowel = c == '8';
    return vowel ? "an" : "a";
  }

  static boolean looksPlural(String label) {
    String first = label.contains(":") ? label.substring(0, label.indexOf(':')) : label;
    String[] words = first.split(" ");
    String last = words[words.length - 1].toLowerCase(Locale.ROOT);
    if (last.equals("people") || last.equals("women") || last.equals("men") || last.equals("children")) return true;
    return last.length() > 3 && last.endsWith("s") && !last.endsWith("ss") && !last.endsWith("us")
        && !last.endsWith("is") && !last.endsWith("ous");
  }
}
