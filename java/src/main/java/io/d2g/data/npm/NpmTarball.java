package io.d2g.data.npm;

import io.d2g.data.DatasetException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/** Reads files out of an npm tarball (.tgz, paths starting with {@code package/}). */
public final class NpmTarball {
  private NpmTarball() {}

  /** The regular files whose path matches, sorted by path. */
  public static Map<String, byte[]> read(Path tgz, Predicate<String> wanted) {
    Map<String, byte[]> out = new TreeMap<>();
    try (InputStream in = new GZIPInputStream(new BufferedInputStream(Files.newInputStream(tgz), 1 << 16), 1 << 16);
        TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
      TarArchiveEntry e;
      while ((e = tar.getNextEntry()) != null) {
        if (!e.isFile()) continue;
        String name = e.getName();
        if (name.startsWith("./")) name = name.substring(2);
        if (wanted.test(name)) out.put(name, tar.readAllBytes());
      }
    } catch (IOException e) {
      throw new DatasetException("cannot read npm tarball " + tgz + ": " + e.getMessage()
          + " (delete it from the cache and run again)", e);
    }
    return out;
  }

  /** One file; throws if absent. */
  public static byte[] readOne(Path tgz, String path) {
    byte[] b = read(tgz, path::equals).get(path);
    if (b == null) throw new DatasetException(tgz.getFileName() + " has no " + path);
    return b;
  }
}
