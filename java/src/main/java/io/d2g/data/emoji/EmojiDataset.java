package io.d2g.data.emoji;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.DType;
import io.d2g.Tensor;
import io.d2g.data.DatasetException;
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import java.io.BufferedReader;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import java.util.function.Predicate;
import java.util.stream.IntStream;

/**
 * Reads a built emoji dataset: the index without touching any picture, single pictures by index
 * (the PNG bytes are sliced out of memory-mapped shards), and batches as tensors. A batch is decoded
 * straight into one off-heap buffer that the tensor wraps without a copy.
 */
public final class EmojiDataset implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Memory layout of image batches. */
  public enum Layout {
    /** N x H x W x 4 (RGBA), what the shards hold. */
    NHWC,
    /** N x 4 x H x W. */
    NCHW
  }

  private final Path dir;
  private final JsonNode manifest;
  private final int size;
  private final List<EmojiRecord> records;
  private final java.util.Map<Integer, JsonNode> concepts = new java.util.HashMap<>();
  private final Arena arena = Arena.ofShared();
  private final MemorySegment[] shards;

  private EmojiDataset(Path dir) throws IOException {
    this.dir = dir;
    Path mf = dir.resolve("manifest.json");
    if (!Files.isRegularFile(mf))
      throw new DatasetException(dir + " is not an emoji dataset (no manifest.json); build one with 'd2g data emoji --out " + dir + "'");
    manifest = JSON.readTree(mf.toFile());
    if (!EmojiDatasetBuilder.FORMAT.equals(manifest.path("format").asText())
        || manifest.path("formatVersion").asInt() > EmojiDatasetBuilder.FORMAT_VERSION)
      throw new DatasetException(dir + " has format " + manifest.path("format").asText() + " v"
          + manifest.path("formatVersion").asInt() + "; this reader understands " + EmojiDatasetBuilder.FORMAT + " v"
          + EmojiDatasetBuilder.FORMAT_VERSION);
    size = manifest.path("size").asInt();
    if (size < 1 || size > MAX_SIZE)
      throw new DatasetException(dir + "/manifest.json: size " + manifest.path("size") + " is not 1 to " + MAX_SIZE);
    List<EmojiRecord> recs = new ArrayList<>();
    try (BufferedReader r = Files.newBufferedReader(dir.resolve("index.jsonl"), StandardCharsets.UTF_8)) {
      for (String line; (line = r.readLine()) != null; )
        if (!line.isBlank()) recs.add(JSON.readValue(line, EmojiRecord.class));
    }
    records = Collections.unmodifiableList(recs);
    JSON.readTree(dir.resolve("concepts.json").toFile()).forEach(c -> concepts.put(c.path("id").asInt(), c));
    JsonNode sh = manifest.path("shards");
    shards = new MemorySegment[sh.size()];
    try {
      for (int i = 0; i < shards.length; i++) {
        String name = sh.get(i).path("file").asText();
        // a file of this folder, by its plain name (nothing elsewhere is read)
        if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0 || name.indexOf('\\') >= 0
            || name.indexOf('\0') >= 0)
          throw new DatasetException(dir + "/manifest.json: shard " + i + " is not a file name of this folder: '" + name + "'");
        try (FileChannel ch = FileChannel.open(dir.resolve(name), StandardOpenOption.READ)) {
          shards[i] = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        }
      }
      for (int line = 0; line < records.size(); line++) check(records.get(line), line);
    } catch (IOException | RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  /** The most pixels a side of a dataset's pictures may have. */
  static final int MAX_SIZE = 4096;

  // Every record points inside a shard and names a known style, so that reading it fails, if at
  // all, only on its picture's bytes.
  private void check(EmojiRecord r, int line) {
    String where = dir + "/index.jsonl line " + (line + 1) + ": ";
    if (r.index() != line) throw new DatasetException(where + "index " + r.index() + " where " + line + " was expected");
    if (r.shard() < 0 || r.shard() >= shards.length)
      throw new DatasetException(where + "shard " + r.shard() + " of " + shards.length);
    long end = shards[r.shard()].byteSize();
    if (r.offset() < 0 || r.length() < 0 || r.offset() > end - r.length())
      throw new DatasetException(where + "bytes " + r.offset() + " + " + r.length() + " are outside its shard (" + end + " bytes)");
    if (r.style() == null) throw new DatasetException(where + "no style");
    EmojiStyle.parse(r.style());
  }

  public static EmojiDataset open(Path dir) {
    try {
      return new EmojiDataset(dir);
    } catch (IOException e) {
      throw new DatasetException("cannot read the emoji dataset in " + dir + ": " + e.getMessage(), e);
    }
  }

  public Path dir() {
    return dir;
  }

  /** Side of every picture, in pixels. */
  public int size() {
    return size;
  }

  public JsonNode manifest() {
    return manifest;
  }

  public List<EmojiRecord> records() {
    return records;
  }

  public List<EmojiRecord> records(Predicate<EmojiRecord> filter) {
    return records.stream().filter(filter).toList();
  }

  /** The concept entry (id, hexcode, emoji, label, tags, group, subgroup, split) of a record. */
  public JsonNode concept(EmojiRecord r) {
    JsonNode c = concepts.get(r.concept());
    if (c != null) return c;
    throw new DatasetException("concept " + r.concept() + " missing from concepts.json");
  }

  public List<String> tags(EmojiRecord r) {
    List<String> t = new ArrayList<>();
    concept(r).path("tags").forEach(x -> t.add(x.asText()));
    return t;
  }

  /** The stored PNG bytes of picture {@code i}. */
  public byte[] png(int i) {
    EmojiRecord r = records.get(i);
    return shards[r.shard()].asSlice(r.offset(), r.length()).toArray(ValueLayout.JAVA_BYTE);
  }

  public RgbaImage image(int i) {
    RgbaImage img = ImageCodec.decode(png(i));
    if (img.width() != size || img.height() != size)
      throw new DatasetException("picture " + i + " is " + img.width() + "x" + img.height() + ", expected " + size);
    return img;
  }

  /**
   * A batch of pictures as one tensor: uint8 (0..255) or float32 (0..1), RGBA, NHWC or NCHW, over
   * one off-heap buffer the pictures were decoded into (no further copy).
   */
  public Tensor tensor(List<EmojiRecord> batch, DType dtype, Layout layout) {
    if (dtype != DType.U8 && dtype != DType.F32)
      throw new DatasetException("batches are uint8 or float32; convert with Tensor.to(DType) for " + dtype);
    int n = batch.size(), px = size * size;
    MemorySegment seg = Arena.ofAuto().allocate((long) n * px * 4 * dtype.byteSize(), 64);
    IntStream.range(0, n).parallel().forEach(b -> {
      byte[] rgba = image(batch.get(b).index()).rgba();
      long base = (long) b * px * 4;
      if (dtype == DType.U8) {
        if (layout == Layout.NHWC) MemorySegment.copy(rgba, 0, seg, ValueLayout.JAVA_BYTE, base, rgba.length);
        else {
          byte[] planar = new byte[rgba.length];
          for (int p = 0; p < px; p++)
            for (int c = 0; c < 4; c++) planar[c * px + p] = rgba[p * 4 + c];
          MemorySegment.copy(planar, 0, seg, ValueLayout.JAVA_BYTE, base, planar.length);
        }
      } else {
        float[] f = new float[rgba.length];
        for (int p = 0; p < px; p++)
          for (int c = 0; c < 4; c++) {
            float v = (rgba[p * 4 + c] & 255) / 255f;
            if (layout == Layout.NHWC) f[p * 4 + c] = v;
            else f[c * px + p] = v;
          }
        MemorySegment.copy(f, 0, seg, ValueLayout.JAVA_FLOAT, base * 4, f.length);
      }
    });
    long[] shape = layout == Layout.NHWC ? new long[] {n, size, size, 4} : new long[] {n, 4, size, size};
    return Tensor.wrap(seg, dtype, shape);
  }

  /** A batch: the image tensor, the records it holds and their captions. Close it to free the tensor early. */
  public record Batch(Tensor images, List<EmojiRecord> records) implements AutoCloseable {
    public List<String> captions() {
      return records.stream().map(EmojiRecord::caption).toList();
    }

    @Override
    public void close() {
      images.close();
    }
  }

  /**
   * Batches over the given records, in order or shuffled with a seed; the last batch may be smaller
   * unless {@code dropLast}.
   */
  public Iterable<Batch> batches(List<EmojiRecord> recs, int batchSize, DType dtype, Layout layout, Long shuffleSeed,
      boolean dropLast) {
    if (batchSize <= 0) throw new IllegalArgumentException("batch size must be positive");
    List<EmojiRecord> order = new ArrayList<>(recs);
    if (shuffleSeed != null) {
      SplittableRandom rnd = new SplittableRandom(shuffleSeed);
      for (int i = order.size() - 1; i > 0; i--) Collections.swap(order, i, rnd.nextInt(i + 1));
    }
    int total = dropLast ? order.size() / batchSize * batchSize : order.size();
    return () -> new Iterator<>() {
      int next = 0;

      @Override
      public boolean hasNext() {
        return next < total;
      }

      @Override
      public Batch next() {
        if (!hasNext()) throw new NoSuchElementException();
        List<EmojiRecord> b = List.copyOf(order.subList(next, Math.min(total, next + batchSize)));
        next += b.size();
        return new Batch(tensor(b, dtype, layout), b);
      }
    };
  }

  /** All given pictures as one uint8 tensor [N, size, size, 4]: the atlas a GPU composer samples from. */
  public Tensor atlas(List<EmojiRecord> recs) {
    return tensor(recs, DType.U8, Layout.NHWC);
  }

  @Override
  public void close() {
    arena.close();
  }
}
