package io.d2g.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/** Where the committed test fixtures are: test/fixtures/ at the repository root. */
public final class Fixtures {
  private Fixtures() {}

  /** test/fixtures, found from the system property d2g.fixtures or by walking up from the working directory. */
  public static Path root() {
    String p = System.getProperty("d2g.fixtures");
    if (p != null) return Path.of(p);
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      Path f = d.resolve("test").resolve("fixtures");
      if (Files.isDirectory(f) && Files.isDirectory(d.resolve("native"))) return f;
    }
    throw new IllegalStateException("test/fixtures not found above " + Path.of("").toAbsolutePath());
  }

  public static Path path(String first, String... more) {
    return root().resolve(Path.of(first, more));
  }

  /** Decompresses a .gz fixture to {@code dst}. */
  public static Path gunzip(Path gz, Path dst) throws IOException {
    try (InputStream in = new GZIPInputStream(Files.newInputStream(gz)); OutputStream out = Files.newOutputStream(dst)) {
      in.transferTo(out);
    }
    return dst;
  }

  /**
   * Borrowed memory still held once the collector and the library's Cleaner have released what
   * earlier tests left unreachable (their tensors are freed asynchronously).
   */
  public static int settledBorrowCount() {
    int last = -1;
    for (int i = 0; i < 50; i++) {
      System.gc();
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      int now = io.d2g.internal.Native.borrowedCount();
      if (now == last) return now;
      last = now;
    }
    return last;
  }
}
