package io.d2g.data.emoji;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.data.DatasetException;
import io.d2g.data.npm.NpmTarball;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The concepts and their English captions, from the emojibase-data package: {@code en/data.json}
 * (label, tags, group, subgroup, skins), {@code meta/groups.json} (group and subgroup names),
 * {@code meta/unicode-names.json} and {@code en/shortcodes/*.json} (names used to map icon sets that
 * have no codepoints). Regional indicators and the "component" group (skin-tone swatches, hair
 * components) are not concepts and are left out.
 */
public final class EmojiCatalog {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String DATA = "package/en/data.json";
  static final String GROUPS = "package/meta/groups.json";
  static final String UNICODE_NAMES = "package/meta/unicode-names.json";
  static final List<String> SHORTCODE_SETS = List.of("cldr", "emojibase", "joypixels", "iamcal", "github");

  private final List<Concept> concepts;
  private final Map<String, Concept> byKey = new HashMap<>();
  private final Map<String, List<String>> altNames;

  private EmojiCatalog(List<Concept> concepts, Map<String, List<String>> altNames) {
    this.concepts = List.copyOf(concepts);
    for (Concept c : concepts) byKey.put(key(c.hexcode()), c);
    this.altNames = altNames;
  }

  /** Reads the catalogue from an emojibase-data tarball. */
  public static EmojiCatalog load(Path emojibaseTarball) {
    Map<String, byte[]> files = NpmTarball.read(emojibaseTarball, p -> p.equals(DATA) || p.equals(GROUPS)
        || p.equals(UNICODE_NAMES) || (p.startsWith("package/en/shortcodes/") && p.endsWith(".json")));
    return parse(files);
  }

  /** Parses the files of the emojibase-data package, keyed by their path in the tarball. */
  public static EmojiCatalog parse(Map<String, byte[]> files) {
    try {
      byte[] data = files.get(DATA);
      if (data == null) throw new DatasetException("emojibase-data has no " + DATA);
      JsonNode groupsJson = files.containsKey(GROUPS) ? JSON.readTree(files.get(GROUPS)) : JSON.createObjectNode();
      JsonNode root = JSON.readTree(data);
      List<JsonNode> entries = new ArrayList<>();
      root.forEach(entries::add);
      entries.removeIf(e -> !e.has("group") || groupName(groupsJson, e.path("group").asInt()).equals("component"));
      entries.sort((a, b) -> Integer.compare(a.path("order").asInt(Integer.MAX_VALUE), b.path("order").asInt(Integer.MAX_VALUE)));
      List<Concept> concepts = new ArrayList<>();
      for (JsonNode e : entries) {
        List<String> tags = new ArrayList<>();
        e.path("tags").forEach(t -> tags.add(t.asText()));
        List<Concept.Variant> skins = new ArrayList<>();
        for (JsonNode s : e.path("skins")) {
          String label = s.path("label").asText();
          int colon = label.indexOf(": ");
          String tone = colon >= 0 ? label.substring(colon + 2) : toneName(s.path("tone"));
          skins.add(new Concept.Variant(stripFe0f(s.path("hexcode").asText()), label, tone));
        }
        concepts.add(new Concept(concepts.size(), stripFe0f(e.path("hexcode").asText()), e.path("emoji").asText(),
            e.path("label").asText(), List.copyOf(tags), groupName(groupsJson, e.path("group").asInt()),
            subgroupName(groupsJson, e.path("subgroup").asInt(-1)), List.copyOf(skins)));
      }
      // other names of each codepoint (for icon sets keyed by English names)
      Map<String, List<String>> alt = new HashMap<>();
      if (files.containsKey(UNICODE_NAMES)) addNames(alt, JSON.readTree(files.get(UNICODE_NAMES)));
      for (String set : SHORTCODE_SETS) {
        byte[] b = files.get("package/en/shortcodes/" + set + ".json");
        if (b != null) addNames(alt, JSON.readTree(b));
      }
      return new EmojiCatalog(concepts, alt);
    } catch (IOException e) {
      throw new DatasetException("emojibase-data is not valid JSON: " + e.getMessage(), e);
    }
  }

  private static void addNames(Map<String, List<String>> alt, JsonNode map) {
    map.properties().forEach(en -> {
      List<String> l = alt.computeIfAbsent(key(en.getKey()), k -> new ArrayList<>());
      if (en.getValue().isArray()) en.getValue().forEach(v -> l.add(v.asText()));
      else l.add(en.getValue().asText());
    });
  }

  private static String toneName(JsonNode tone) {
    String[] names = {"", "light skin tone", "medium-light skin tone", "medium skin tone", "medium-dark skin tone",
        "dark skin tone"};
    if (tone.isInt() && tone.asInt() > 0 && tone.asInt() < names.length) return names[tone.asInt()];
    List<String> parts = new ArrayList<>();
    tone.forEach(t -> {
      if (t.asInt() > 0 && t.asInt() < names.length) parts.add(names[t.asInt()]);  // the package's 1..5; others ignored
    });
    return String.join(", ", parts);
  }

  private static String groupName(JsonNode groups, int g) {
    return groups.path("groups").path(Integer.toString(g)).asText("group-" + g);
  }

  private static String subgroupName(JsonNode groups, int s) {
    return s < 0 ? "" : groups.path("subgroups").path(Integer.toString(s)).asText("subgroup-" + s);
  }

  public List<Concept> concepts() {
    return concepts;
  }

  /** The concept a codepoint sequence belongs to (base or skin variant), or null. */
  public Concept find(String hexcode) {
    return byKey.get(key(hexcode));
  }

  /** Other names of a codepoint sequence: Unicode name and shortcodes. */
  public List<String> altNames(String hexcode) {
    return altNames.getOrDefault(key(hexcode), Collections.emptyList());
  }

  /** Normalises a codepoint sequence for matching: upper case, '-' separated, without FE0F. */
  public static String key(String hexcode) {
    StringBuilder sb = new StringBuilder();
    for (String part : hexcode.toUpperCase(Locale.ROOT).replace('_', '-').split("-")) {
      if (part.isEmpty() || part.equals("FE0F")) continue;
      String p = part.replaceFirst("^0+(?=.)", "");
      if (!sb.isEmpty()) sb.append('-');
      sb.append(p.length() < 4 ? "0".repeat(4 - p.length()) + p : p);
    }
    return sb.toString();
  }

  static String stripFe0f(String hexcode) {
    return key(hexcode);
  }

  /** Candidate icon names for a label: slug ("grinning-face") forms. */
  static Set<String> nameCandidates(String label, List<String> alternatives) {
    Set<String> out = new LinkedHashSet<>();
    out.add(slug(label));
    if (label.startsWith("flag: ")) out.add(slug("flag " + label.substring(6)));
    for (String a : alternatives) out.add(slug(a));
    out.remove("");
    return out;
  }

  /** Lower case, runs of anything but letters and digits become one '-'. */
  public static String slug(String s) {
    String t = java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFD).replaceAll("\\p{M}", "");
    t = t.toLowerCase(Locale.ROOT).replace("’", "").replace("'", "").replace("&", "and");
    return t.replaceAll("[^a-z0-9]+", "-").replaceAll("^-|-$", "");
  }
}
