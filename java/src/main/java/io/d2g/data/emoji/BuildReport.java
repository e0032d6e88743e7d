package io.d2g.data.emoji;

import java.nio.file.Path;
import java.util.Map;

/** What a build produced: per-style counts, skipped (corrupt) pictures and bytes on disk. */
public record BuildReport(Path out, int images, int concepts, Map<String, StyleCounts> styles, long bytesOnDisk) {

  /**
   * Counts of one style: images written, distinct concepts, images and concepts held out (whole
   * concepts), images held out as concept x style pairs, and pictures skipped because they would
   * not decode.
   */
  public record StyleCounts(int images, int concepts, int heldOutConceptImages, int heldOutConcepts,
      int heldOutPairImages, int trainImages, int skipped) {}

  public int skipped() {
    return styles.values().stream().mapToInt(StyleCounts::skipped).sum();
  }
}
