package io.d2g.it;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.bindings.d2g_h;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Fails when native/include/d2g.h and the jextract-generated bindings disagree (stale bindings). */
class BindingsCoverageTest {
  private static final Pattern FUNCTION = Pattern.compile("D2G_API\\s+[^;(]*?\\b(d2g_\\w+)\\s*\\(");

  static Set<String> headerFunctions() throws Exception {
    Path header = Path.of(System.getProperty("d2g.header", "../native/include/d2g.h"));
    String text = Files.readString(header).replaceAll("(?s)/\\*.*?\\*/", "");
    Set<String> names = new TreeSet<>();
    Matcher m = FUNCTION.matcher(text);
    while (m.find()) names.add(m.group(1));
    return names;
  }

  static Set<String> boundFunctions() {
    return Arrays.stream(d2g_h.class.getMethods())
        .filter(m -> Modifier.isStatic(m.getModifiers()))
        .map(Method::getName)
        .filter(n -> n.startsWith("d2g_") && !n.contains("$"))
        .collect(Collectors.toCollection(TreeSet::new));
  }

  @Test
  void everyFunctionInTheHeaderIsBound() throws Exception {
    Set<String> header = headerFunctions();
    assertTrue(header.size() > 20, "parsed too few functions from d2g.h: " + header);
    Set<String> missing = new TreeSet<>(header);
    missing.removeAll(boundFunctions());
    assertTrue(missing.isEmpty(), "d2g.h declares functions the bindings lack " + missing
        + ": regenerate them with bindings/regenerate.sh");
  }

  @Test
  void noBoundFunctionIsGoneFromTheHeader() throws Exception {
    Set<String> extra = new TreeSet<>(boundFunctions());
    extra.removeAll(headerFunctions());
    assertTrue(extra.isEmpty(), "bindings have functions d2g.h no longer declares " + extra
        + ": regenerate them with bindings/regenerate.sh");
  }
}
