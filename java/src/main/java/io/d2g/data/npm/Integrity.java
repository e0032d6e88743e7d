package io.d2g.data.npm;

import io.d2g.data.DatasetException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Locale;

/** Subresource-Integrity strings ({@code sha512-<base64>}), as npm's {@code dist.integrity} has them. */
public final class Integrity {
  private Integrity() {}

  /** The SRI string of a file's bytes with the given algorithm ({@code sha512}, {@code sha256}, {@code sha1}). */
  public static String of(Path file, String algorithm) {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest md = digest(algorithm);
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
      return algorithm + "-" + Base64.getEncoder().encodeToString(md.digest());
    } catch (IOException e) {
      throw new DatasetException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  public static String sha256Hex(byte[] data) {
    return HexFormat.of().formatHex(digest("sha256").digest(data));
  }

  /**
   * Throws {@link IntegrityException} unless the file's hash equals {@code expected}. An SRI value may
   * list several hashes separated by spaces; the strongest one we know is checked.
   */
  public static void verify(Path file, String expected, String what) {
    if (expected == null || expected.isBlank())
      throw new IntegrityException("no integrity hash known for " + what + "; refusing to use an unverified package");
    String best = null;
    for (String h : expected.trim().split("\\s+")) {
      String alg = h.substring(0, Math.max(0, h.indexOf('-'))).toLowerCase(Locale.ROOT);
      if (alg.equals("sha512") || (best == null && (alg.equals("sha384") || alg.equals("sha256") || alg.equals("sha1"))))
        best = h;
    }
    if (best == null) throw new IntegrityException("unsupported integrity value '" + expected + "' for " + what);
    String alg = best.substring(0, best.indexOf('-')).toLowerCase(Locale.ROOT);
    String actual = of(file, alg);
    if (!actual.equals(best))
      throw new IntegrityException("integrity check failed for " + what + " (" + file + "): expected " + best
          + " but the file hashes to " + actual + ". The download is corrupt or was tampered with; delete "
          + file + " and run again to fetch it afresh. Nothing was written.");
  }

  private static MessageDigest digest(String algorithm) {
    String jca = switch (algorithm.toLowerCase(Locale.ROOT)) {
      case "sha512" -> "SHA-512";
      case "sha384" -> "SHA-384";
      case "sha256" -> "SHA-256";
      case "sha1" -> "SHA-1";
      default -> throw new IntegrityException("unsupported hash algorithm " + algorithm);
    };
    try {
      return MessageDigest.getInstance(jca);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
