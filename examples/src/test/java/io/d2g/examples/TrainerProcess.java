package io.d2g.examples;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Command lines of mains in JVMs of their own (TrainDenoiser, d2g), for the tests that kill or split runs. */
final class TrainerProcess {
  private TrainerProcess() {}

  /** java ... TrainDenoiser --out OUT with {@code args} (option -> value). */
  static List<String> command(Path out, Map<String, String> args) {
    List<String> rest = new ArrayList<>(List.of("--out", out.toString()));
    new TreeMap<>(args).forEach((k, v) -> rest.addAll(List.of(k, v)));
    return java(TrainDenoiser.class, rest);
  }

  /** java (this JVM, the test class path and native library) running {@code main} with {@code args}. */
  static List<String> java(Class<?> main, List<String> args) {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:-UsePerfData", "-Xshare:auto", "--enable-native-access=ALL-UNNAMED", "-Dd2g.test.log=/dev/null",
        "-cp", System.getProperty("java.class.path")));
    String lib = System.getProperty("d2g.library");
    if (lib != null) cmd.add("-Dd2g.library=" + lib);
    cmd.add(main.getName());
    cmd.addAll(args);
    return cmd;
  }
}
