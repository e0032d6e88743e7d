package io.d2g.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** For fuzz targets that read files: one temporary folder per target class, removed at exit. */
public final class FuzzDirs {
  private FuzzDirs() {}

  public static Path create(String prefix) {
    try {
      Path dir = Files.createTempDirectory(prefix);
      dir.toFile().deleteOnExit();
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Deletes the files directly in {@code dir} (a target's scratch folder between inputs), if it exists. */
  public static void empty(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) return;
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) Files.deleteIfExists(f);
    }
  }
}
