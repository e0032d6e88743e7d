package io.d2g;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

  /** How a child run ended and what it printed (standard output and error together). */
  public record Run(int exit, String output) {}

  /**
   * Runs {@code cmd}, collecting its output; with {@code killAfterStep >= 0} it is killed with SIGKILL (no
   * shutdown hooks, no flushing) {@code delayMs} after it logs a line beginning {@code "step N/"}, as the
   * trainers log their steps. Fails the test if the child has not ended 300 s after its output does.
   */
  public static Run runKillingAfterStep(List<String> cmd, int killAfterStep, int delayMs)
      throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    StringBuilder log = new StringBuilder();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
      for (String line; (line = r.readLine()) != null; ) {
        log.append(line).append('\n');
        if (killAfterStep >= 0 && line.startsWith("step " + killAfterStep + "/")) {
          if (delayMs > 0) Thread.sleep(delayMs);
          p.destroyForcibly();
          break;
        }
      }
    }
    if (!p.waitFor(300, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("the child did not finish: " + log);
    }
    return new Run(p.exitValue(), log.toString());
  }
}
