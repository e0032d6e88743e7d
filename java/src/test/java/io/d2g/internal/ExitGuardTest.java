package io.d2g.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.d2g.ChildJvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JVM exits cleanly while threads are inside native work: {@link ExitDuringWork} in child JVMs,
 * exiting at several moments. Without {@link ExitGuard} about one exit in three crashed (SIGSEGV in
 * LibTorch's teardown), so ten exits all clean is a real check; the first ones come while the library is still loading.
 */
class ExitGuardTest {
  @TempDir Path dir;

  @Test
  void exitingWhileNativeWorkRunsIsClean() throws Exception {
    for (int millis : new int[] {100, 200, 300, 450, 600, 750, 900, 1100, 1300, 1600}) {
      Run r = run(millis);
      assertEquals(0, r.exit, "exit after " + millis + " ms of native work:\n" + r.output);
      try (Stream<Path> s = Files.list(dir)) {
        assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith("hs_err")), "the JVM wrote a crash report");
      }
    }
  }

  /**
   * A load that would begin once the exit has begun is refused: LibTorch's static initialisers would
   * run while the exit runs its static destructors (the crash CI met when a worker thread started
   * loading the library as the main thread exited). {@link ExitDuringLoad} loads from a shutdown hook.
   */
  @Test
  void aLoadThatStartsDuringTheExitIsRefused() throws Exception {
    Run r = run(List.of(), ExitDuringLoad.class);
    assertEquals(0, r.exit, r.output);
    assertTrue(r.output.contains("refused: the JVM is shutting down"), r.output);
    assertTrue(r.output.contains("mapped: false"), "the library was loaded during the exit:\n" + r.output);
  }

  private record Run(int exit, String output) {}

  private Run run(int millis) throws IOException, InterruptedException {
    return run(List.of("" + millis), ExitDuringWork.class);
  }

  private Run run(List<String> args, Class<?> main) throws IOException, InterruptedException {
    List<String> java = ChildJvm.command(List.of("-XX:ErrorFile=" + dir.resolve("hs_err_%p.log")), main,
        args.toArray(String[]::new));
    Process p = new ProcessBuilder(java).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("the child did not exit: " + out);
    }
    return new Run(p.exitValue(), out);
  }
}
