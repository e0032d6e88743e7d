package io.d2g.examples;

import io.d2g.D2g;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What every benchmark's results file starts with: the machine ({@link D2g#machine()}), the commit when
 * the caller names it in {@code D2G_COMMIT} (a GPU machine's copy has no git), and the time; and the
 * three-decimal rounding the figures use.
 */
final class Provenance {
  private Provenance() {}

  /** A new ordered map with "machine", "commit" (when D2G_COMMIT is set) and "date". */
  static Map<String, Object> header() {
    return header(D2g.machine());
  }

  /** {@link #header()} with the machine described as given. */
  static Map<String, Object> header(String machine) {
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("machine", machine);
    String commit = System.getenv("D2G_COMMIT");
    if (commit != null) json.put("commit", commit);
    json.put("date", Instant.now().toString());
    return json;
  }

  /** Rounded to three decimals. */
  static double round(double x) {
    return Math.round(x * 1000) / 1000.0;
  }
}
