package io.d2g.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Starts loading the native library once the JVM's exit has begun: {@code ExitDuringLoad} registers
 * a shutdown hook that calls {@link NativeLibrary#load()} and prints how that ended ("loaded" or
 * "refused: " and the message) and whether the library is mapped into the process afterwards
 * ("mapped: true|false", from /proc/self/maps), then calls {@code System.exit(0)}.
 *
 * <p>This is the window the CI run hit: a worker thread began loading LibTorch while the main thread
 * was exiting; the exit ran LibTorch's static destructors under its static initialisers (SIGSEGV in
 * c10::operator== of types). A shutdown hook is the one place where "the exit has begun" is certain.
 */
public final class ExitDuringLoad {
  public static void main(String[] args) {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        NativeLibrary.load();
        System.out.println("loaded");
      } catch (IllegalStateException e) {
        System.out.println("refused: " + e.getMessage());
      }
      System.out.println("mapped: " + mapped());
    }, "late-loader"));
    System.exit(0);
  }

  private static boolean mapped() {
    try {
      String name = NativeLibrary.locate().getFileName().toString();
      return Files.readAllLines(Path.of("/proc/self/maps")).stream().anyMatch(l -> l.endsWith("/" + name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
