package io.d2g.benchmarks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** The figures of the zero-copy benchmark: which benchmark method gives which figure, in what unit. */
public final class ZeroCopyFigures {
  private ZeroCopyFigures() {}

  /** 64 MiB of f32 elements. */
  public static final int ELEMENTS = 16 * 1024 * 1024;

  /** One figure: the JSON key, the benchmark method behind it, its unit and what it measures. */
  public record Figure(String key, String method, TimeUnit unit, String description) {
    public String unitName() {
      return switch (unit) {
        case NANOSECONDS -> "ns";
        case MICROSECONDS -> "us";
        case MILLISECONDS -> "ms";
        default -> throw new IllegalStateException(unit.toString());
      };
    }
  }

  public static final List<Figure> FIGURES = List.of(
      new Figure("wrap_64mib_us", "wrap", TimeUnit.MICROSECONDS,
          "wrap 64 MiB of off-heap memory as a tensor without copying, then free it"),
      new Figure("copy_in_fresh_64mib_ms", "copyInFresh", TimeUnit.MILLISECONDS,
          "copy a 64 MiB float[] into a new tensor, then free it"),
      new Figure("copy_in_existing_64mib_ms", "copyInExisting", TimeUnit.MILLISECONDS,
          "copy a 64 MiB float[] into an existing tensor"),
      new Figure("copy_out_64mib_ms", "copyOut", TimeUnit.MILLISECONDS,
          "copy a 64 MiB tensor out into an existing float[]"),
      new Figure("tiny_op_us", "tinyOp", TimeUnit.MICROSECONDS,
          "add two 1-element tensors and free the result"),
      new Figure("bare_call_ns", "bareCall", TimeUnit.NANOSECONDS,
          "the cheapest call into the native library"));

  /**
   * Fails unless this process has mapped exactly one libtorch_cpu: two LibTorch versions in one JVM
   * conflict, which is why every library runs in forks of its own. Call after the library is loaded.
   */
  public static void checkOneLibTorch() {
    Path maps = Path.of("/proc/self/maps");
    if (!Files.isReadable(maps)) return; // not Linux
    try (Stream<String> lines = Files.lines(maps)) {
      Set<String> libs = lines.filter(l -> l.contains("libtorch_cpu") && l.indexOf('/') >= 0)
          .map(l -> l.substring(l.indexOf('/')))
          .collect(Collectors.toSet());
      check(libs.size() == 1, "exactly one LibTorch in this JVM, found " + libs);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Fails the benchmark's setup when a library did not do what the benchmark assumes. */
  public static void check(boolean ok, String what) {
    if (!ok) throw new IllegalStateException("benchmark sanity check failed: " + what);
  }
}
