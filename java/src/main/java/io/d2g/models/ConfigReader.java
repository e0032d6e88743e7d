package io.d2g.models;

import com.fasterxml.jackson.databind.JsonNode;
import io.d2g.InvalidArgumentException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Reads the keys of a reference config.json (diffusers, transformers) with their libraries' meaning:
 * a missing key takes the default; a key present with JSON {@code null} is passed on as null (which
 * is not the default: diffusers hands it to the constructor as {@code None}), so each key says what
 * null means for it. Wrong types and out-of-range values are {@link InvalidArgumentException}s that
 * name the key.
 */
final class ConfigReader {
  private final JsonNode json;
  private final String where;

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  /** A config.json file's JSON object; an {@link InvalidArgumentException} naming the file otherwise. */
  static JsonNode readFile(java.nio.file.Path file) {
    try {
      JsonNode n = JSON.readTree(java.nio.file.Files.readString(file));
      if (n == null || !n.isObject()) throw new InvalidArgumentException(file + " is not a JSON object");
      return n;
    } catch (java.io.IOException e) {
      throw new InvalidArgumentException("cannot read the config " + file + ": " + e.getMessage());
    }
  }

  ConfigReader(JsonNode json, String where) {
    if (json == null || !json.isObject()) throw new InvalidArgumentException(where + ": a config is a JSON object");
    this.json = json;
    this.where = where;
  }

  InvalidArgumentException error(String key, String what) {
    return new InvalidArgumentException(where + ": config key '" + key + "' " + what);
  }

  /** Present and not null. */
  boolean has(String key) {
    JsonNode n = json.get(key);
    return n != null && !n.isNull();
  }

  /** Present with the value null. */
  boolean isNull(String key) {
    JsonNode n = json.get(key);
    return n != null && n.isNull();
  }

  private JsonNode required(String key) {
    JsonNode n = json.get(key);
    if (n.isNull()) throw error(key, "is null, which this model cannot be built with (leave it out for the default)");
    return n;
  }

  int integer(String key, int dflt, int min, int max) {
    if (!json.has(key)) return check(key, dflt, min, max);
    return check(key, toInt(key, required(key)), min, max);
  }

  private int toInt(String key, JsonNode n) {
    if (n.isIntegralNumber() && n.canConvertToInt()) return n.intValue();
    if (n.isNumber() && n.doubleValue() == Math.rint(n.doubleValue()) && Math.abs(n.doubleValue()) < 1e9)
      return (int) n.doubleValue();
    throw error(key, "must be an integer, not " + n);
  }

  private int check(String key, int v, int min, int max) {
    if (v < min || v > max) throw error(key, "must be " + min + " to " + max + ", not " + v);
    return v;
  }

  /** An integer that may be null (then null). */
  Integer nullableInteger(String key, Integer dflt, int min, int max) {
    if (!json.has(key)) return dflt;
    if (json.get(key).isNull()) return null;
    return check(key, toInt(key, json.get(key)), min, max);
  }

  double number(String key, double dflt, double min, double max) {
    double v = dflt;
    if (json.has(key)) {
      JsonNode n = required(key);
      if (!n.isNumber()) throw error(key, "must be a number, not " + n);
      v = n.doubleValue();
    }
    if (!(v >= min && v <= max)) throw error(key, "must be " + min + " to " + max + ", not " + v);
    return v;
  }

  /** A boolean; {@code nullIsFalse}: JSON null means false (Python truthiness of None), else null is an error. */
  boolean bool(String key, boolean dflt, boolean nullIsFalse) {
    if (!json.has(key)) return dflt;
    JsonNode n = json.get(key);
    if (n.isNull()) {
      if (nullIsFalse) return false;
      throw error(key, "is null, which this model cannot be built with (leave it out for the default)");
    }
    if (!n.isBoolean()) throw error(key, "must be true or false, not " + n);
    return n.booleanValue();
  }

  String string(String key, String dflt) {
    if (!json.has(key)) return dflt;
    JsonNode n = required(key);
    if (!n.isTextual()) throw error(key, "must be a string, not " + n);
    return n.textValue();
  }

  /** A string that may be null (then null). */
  String nullableString(String key, String dflt) {
    if (!json.has(key)) return dflt;
    JsonNode n = json.get(key);
    if (n.isNull()) return null;
    if (!n.isTextual()) throw error(key, "must be a string, not " + n);
    return n.textValue();
  }

  List<String> strings(String key, List<String> dflt) {
    if (!json.has(key)) return dflt;
    JsonNode n = required(key);
    if (!n.isArray() || n.isEmpty()) throw error(key, "must be a non-empty list of names, not " + n);
    List<String> out = new ArrayList<>();
    for (JsonNode x : n) {
      if (!x.isTextual()) throw error(key, "must hold names, not " + x);
      out.add(x.textValue());
    }
    return List.copyOf(out);
  }

