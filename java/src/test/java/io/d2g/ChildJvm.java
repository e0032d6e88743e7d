package io.d2g;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The command line of a child JVM that runs a test-side main against this build: the test JVM's own
 * java, every class and module path entry of the test run on one class path (the tests themselves run
 * inside the module, patched in; the child needs none of that), native access, the test log kept
 * quiet, and the native library the tests use.
 */
public final class ChildJvm {
  private ChildJvm() {}

  /** {@code java [jvmOptions] -cp ... mainClass args}. */
  public static List<String> command(List<String> jvmOptions, Class<?> mainClass, String... args) {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:-UsePerfData", "-Xshare:auto", "--enable-native-access=ALL-UNNAMED", "-Dd2g.test.log=/dev/null"));
    cmd.addAll(jvmOptions);
    String lib = System.getProperty("d2g.library");
    if (lib != null) cmd.add("-Dd2g.library=" + lib);
    String testClasses = Path.of(mainClass.getProtectionDomain().getCodeSource().getLocation().getPath()).toString();
    List<String> path = Stream.of(testClasses, System.getProperty("jdk.module.path", ""),
            System.getProperty("java.class.path", ""))
        .flatMap(p -> Stream.of(p.split(File.pathSeparator)))
        .filter(p -> !p.isEmpty())
        .distinct()
        .toList();
    cmd.addAll(List.of("-cp", String.join(File.pathSeparator, path), mainClass.getName()));
    cmd.addAll(List.of(args));
    return cmd;
  }
}
