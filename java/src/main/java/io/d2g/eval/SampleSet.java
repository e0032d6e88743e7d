package io.d2g.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A folder of generated samples that the evaluation grades: {@code samples.jsonl}, one JSON object per
 * line — {@code image} (a PNG or other image file in the folder), {@code prompt}, and optionally
 * {@code seed} (the noise's seed: samples of two models with the same prompt and seed are the same
 * (z, c), for fidelity), {@code seconds} (the wall time that made it) and {@code timed_on} (the device
 * that time was measured on, in words) — and the image files. Every
 * image must exist, decode, and have the size of the first; the first problem found is reported with
 * the file and line. Any model that writes this folder becomes a row of the results tables.
 */
public final class SampleSet {
  /**
   * One sample: its image file, prompt, seed (null if unknown), seconds (NaN if unknown) and the device
   * they were timed on (null if unknown).
   */
  public record Sample(Path image, String prompt, Long seed, double seconds, String timedOn) {}

  public static final String INDEX = "samples.jsonl";

  private final Path dir;
  private final List<Sample> samples;
  private final int width, height;

  private SampleSet(Path dir, List<Sample> samples, int width, int height) {
    this.dir = dir;
    this.samples = List.copyOf(samples);
    this.width = width;
    this.height = height;
  }

  /** Reads and checks the folder (every image is decoded once here). */
  public static SampleSet open(Path dir) {
    Path index = dir.resolve(INDEX);
    if (!Files.isRegularFile(index))
      throw new InvalidArgumentException(dir + " is not a sample folder: it has no " + INDEX
          + " (one line per sample: {\"image\": \"0001.png\", \"prompt\": \"...\", \"seed\": 42})");
    ObjectMapper json = new ObjectMapper();
    List<Sample> out = new ArrayList<>();
    int w = -1, h = -1, line = 0;
    try (BufferedReader r = Files.newBufferedReader(index, StandardCharsets.UTF_8)) {
      for (String text; (text = r.readLine()) != null; ) {
        line++;
        if (text.isBlank()) continue;
        String where = index + " line " + line;
        JsonNode n;
        try {
          n = json.readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
          throw new InvalidArgumentException(where + " is not JSON: " + e.getOriginalMessage());
        }
        if (!n.path("image").isTextual() || !n.path("prompt").isTextual() || n.path("prompt").asText().isEmpty())
          throw new InvalidArgumentException(where + " needs \"image\" and a non-empty \"prompt\"");
        Path img = dir.resolve(n.path("image").asText()).normalize();
        if (!img.startsWith(dir.normalize()))
          throw new InvalidArgumentException(where + ": image " + n.path("image").asText() + " lies outside " + dir);
        if (!Files.isRegularFile(img)) throw new InvalidArgumentException(where + ": image " + img + " is missing");
        RgbaImage decoded;
        try {
          decoded = ImageCodec.decode(Files.readAllBytes(img));
        } catch (ImageCodec.CorruptImageException e) {
          throw new InvalidArgumentException(where + ": image " + img + " is corrupt: " + e.getMessage());
        }
        if (w < 0) {
          w = decoded.width();
          h = decoded.height();
        } else if (decoded.width() != w || decoded.height() != h) {
          throw new InvalidArgumentException(where + ": image " + img + " is " + decoded.width() + "x" + decoded.height()
              + ", the first sample is " + w + "x" + h + "; a set has one size");
        }
        Long seed = n.hasNonNull("seed") ? n.path("seed").asLong() : null;
        double seconds = n.hasNonNull("seconds") ? n.path("seconds").asDouble() : Double.NaN;
        String timedOn = n.path("timed_on").isTextual() ? n.path("timed_on").asText() : null;
        out.add(new Sample(img, n.path("prompt").asText(), seed, seconds, timedOn));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + index, e);
    }
    if (out.isEmpty()) throw new InvalidArgumentException(index + " lists no samples");
    return new SampleSet(dir, out, w, h);
  }

  /** What {@link #writer} writes and replaces: a folder of samples.jsonl and PNG images. */
  public static final OutputKind FOLDER = OutputKind.filesFolder("sample folder", java.util.Set.of(INDEX),
      n -> n.equals(INDEX) || n.endsWith(".png"));

  /**
   * Writes a sample folder: images as {@code 00000.png, 00001.png, ...} and their lines, staged beside
   * {@code target} and put in place by {@link Writer#commit()} (an existing target is replaced only
   * when it is a sample folder; see {@link Outputs}).
   */
  public static Writer writer(Path target, boolean force) {
    return new Writer(Outputs.stageFolder(target, FOLDER, force));
  }

  /** Adds samples one by one, then {@link #commit()}; closing without a commit writes nothing. */
  public static final class Writer implements AutoCloseable {
    private final Outputs.StagedFolder staged;
    private final StringBuilder index = new StringBuilder();
    private final ObjectMapper json = new ObjectMapper();
    private int count;
    private String timedOn;

    private Writer(Outputs.StagedFolder staged) {
      this.staged = staged;
    }

    /** The device the following samples' seconds were measured on, in words (e.g. {@code D2g.describe}). */
    public Writer timedOn(String device) {
      this.timedOn = device;
      return this;
    }

    /** seed may be null, seconds NaN when unknown. */
    public void add(RgbaImage image, String prompt, Long seed, double seconds) {
      if (prompt == null || prompt.isEmpty()) throw new InvalidArgumentException("a sample needs a prompt");
      String name = String.format("%05d.png", count++);
      try {
        Files.write(staged.dir().resolve(name), ImageCodec.encodePng(image));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + name, e);
      }
      var line = json.createObjectNode().put("image", name).put("prompt", prompt);
      if (seed != null) line.put("seed", seed);
      if (Double.isFinite(seconds)) {
        line.put("seconds", seconds);
        if (timedOn != null) line.put("timed_on", timedOn);
      }
      index.append(line).append('\n');
    }

    /** Puts the folder in place; returns where. */
    public Path commit() {
      try {
        Files.writeString(staged.dir().resolve(INDEX), index, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + INDEX, e);
      }
      return staged.commit();
    }

    @Override
    public void close() {
      staged.close();
    }
  }

  public Path dir() {
    return dir;
  }

  public List<Sample> samples() {
    return samples;
  }

  public int size() {
    return samples.size();
  }

  public int width() {
    return width;
  }

  public int height() {
    return height;
  }

  /** Samples from..to-1 as judge input [n, 3, H, W] in [-1, 1], transparency composited over white. */
  public Tensor pixels(int from, int to) {
    java.util.List<RgbaImage> images = new java.util.ArrayList<>(to - from);
    for (int i = from; i < to; i++) {
      try {
        images.add(ImageCodec.decode(Files.readAllBytes(samples.get(i).image())));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return RgbaImage.toTensorOverWhite(images);
  }
}
