package io.d2g.nn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.InvalidArgumentException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;

/**
 * A model configuration as the native side reads it: keys of the reference config.json (diffusers,
 * transformers) with scalar or list values. {@link #toNative()} gives the "key=value" lines that
 * d2g_module_create takes. Nulls and nested objects are left out; keys starting with '_' too.
 */
public final class ModuleConfig {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final LinkedHashMap<String, String> values = new LinkedHashMap<>();

  public static ModuleConfig of(Map<String, ?> map) {
    ModuleConfig c = new ModuleConfig();
    map.forEach(c::set);
    return c;
  }

  public static ModuleConfig fromJson(JsonNode node) {
    if (!node.isObject()) throw new InvalidArgumentException("a model config must be a JSON object");
    ModuleConfig c = new ModuleConfig();
    for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
      var e = it.next();
      String v = scalarOrList(e.getValue());
      if (v != null && !e.getKey().startsWith("_")) c.values.put(e.getKey(), v);
    }
    return c;
  }

  public static ModuleConfig read(Path configJson) {
    try {
      return fromJson(JSON.readTree(Files.readString(configJson)));
    } catch (IOException e) {
      throw new InvalidArgumentException("cannot read model config " + configJson + ": " + e.getMessage());
    }
  }

  private static String scalarOrList(JsonNode v) {
    if (v == null || v.isNull() || v.isObject()) return null;
    if (v.isArray()) {
      StringJoiner j = new StringJoiner(",");
      for (JsonNode x : v) {
        if (!x.isValueNode() || x.isNull()) return null;
        j.add(x.asText());
      }
      return j.toString();
    }
    return v.asText();
  }

  /** Sets a key to a scalar, a list/array of scalars, or removes it for null. */
  public ModuleConfig set(String key, Object value) {
    if (key.isEmpty() || key.contains("=") || key.contains("\n"))
      throw new InvalidArgumentException("bad config key '" + key + "'");
    if (value == null) {
      values.remove(key);
      return this;
    }
    String v;
    if (value instanceof List<?> list) {
      StringJoiner j = new StringJoiner(",");
      list.forEach(x -> j.add(String.valueOf(x)));
      v = j.toString();
    } else if (value instanceof int[] a) {
      StringJoiner j = new StringJoiner(",");
      for (int x : a) j.add(Integer.toString(x));
      v = j.toString();
    } else if (value instanceof long[] a) {
      StringJoiner j = new StringJoiner(",");
      for (long x : a) j.add(Long.toString(x));
      v = j.toString();
    } else if (value instanceof Object[] a) {
      StringJoiner j = new StringJoiner(",");
      for (Object x : a) j.add(String.valueOf(x));
      v = j.toString();
    } else {
      v = String.valueOf(value);
    }
    if (v.contains("\n")) throw new InvalidArgumentException("config value of '" + key + "' has a line break");
    values.put(key, v);
    return this;
  }

  public String get(String key) {
    return values.get(key);
  }

  public Map<String, String> asMap() {
    return java.util.Collections.unmodifiableMap(values);
  }

  /** The "key=value" lines d2g_module_create reads. */
  public String toNative() {
    StringBuilder sb = new StringBuilder();
    values.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
    return sb.toString();
  }

  @Override
  public String toString() {
    return values.toString();
  }
}
