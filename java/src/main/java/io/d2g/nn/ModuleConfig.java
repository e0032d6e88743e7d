package io.d2g.nn;

import io.d2g.InvalidArgumentException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.regex.Pattern;

/**
 * The configuration a native module is created from, as the C API takes it: keys of the reference
 * config.json (lower-case letters, digits and '_') with scalar values, lists (comma-separated) and
 * lists of lists (';' between them). The model classes write it from their typed configs (for
 * example {@link io.d2g.models.UNet2DConditionConfig#toModuleConfig()}); {@link #toNative()} gives
 * the text. Keys and values are checked as they are set, so that no value can carry a line break, a
 * separator or another key into the text: there is nothing a value can break out of.
 */
public final class ModuleConfig {
  private static final Pattern KEY = Pattern.compile("[a-z0-9_]{1,64}");
  /** Printable ASCII without the separators ('=', ',', ';'). */
  private static final Pattern ITEM = Pattern.compile("[\\x20-\\x7e&&[^=,;]]{0,256}");

  private final LinkedHashMap<String, String> values = new LinkedHashMap<>();

  public ModuleConfig() {}

  /** A config of the given keys and values (see {@link #set}). */
  public static ModuleConfig of(Map<String, ?> map) {
    ModuleConfig c = new ModuleConfig();
    map.forEach(c::set);
    return c;
  }

  /**
   * Sets a key to a scalar (number, boolean, string) or a list or array of scalars; null removes it.
   *
   * @throws InvalidArgumentException for a key or value the native text cannot hold
   */
  public ModuleConfig set(String key, Object value) {
    checkKey(key);
    if (value == null) {
      values.remove(key);
      return this;
    }
    List<Object> items = items(value);
    StringJoiner j = new StringJoiner(",");
    for (Object x : items) j.add(item(key, x));
    values.put(key, j.toString());
    return this;
  }

  /** Sets a key to a list of lists of integers ("1,2;2,3"). */
  public ModuleConfig setNested(String key, List<List<Integer>> value) {
    checkKey(key);
    StringJoiner outer = new StringJoiner(";");
    for (List<Integer> inner : value) {
      StringJoiner j = new StringJoiner(",");
      for (Integer x : inner) j.add(item(key, x));
      outer.add(j.toString());
    }
    values.put(key, outer.toString());
    return this;
  }

  private static void checkKey(String key) {
    if (key == null || !KEY.matcher(key).matches())
      throw new InvalidArgumentException("config key '" + key + "' is not a key (lower-case letters, digits and '_')");
  }

  private static List<Object> items(Object value) {
    List<Object> out = new ArrayList<>();
    if (value instanceof List<?> list) out.addAll(list);
    else if (value instanceof int[] a) for (int x : a) out.add(x);
    else if (value instanceof long[] a) for (long x : a) out.add(x);
    else if (value instanceof double[] a) for (double x : a) out.add(x);
    else if (value instanceof boolean[] a) for (boolean x : a) out.add(x);
    else if (value instanceof Object[] a) Collections.addAll(out, a);
    else out.add(value);
    return out;
  }

  private static String item(String key, Object x) {
    if (x == null) throw new InvalidArgumentException("config key '" + key + "' holds null");
    if (!(x instanceof Number || x instanceof Boolean || x instanceof CharSequence || x instanceof Enum<?>))
      throw new InvalidArgumentException("config key '" + key + "' holds a " + x.getClass().getSimpleName()
          + ", not a number, boolean or name");
    String v = x instanceof Double d ? Double.toString(d) : String.valueOf(x);
    if (!ITEM.matcher(v).matches())
      throw new InvalidArgumentException("config key '" + key + "': '" + v + "' is not a value a config can hold "
          + "(printable ASCII without '=', ',' or ';', at most 256 characters)");
    return v;
  }

  /** The value's text, or null. */
  public String get(String key) {
    return values.get(key);
  }

  public Map<String, String> asMap() {
    return Collections.unmodifiableMap(values);
  }

  /** The "key=value" lines d2g_module_create reads. */
  public String toNative() {
    StringBuilder sb = new StringBuilder();
    values.forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
    return sb.toString();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ModuleConfig c && c.values.equals(values);
  }

  @Override
  public int hashCode() {
    return values.hashCode();
  }

  @Override
  public String toString() {
    return values.toString();
  }
}