  /** A list of integers, each in range (null entries refused). */
  List<Integer> integers(String key, List<Integer> dflt, int min, int max) {
    if (!json.has(key)) return dflt;
    JsonNode n = required(key);
    if (!n.isArray() || n.isEmpty()) throw error(key, "must be a non-empty list of integers, not " + n);
    List<Integer> out = new ArrayList<>();
    for (JsonNode x : n) {
      if (x.isNull()) throw error(key, "holds null");
      out.add(check(key, toInt(key, x), min, max));
    }
    return List.copyOf(out);
  }

  /**
   * One integer per block: a single integer repeated, or a list of {@code blocks}; with {@code
   * nullEntries}, entries may be null (kept as null) for blocks that never read them.
   */
  List<Integer> perBlock(String key, int dflt, int blocks, int min, int max, boolean nullEntries) {
    if (!json.has(key)) return Collections.nCopies(blocks, dflt);
    JsonNode n = required(key);
    if (!n.isArray()) return Collections.nCopies(blocks, check(key, toInt(key, n), min, max));
    if (n.size() != blocks) throw error(key, "has " + n.size() + " values, expected 1 or " + blocks + " (one per block)");
    List<Integer> out = new ArrayList<>();
    for (JsonNode x : n) {
      if (x.isNull()) {
        if (!nullEntries) throw error(key, "holds null");
        out.add(null);
      } else {
        out.add(check(key, toInt(key, x), min, max));
      }
    }
    return Collections.unmodifiableList(out);
  }

  /** One boolean per block: a single boolean repeated, or a list of {@code blocks}. */
  List<Boolean> perBlockBool(String key, boolean dflt, int blocks) {
    if (!json.has(key)) return Collections.nCopies(blocks, dflt);
    JsonNode n = required(key);
    if (n.isBoolean()) return Collections.nCopies(blocks, n.booleanValue());
    if (!n.isArray() || n.size() != blocks)
      throw error(key, "must be true, false or a list of " + blocks + " of them, not " + n);
    List<Boolean> out = new ArrayList<>();
    for (JsonNode x : n) {
      if (!x.isBoolean()) throw error(key, "must hold true or false, not " + x);
      out.add(x.booleanValue());
    }
    return List.copyOf(out);
  }

  /**
   * Per block, per layer: an integer (every layer of every block), a list with one entry per block,
   * each an integer (every layer of that block) or a list with one entry per layer. Null when the
   * key is null or missing and {@code dflt} is null.
   */
  List<List<Integer>> perBlockPerLayer(String key, Integer dflt, List<Integer> layers, int min, int max) {
    int blocks = layers.size();
    if (!json.has(key) || json.get(key).isNull()) {
      if (dflt == null) return null;
      List<List<Integer>> out = new ArrayList<>();
      for (int b = 0; b < blocks; b++) out.add(Collections.nCopies(layers.get(b), dflt));
      return List.copyOf(out);
    }
    JsonNode n = json.get(key);
    List<List<Integer>> out = new ArrayList<>();
    if (!n.isArray()) {
      int v = check(key, toInt(key, n), min, max);
      for (int b = 0; b < blocks; b++) out.add(Collections.nCopies(layers.get(b), v));
      return List.copyOf(out);
    }
    if (n.size() != blocks) throw error(key, "has " + n.size() + " entries, expected 1 or " + blocks + " (one per block)");
    for (int b = 0; b < blocks; b++) {
      JsonNode x = n.get(b);
      if (x.isArray()) {
        if (x.size() < layers.get(b))
          throw error(key, "entry " + b + " has " + x.size() + " values but the block has " + layers.get(b) + " layers");
        List<Integer> inner = new ArrayList<>();
        // as diffusers: an inner list longer than the block's layers has its extra entries ignored
        for (int l = 0; l < layers.get(b); l++) inner.add(check(key, toInt(key, x.get(l)), min, max));
        out.add(List.copyOf(inner));
      } else {
        out.add(Collections.nCopies(layers.get(b), check(key, toInt(key, x), min, max)));
      }
    }
    return List.copyOf(out);
  }

  /** Whether the key holds a list with a list inside (diffusers' "asymmetrical" nested form). */
  boolean nested(String key) {
    JsonNode n = json.get(key);
    if (n == null || !n.isArray()) return false;
    for (JsonNode x : n) if (x.isArray()) return true;
    return false;
  }

  /** Refuses a key unless it is missing, null or equal to {@code allowed} (null: only missing or null). */
  void refuseUnless(String key, Object allowed, String why) {
    if (!has(key)) return;
    JsonNode n = json.get(key);
    if (allowed != null && n.isValueNode() && n.asText().equals(String.valueOf(allowed))) return;
    throw error(key, "(= " + (n.isValueNode() ? n.asText() : n.toString()) + ") is not supported: " + why);
  }
}
