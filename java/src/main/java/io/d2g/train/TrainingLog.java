package io.d2g.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.InvalidArgumentException;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import io.d2g.io.Png;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * A training run's metrics as JSON lines (one object per logged step, with a {@code "step"}) and
 * their curves as a PNG (XChart, through {@link CurveChart}: a machine without XChart's jar still
 * logs, and {@link #plotIfPossible} only warns): what the training examples leave beside their checkpoints.
 */
public final class TrainingLog {
  private TrainingLog() {}

  private static final ObjectMapper JSON = new ObjectMapper();
  static final OutputKind CURVES = OutputKind.png("training curves PNG");

  /** Appends one record (it must hold a numeric "step") as a line of {@code jsonl}, creating the file. */
  public static void append(Path jsonl, ObjectNode record) {
    if (!record.path("step").isNumber()) throw new InvalidArgumentException("a training log record needs a numeric \"step\"");
    try {
      Files.writeString(jsonl, record + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot append to " + jsonl, e);
    }
  }

  /**
   * Plots the given keys of a JSON-lines log against its steps (one panel; a log scale when every value
   * is positive and they span a decade or more, as losses do) into {@code png}; returns it. Records without a key are skipped for it;
   * a key no record has is refused.
   */
  public static Path plot(Path jsonl, List<String> keys, String title, Path png) {
    return draw(jsonl, keys, title, png);
  }

  /**
   * {@link #plot} for the end of a run, where the curve is a convenience and the run's weights matter:
   * false, with a warning, when there is no log (a run resumed at its end) or the machine cannot draw
   * text (a headless server without fonts: AWT's "Fontconfig head is null"); the numbers stay in the log.
   */
  public static boolean plotIfPossible(Path jsonl, List<String> keys, String title, Path png) {
    if (!Files.isRegularFile(jsonl)) return false;
    try {
      draw(jsonl, keys, title, png);
      return true;
    } catch (RuntimeException | LinkageError | java.awt.AWTError e) {
      if (e instanceof io.d2g.D2gException d) throw d; // our refusals (a file in the way, a bad log) stand
      if (e instanceof UncheckedIOException u) throw u; // and so does a disk that fails
      LoggerFactory.getLogger(TrainingLog.class).warn("could not draw {} on this machine ({}); {} holds the figures",
          png, e.toString(), jsonl);
      return false;
    }
  }

  private static Path draw(Path jsonl, List<String> keys, String title, Path png) {
    List<JsonNode> records = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8))
        if (!line.isBlank()) records.add(JSON.readTree(line));
    } catch (IOException e) {
      throw new InvalidArgumentException("cannot read the training log " + jsonl + ": " + e.getMessage());
    }
    Map<String, double[][]> series = new LinkedHashMap<>();
    boolean positive = true;
    double lo = Double.POSITIVE_INFINITY, hi = 0;
    for (String key : keys) {
      List<double[]> points = new ArrayList<>();
      for (JsonNode r : records)
        if (r.path(key).isNumber() && r.path("step").isNumber() && Double.isFinite(r.path(key).asDouble())) {
          double v = r.path(key).asDouble();
          points.add(new double[] {r.path("step").asDouble(), v});
          positive &= v > 0;
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      if (points.isEmpty()) throw new InvalidArgumentException(jsonl + " has no numeric \"" + key + "\" to plot");
      series.put(key, points.toArray(double[][]::new));
    }
    try {
      // a log axis only across a decade or more
      byte[] bytes = CurveChart.png(title, "step", series, positive && hi > 10 * lo);
      return Outputs.writeBytes(png, CURVES, false, Png.withText(bytes, "Software", Png.SOFTWARE));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot draw " + png, e);
    }
  }
}
