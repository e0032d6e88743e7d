package io.d2g.data.emoji;

import io.d2g.data.DatasetException;
import io.d2g.data.npm.NpmTarball;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Matches the art files of one style's package to catalogue concepts. PNG and WebP sets name their
 * files by codepoint; iconify sets map through chars.json where they have it, and otherwise through
 * English names (the CLDR label, the Unicode name and common shortcodes, as slugs such as
 * "grinning-face" or "grinningface"; a first numbered variant "cactus-1" counts too). Every icon is
 * used for at most one concept, the earliest in CLDR order.
 */
public final class EmojiSources {
  private static final Logger log = LoggerFactory.getLogger(EmojiSources.class);

  private EmojiSources() {}

  /** One picture to decode: a concept (and skin variant, or null) in one style. */
  public record Item(EmojiStyle style, Concept concept, Concept.Variant variant, String source, byte[] bytes,
      String svg) {
    public String hexcode() {
      return variant == null ? concept.hexcode() : variant.hexcode();
    }

    public String label() {
      return variant == null ? concept.label() : variant.label();
    }

    public String tone() {
      return variant == null ? null : variant.tone();
    }
  }

  private record Target(Concept concept, Concept.Variant variant) {}

  /** The pictures of {@code style} in its tarball, in concept order, base before variants. */
  public static List<Item> items(EmojiStyle style, Path tarball, EmojiCatalog catalog, SkinTones tones) {
    Map<String, Target> byKey = targets(catalog, tones);
    List<Item> out = new ArrayList<>();
    switch (style.format()) {
      case PNG_DIR, WEBP_DIR -> {
        String ext = style.format() == EmojiStyle.Format.PNG_DIR ? ".png" : ".webp";
        Map<String, byte[]> files = NpmTarball.read(tarball, p -> p.startsWith(style.prefix())
            && p.indexOf('/', style.prefix().length()) < 0 && p.endsWith(ext));
        Set<String> seen = new HashSet<>();
        for (var e : files.entrySet()) {
          String stem = e.getKey().substring(style.prefix().length(), e.getKey().length() - ext.length());
          if (!stem.matches("[0-9a-fA-F]+(-[0-9a-fA-F]+)*")) continue;
          String key = EmojiCatalog.key(stem);
          Target t = byKey.get(key);
          if (t == null || !seen.add(key)) continue;
          out.add(new Item(style, t.concept, t.variant, e.getKey(), e.getValue(), null));
        }
      }
      case ICONIFY -> {
        Map<String, byte[]> files = NpmTarball.read(tarball, p -> p.equals(style.prefix() + "icons.json")
            || p.equals(style.prefix() + "chars.json"));
        byte[] icons = files.get(style.prefix() + "icons.json");
        if (icons == null) throw new DatasetException(tarball.getFileName() + " has no " + style.prefix() + "icons.json");
        IconifySet set = IconifySet.parse(icons, files.get(style.prefix() + "chars.json"));
        Map<String, String> assigned = new HashMap<>(); // key -> icon name
        Set<String> used = new HashSet<>();
        for (var e : set.chars().entrySet()) {
          if (byKey.containsKey(e.getKey()) && set.icons().containsKey(e.getValue()) && !assigned.containsKey(e.getKey())
              && used.add(e.getValue()))
            assigned.put(e.getKey(), e.getValue());
        }
        Map<String, String> compact = new HashMap<>();
        for (String n : set.icons().keySet()) compact.putIfAbsent(n.replace("-", ""), n);
        List<Map.Entry<String, Target>> ordered = new ArrayList<>(byKey.entrySet());
        ordered.sort(Comparator.comparingInt((Map.Entry<String, Target> en) -> en.getValue().concept.id())
            .thenComparing(en -> en.getValue().variant == null ? "" : en.getValue().variant.hexcode()));
        for (var en : ordered) {
          if (assigned.containsKey(en.getKey())) continue;
          for (String cand : candidates(en.getValue(), catalog)) {
            String name = set.icons().containsKey(cand) ? cand : compact.get(cand.replace("-", ""));
            if (name != null && used.add(name)) {
              assigned.put(en.getKey(), name);
              break;
            }
          }
        }
        int px = 64; // nominal; the renderer re-targets the view box to its own size
        for (var en : ordered) {
          String name = assigned.get(en.getKey());
          if (name == null) continue;
          Target t = en.getValue();
          out.add(new Item(style, t.concept, t.variant, style.prefix() + "icons.json#" + name, null,
              set.icons().get(name).toSvg(px)));
        }
      }
    }
    out.sort(Comparator.comparingInt((Item i) -> i.concept().id())
        .thenComparing(i -> i.variant() == null ? "" : i.variant().hexcode()));
    log.debug("{}: {} pictures matched", style.id(), out.size());
    return out;
  }

  private static List<String> candidates(Target t, EmojiCatalog catalog) {
    Set<String> c = new LinkedHashSet<>();
    if (t.variant == null) {
      c.addAll(EmojiCatalog.nameCandidates(t.concept.label(), catalog.altNames(t.concept.hexcode())));
    } else {
      c.add(EmojiCatalog.slug(t.variant.label()));
      String tone = t.variant.tone().replace(" skin tone", "");
      c.add(EmojiCatalog.slug(t.concept.label() + " " + tone));
      for (String alt : catalog.altNames(t.variant.hexcode())) c.add(EmojiCatalog.slug(alt));
    }
    List<String> out = new ArrayList<>(c);
    for (String s : c) out.add(s + "-1");
    return out;
  }

  private static Map<String, Target> targets(EmojiCatalog catalog, SkinTones tones) {
    Map<String, Target> m = new HashMap<>();
    for (Concept c : catalog.concepts()) {
      if (tones == SkinTones.NONE && c.hasSkins()) continue;
      m.put(EmojiCatalog.key(c.hexcode()), new Target(c, null));
      if (tones == SkinTones.ALL)
        for (Concept.Variant v : c.skins()) m.putIfAbsent(EmojiCatalog.key(v.hexcode()), new Target(c, v));
    }
    return m;
  }

  static String utf8(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}
