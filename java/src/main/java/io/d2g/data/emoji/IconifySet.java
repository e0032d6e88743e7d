package io.d2g.data.emoji;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.data.DatasetException;
import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * An iconify JSON icon set ({@code icons.json}, optionally {@code chars.json}): SVG bodies with a
 * view box, aliases with flips and quarter-turn rotations, and codepoint to name for sets that have it.
 */
public final class IconifySet {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A resolved icon: SVG body, its box, and the transformations an alias adds. */
  public record Icon(String name, String body, double left, double top, double width, double height, boolean hFlip,
      boolean vFlip, int rotate) {

    /** A standalone SVG document of this icon, {@code px} pixels square. */
    public String toSvg(int px) {
      String inner = body;
      double cx = left + width / 2, cy = top + height / 2;
      StringBuilder tf = new StringBuilder();
      if (rotate % 4 != 0) tf.append("rotate(").append(90 * (rotate % 4)).append(' ').append(cx).append(' ').append(cy).append(") ");
      if (hFlip) tf.append("translate(").append(2 * left + width).append(" 0) scale(-1 1) ");
      if (vFlip) tf.append("translate(0 ").append(2 * top + height).append(") scale(1 -1) ");
      if (!tf.isEmpty()) inner = "<g transform=\"" + tf.toString().trim() + "\">" + body + "</g>";
      return "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"" + px
          + "\" height=\"" + px + "\" viewBox=\"" + fmt(left) + " " + fmt(top) + " " + fmt(width) + " " + fmt(height)
          + "\" preserveAspectRatio=\"xMidYMid meet\">" + inner + "</svg>";
    }

    private static String fmt(double v) {
      return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
  }

  private final Map<String, Icon> icons; // names and aliases, sorted
  private final Map<String, String> chars; // normalised codepoint key -> icon name

  private IconifySet(Map<String, Icon> icons, Map<String, String> chars) {
    this.icons = icons;
    this.chars = chars;
  }

  public static IconifySet parse(byte[] iconsJson, byte[] charsJson) {
    try {
      JsonNode root = JSON.readTree(iconsJson);
      double dw = root.path("width").asDouble(16), dh = root.path("height").asDouble(16);
      double dl = root.path("left").asDouble(0), dt = root.path("top").asDouble(0);
      Map<String, Icon> icons = new TreeMap<>();
      root.path("icons").properties().forEach(e -> {
        JsonNode n = e.getValue();
        if (!n.hasNonNull("body")) return;
        icons.put(e.getKey(), new Icon(e.getKey(), n.get("body").asText(), n.path("left").asDouble(dl),
            n.path("top").asDouble(dt), n.path("width").asDouble(dw), n.path("height").asDouble(dh),
            n.path("hFlip").asBoolean(false), n.path("vFlip").asBoolean(false), n.path("rotate").asInt(0)));
      });
      JsonNode aliases = root.path("aliases");
      aliases.properties().forEach(e -> {
        Icon resolved = resolveAlias(e.getKey(), aliases, icons, 0);
        if (resolved != null) icons.put(e.getKey(), resolved);
      });
      Map<String, String> chars = new LinkedHashMap<>();
      if (charsJson != null) {
        Map<String, String> sorted = new TreeMap<>();
        JSON.readTree(charsJson).properties().forEach(e -> sorted.put(EmojiCatalog.key(e.getKey()), e.getValue().asText()));
        chars.putAll(sorted);
      }
      return new IconifySet(Collections.unmodifiableMap(icons), Collections.unmodifiableMap(chars));
    } catch (IOException e) {
      throw new DatasetException("iconify icon set is not valid JSON: " + e.getMessage(), e);
    }
  }

  private static Icon resolveAlias(String name, JsonNode aliases, Map<String, Icon> icons, int depth) {
    JsonNode a = aliases.path(name);
    if (depth > 8 || a.isMissingNode()) return null;
    String parent = a.path("parent").asText(null);
    if (parent == null) return null;
    Icon p = aliases.has(parent) && !icons.containsKey(parent) ? resolveAlias(parent, aliases, icons, depth + 1)
        : icons.get(parent);
    if (p == null) return null;
    return new Icon(name, p.body(), a.path("left").asDouble(p.left()), a.path("top").asDouble(p.top()),
        a.path("width").asDouble(p.width()), a.path("height").asDouble(p.height()),
        p.hFlip() ^ a.path("hFlip").asBoolean(false), p.vFlip() ^ a.path("vFlip").asBoolean(false),
        p.rotate() + a.path("rotate").asInt(0));
  }

  /** Icons and aliases by name. */
  public Map<String, Icon> icons() {
    return icons;
  }

  /** Normalised codepoint key to icon name (empty when the set has no chars.json). */
  public Map<String, String> chars() {
    return chars;
  }
}
