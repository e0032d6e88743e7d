package io.d2g.data.emoji;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Writes {@code captions-train.txt} (every caption the training split can produce: each training
 * image's caption, then every caption template with its fillers, for building a text encoder's
 * vocabulary) and {@code eval-prompts.jsonl} (held-out prompts: every held-out concept and
 * concept x style pair as a single-emoji prompt, and compositional scene prompts whose objects
 * include held-out concepts).
 */
public final class CaptionCorpus {
  private CaptionCorpus() {}

  static void write(Path dir, EmojiCatalog catalog, List<EmojiRecord> index, EmojiDatasetBuilder.Options o)
      throws IOException {
    Set<String> lines = new LinkedHashSet<>();
    Set<String> trainLabels = new LinkedHashSet<>();
    for (EmojiRecord r : index)
      if (r.isTrain()) {
        lines.add(r.caption());
        trainLabels.add(r.label());
      }
    try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("captions-train.txt"), StandardCharsets.UTF_8)) {
      w.write("# single emoji captions of the training split, then the scene caption templates\n");
      for (String l : lines) w.write(l + "\n");
      w.write("# templates: {object} is 'a <label>' or 'a <colour> <label>'; {background} is 'a <colour> background' "
          + "or 'a <colour> to <colour> gradient background'\n");
      for (String t : templates()) w.write("template\t" + t + "\n");
      for (EmojiStyle s : o.styles()) w.write("style\t" + s.captionName() + " style\n");
      for (NamedColour c : NamedColour.values()) w.write("colour\t" + c.word() + "\n");
      for (SceneComposer.Relation r : SceneComposer.Relation.values()) w.write("relation\t" + r.words + "\n");
      for (String l : trainLabels) {
        w.write("object\t" + Captions.objectPhrase(l, null) + "\n");
      }
    }
    // evaluation prompts
    List<Map<String, Object>> prompts = new ArrayList<>();
    Set<String> seen = new LinkedHashSet<>();
    List<EmojiRecord> heldConcepts = new ArrayList<>();
    for (EmojiRecord r : index) {
      if (r.isTrain() || r.tone() != null) continue;
      String p = r.caption();
      if (!seen.add(p)) continue;
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("kind", r.split().equals(Splits.HELDOUT_CONCEPT) ? "single-heldout-concept" : "single-heldout-pair");
      m.put("prompt", p);
      m.put("hexcode", r.hexcode());
      m.put("style", r.style());
      prompts.add(m);
      if (r.split().equals(Splits.HELDOUT_CONCEPT)) heldConcepts.add(r);
    }
    List<String> train = new ArrayList<>(trainLabels);
    SplittableRandom rnd = new SplittableRandom(o.splits().seed() ^ 0x5EEDL);
    List<EmojiStyle> styles = o.styles();
    for (int i = 0; i < o.evalCompositional() && !heldConcepts.isEmpty() && !train.isEmpty(); i++) {
      EmojiRecord h = heldConcepts.get(rnd.nextInt(heldConcepts.size()));
      String other = train.get(rnd.nextInt(train.size()));
      SceneComposer.Relation rel = SceneComposer.Relation.values()[rnd.nextInt(4)];
      NamedColour tint = rnd.nextInt(3) == 0 ? NamedColour.TINTS.get(rnd.nextInt(NamedColour.TINTS.size())) : null;
      NamedColour bg = rnd.nextInt(2) == 0 ? null : pickOther(rnd, tint);
      boolean heldFirst = rnd.nextBoolean();
      String a = Captions.objectPhrase(heldFirst ? h.label() : other, heldFirst ? (tint == null ? null : tint.word()) : null);
      String b = Captions.objectPhrase(heldFirst ? other : h.label(), heldFirst ? null : (tint == null ? null : tint.word()));
      String phrase = a + " " + rel.words + " " + b + (bg == null ? "" : " on " + Captions.article(bg.word()) + " " + bg.word() + " background");
      EmojiStyle st = styles.get(rnd.nextInt(styles.size()));
      String p = Captions.withStyle(phrase, st);
      if (!seen.add(p)) continue;
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("kind", "compositional-heldout-concept");
      m.put("prompt", p);
      m.put("hexcode", h.hexcode());
      m.put("style", st.id());
      prompts.add(m);
    }
    try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("eval-prompts.jsonl"), StandardCharsets.UTF_8)) {
      for (Map<String, Object> m : prompts) w.write(EmojiDatasetBuilder.JSONL.writeValueAsString(m) + "\n");
    }
  }

  private static NamedColour pickOther(SplittableRandom rnd, NamedColour not) {
    while (true) {
      NamedColour c = NamedColour.BACKGROUNDS.get(rnd.nextInt(NamedColour.BACKGROUNDS.size()));
      if (c != not) return c;
    }
  }

  /** The scene caption templates the composer uses. */
  public static List<String> templates() {
    return List.of("<label>, <style> style", "{object}, <style> style", "{object} on {background}, <style> style",
        "{object} <relation> {object}, <style> style", "{object} <relation> {object} on {background}, <style> style",
        "{object} <relation> {object} and {object} <relation> the <label>, <style> style",
        "{object} <relation> {object} and {object} <relation> the <label> on {background}, <style> style");
  }
}
