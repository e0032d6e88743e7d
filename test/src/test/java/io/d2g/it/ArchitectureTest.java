package io.d2g.it;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.DType;
import io.d2g.Tensor;
import io.d2g.internal.Native;
import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.constantpool.ClassEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The layout's rules, checked on the code itself: the generated bindings are used only by {@code
 * io.d2g.internal}; the module exports the public packages and nothing else and works on the module
 * path; in native/src, {@code extern "C"} lives only in capi/ and includes point one way (capi →
 * pipelines → models → nn → core, with kernels/ serving nn and the capi's switch for them); the Java
 * enums cover the header's enums.
 */
class ArchitectureTest {
  static Path root() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent())
      if (Files.isDirectory(d.resolve("native/src")) && Files.isRegularFile(d.resolve("pom.xml"))) return d;
    throw new IllegalStateException("repository root not found above " + Path.of("").toAbsolutePath());
  }

  /** Class files of the library, the examples and the benchmarks (the modules this build compiled). */
  static List<Path> classFiles() throws IOException {
    List<Path> out = new ArrayList<>();
    for (String m : List.of("java", "examples", "benchmarks")) {
      Path dir = root().resolve(m).resolve("target/classes");
      if (!Files.isDirectory(dir)) continue;
      try (Stream<Path> s = Files.walk(dir)) {
        s.filter(p -> p.toString().endsWith(".class")).forEach(out::add);
      }
    }
    return out;
  }

  @Test
  void onlyTheInternalGlueUsesTheBindings() throws IOException {
    List<Path> files = classFiles();
    assertTrue(files.size() > 100, "compiled classes not found: " + files.size());
    Set<String> offenders = new TreeSet<>();
    for (Path f : files) {
      var model = ClassFile.of().parse(Files.readAllBytes(f));
      String name = model.thisClass().asInternalName();
      if (name.startsWith("io/d2g/internal/") || name.startsWith("io/d2g/bindings/")) continue;
      for (PoolEntry e : model.constantPool())
        if (e instanceof ClassEntry c && c.asInternalName().startsWith("io/d2g/bindings/")) offenders.add(name);
    }
    assertEquals(Set.of(), offenders, "these classes use the generated bindings directly; go through io.d2g.internal");
  }

  static Path moduleJar(String artifact) {
    for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator))
      if (e.contains(artifact)) return Path.of(e);
    throw new IllegalStateException(artifact + " is not on the test classpath");
  }

  @Test
  void theModuleExportsThePublicPackagesOnly() {
    ModuleDescriptor d2g = ModuleFinder.of(moduleJar("d2g-0.1.0")).find("io.d2g").orElseThrow().descriptor();
    Set<String> exported = d2g.exports().stream().filter(e -> !e.isQualified()).map(ModuleDescriptor.Exports::source)
        .collect(Collectors.toCollection(TreeSet::new));
    assertEquals(new TreeSet<>(Set.of("io.d2g", "io.d2g.cli", "io.d2g.data", "io.d2g.data.emoji", "io.d2g.data.npm",
        "io.d2g.diffusion", "io.d2g.eval", "io.d2g.hub", "io.d2g.io", "io.d2g.models", "io.d2g.nn", "io.d2g.pairs", "io.d2g.pipelines", "io.d2g.schedulers", "io.d2g.train")),
        exported);
    assertTrue(d2g.packages().contains("io.d2g.internal"));
    ModuleDescriptor bindings = ModuleFinder.of(moduleJar("d2g-bindings")).find("io.d2g.bindings").orElseThrow()
        .descriptor();
    assertEquals(Set.of("io.d2g"), bindings.exports().iterator().next().targets(),
        "the bindings are exported to the library alone");
  }

  @Test
  void theCommandLineRunsOnTheModulePathWithoutWarnings() throws Exception {
    String modulePath = Stream.of(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
        .filter(e -> e.endsWith(".jar") && !e.contains("junit") && !e.contains("opentest4j") && !e.contains("apiguardian")
            && !e.contains("d2g-examples") && !e.endsWith("-tests.jar")) // the library's test fixtures are no module
        .collect(Collectors.joining(java.io.File.pathSeparator));
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=io.d2g,io.d2g.bindings", "--module-path", modulePath));
    String lib = System.getProperty("d2g.library");
    if (lib != null) cmd.add("-Dd2g.library=" + lib);
    cmd.addAll(List.of("-m", "io.d2g/io.d2g.cli.Main", "info"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("LibTorch") && out.contains("device           cpu"), out);
    assertFalse(out.contains("WARNING"), out);
  }

  // ---- native/src ----

  private static final Pattern INCLUDE = Pattern.compile("#include \"\\.\\./(\\w+)/");
  /** Which folder may include which: each only what lies below it. */
  private static final Map<String, Set<String>> MAY_INCLUDE = Map.of(
      "core", Set.of("core"),
      "kernels", Set.of("core", "kernels"),
      "nn", Set.of("core", "kernels", "nn"),
      "models", Set.of("core", "kernels", "nn", "models"),
      "pipelines", Set.of("core", "nn", "models", "pipelines"),
      "train", Set.of("core", "kernels", "nn", "models", "dist", "train"),
      "dist", Set.of("core", "dist"),
      "capi", Set.of("core", "kernels", "nn", "models", "pipelines", "train", "dist", "capi"));

  @Test
  void nativeLayersPointOneWayAndOnlyCapiIsExternC() throws IOException {
    Path src = root().resolve("native/src");
    Map<String, String> problems = new TreeMap<>();
    try (Stream<Path> s = Files.walk(src)) {
      for (Path f : s.filter(Files::isRegularFile).toList()) {
        String folder = src.relativize(f).getName(0).toString();
        String text = Files.readString(f);
        String code = text.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\n]*", "");
        if (!folder.equals("capi") && code.contains("extern \"C\""))
          problems.put(src.relativize(f).toString(), "extern \"C\" outside capi/");
        assertTrue(MAY_INCLUDE.containsKey(folder), "unknown folder native/src/" + folder);
        Matcher m = INCLUDE.matcher(code);
        while (m.find())
          if (!MAY_INCLUDE.get(folder).contains(m.group(1)))
            problems.put(src.relativize(f).toString(), "includes " + m.group(1) + "/, which " + folder + "/ may not use");
      }
    }
    assertEquals(Map.of(), problems);
  }

  @Test
  void javaEnumsCoverTheHeadersEnums() throws IOException {
    String header = Files.readString(root().resolve("native/include/d2g.h"));
    Matcher m = Pattern.compile("(?s)typedef enum d2g_dtype \\{(.*?)\\}").matcher(header);
    assertTrue(m.find());
    Set<String> names = new TreeSet<>();
    Matcher e = Pattern.compile("D2G_(\\w+)\\s*=\\s*(\\d+)").matcher(m.group(1));
    while (e.find()) {
      names.add(e.group(1));
      DType t = DType.valueOf(e.group(1));
      assertEquals(Integer.parseInt(e.group(2)), Native.dtypeCode(t), t.toString());
      assertEquals(t, Native.dtype(Native.dtypeCode(t)));
    }
    assertEquals(DType.values().length, names.size(), "every DType is in d2g_dtype and back: " + names);
    for (String code : List.of("OK", "INVALID_ARGUMENT", "OUT_OF_MEMORY", "DEVICE_UNAVAILABLE", "NATIVE_FAILURE",
        "IO_ERROR")) {
      Matcher c = Pattern.compile("D2G_" + code + "\\s*=\\s*(\\d+)").matcher(header);
      assertTrue(c.find(), code);
      assertEquals(Integer.parseInt(c.group(1)), Native.statusCodes().get(code), code);
    }
    Matcher dims = Pattern.compile("#define D2G_MAX_DIMS (\\d+)").matcher(header);
    assertTrue(dims.find());
    assertEquals(Integer.parseInt(dims.group(1)), Tensor.MAX_DIMS, "Tensor.MAX_DIMS is the header's D2G_MAX_DIMS");
  }
}
