package io.d2g.examples;

import io.d2g.ChildJvm;
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
    return ChildJvm.command(List.of(), main, args.toArray(String[]::new));
  }
}
