package io.d2g.hub;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.CheckpointException;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.io.OutputException;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel.MapMode;
import java.nio.channels.FileChannel;
import java.nio.channels.NonWritableChannelException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON ({@code {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"k": "v"}}}), then the raw little-endian tensor data.
 *
 * <pre>{@code
 * try (SafetensorsFile f = Safetensors.open(path)) {
 *   Tensor w = f.tensor("text_model.final_layer_norm.weight");   // a view of the mapped file
 * }
 * Safetensors.write(path, Map.of("weight", w), Map.of("format", "pt"));
 * }</pre>
 *
 * <p>Reading validates the whole header before any tensor is made, at least as strictly as the
 * reference reader (Rust safetensors): the header length is at most {@link #MAX_HEADER_BYTES} and
 * inside the file, the JSON is well formed (whitespace around it allowed), every dtype is known to
 * the format, shapes are non-negative, each byte range equals product(shape) times the element size,
 * and the ranges tile the data section exactly: from byte 0, no gaps, no overlaps, no trailing bytes.
 * Stricter than the reference: a tensor name given twice is refused (the reference keeps the last
 * one silently), and so is a tensor of more than {@value io.d2g.Tensor#MAX_DIMS} dimensions (more than
 * this library's tensors hold). Every violation is a {@link CheckpointException} naming the file and
 * the tensor.
 * Pickle checkpoints ({@code .bin}, {@code .ckpt}, {@code .pt}, {@code .pth}) are refused: loading
 * them can run arbitrary code.
 *
 * <p>Writing produces what the reference implementation writes for the same tensors: entries sorted
 * by dtype (larger first) then name, data packed in that order (so each tensor is aligned to its
 * element size), the header padded with spaces to a multiple of 8 bytes.
 */
public final class Safetensors {
  /** The largest header accepted (the reference's limit): 100 MB. */
  public static final long MAX_HEADER_BYTES = 100_000_000L;

  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private static final List<String> PICKLE_SUFFIXES = List.of(".bin", ".ckpt", ".pt", ".pth", ".pkl", ".pickle");

  private Safetensors() {}

  // ---- reading ---------------------------------------------------------------------------------

  /** Opens, validates and memory-maps a safetensors file. Close it when done (its tensors may outlive it). */
  public static SafetensorsFile open(Path path) {
    rejectPickleName(path);
    long size;
    FileChannel ch;
    boolean readOnly = false;
    try {
      try {
        // A private (copy-on-write) mapping needs a channel opened for writing; nothing is written.
        ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
      } catch (AccessDeniedException | UnsupportedOperationException e) {
        ch = FileChannel.open(path, StandardOpenOption.READ);
        readOnly = true;
      } catch (FileSystemException e) {
        if (e instanceof NoSuchFileException) throw e;
        ch = FileChannel.open(path, StandardOpenOption.READ); // e.g. a read-only file system
        readOnly = true;
      }
    } catch (NoSuchFileException e) {
      throw new CheckpointException("safetensors file " + path + " does not exist");
    } catch (IOException e) {
      throw new CheckpointException("cannot open safetensors file " + path + ": " + e.getMessage(), e);
    }
    try (FileChannel c = ch) {
      size = c.size();
      if (size < 8)
        throw bad(path, "is truncated: it has " + size + " bytes, but a safetensors file starts with an 8-byte header length");
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(c, lenBuf, 0);
      rejectPickleContent(path, lenBuf.array());
      long headerLen = lenBuf.getLong(0);
      if (headerLen < 0 || headerLen > MAX_HEADER_BYTES)
        throw bad(path, "declares a header of " + Long.toUnsignedString(headerLen) + " bytes, more than the limit of "
            + MAX_HEADER_BYTES + "; the file is corrupt or not a safetensors file");
      if (8 + headerLen > size)
        throw bad(path, "declares a header of " + headerLen + " bytes but has only " + (size - 8)
            + " bytes after the length field; the file is truncated or corrupt");
      ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
      readFully(c, hb, 8);
      long dataStart = 8 + headerLen;
      long dataSize = size - dataStart;
      Map<String, String> metadata = new LinkedHashMap<>();
      Map<String, TensorInfo> infos = parseHeader(path, hb.array(), dataSize, metadata);
      MemorySegment data = MemorySegment.NULL;
      if (dataSize > 0) {
        MemorySegment whole;
        try {
          whole = c.map(readOnly ? MapMode.READ_ONLY : MapMode.PRIVATE, 0, size, Arena.ofAuto());
        } catch (NonWritableChannelException | UnsupportedOperationException e) {
          whole = c.map(MapMode.READ_ONLY, 0, size, Arena.ofAuto());
          readOnly = true;
        }
        data = whole.asSlice(dataStart, dataSize);
      }
      return new SafetensorsFile(path, infos, metadata, data, readOnly);
    } catch (IOException e) {
      throw new CheckpointException("cannot read safetensors file " + path + ": " + e.getMessage(), e);
    }
  }

  private static void readFully(FileChannel c, ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      int n = c.read(b, pos);
      if (n < 0) throw new IOException("unexpected end of file");
      pos += n;
    }
  }

  static Map<String, TensorInfo> parseHeader(Path path, byte[] header, long dataSize, Map<String, String> metadataOut) {
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(header)).toString();
    } catch (CharacterCodingException e) {
      throw bad(path, "has a header that is not valid UTF-8");
    }
    if (!text.stripLeading().startsWith("{"))
      throw bad(path, "has a header that does not start with '{'; the file is corrupt or not a safetensors file");
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw bad(path, "has a header that is not well-formed JSON: " + e.getOriginalMessage());
    }
    if (root == null || !root.isObject()) throw bad(path, "has a header that is not a JSON object");
    Map<String, TensorInfo> infos = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String name = e.getKey();
      JsonNode v = e.getValue();
      if (name.equals("__metadata__")) {
        if (v.isNull()) continue; // the reference accepts "__metadata__": null
        if (!v.isObject()) throw bad(path, "has a __metadata__ entry that is not a JSON object of strings");
        for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
          var kv = m.next();
          if (!kv.getValue().isTextual())
            throw bad(path, "has a __metadata__ value for '" + kv.getKey() + "' that is not a string");
          metadataOut.put(kv.getKey(), kv.getValue().textValue());
        }
        continue;
      }
      infos.put(name, parseEntry(path, name, v, dataSize));
    }
    checkTiling(path, infos, dataSize);
    return infos;
  }

  private static TensorInfo parseEntry(Path path, String name, JsonNode v, long dataSize) {
    if (!v.isObject()) throw badTensor(path, name, "has an entry that is not a JSON object");
    JsonNode dt = v.get("dtype");
    JsonNode sh = v.get("shape");
    JsonNode off = v.get("data_offsets");
    if (dt == null || !dt.isTextual()) throw badTensor(path, name, "lacks a string \"dtype\"");
    if (sh == null || !sh.isArray()) throw badTensor(path, name, "lacks a \"shape\" array");
    if (off == null || !off.isArray() || off.size() != 2)
      throw badTensor(path, name, "lacks a \"data_offsets\" array of two integers");
    SafetensorsDType dtype = SafetensorsDType.parse(dt.textValue());
    if (dtype == null)
      throw badTensor(path, name, "has unknown dtype '" + dt.textValue() + "' (known: "
          + Arrays.toString(SafetensorsDType.values()) + ")");
    if (sh.size() > io.d2g.Tensor.MAX_DIMS)
      throw badTensor(path, name, "has " + sh.size() + " dimensions; this library's tensors have at most "
          + io.d2g.Tensor.MAX_DIMS);
    long[] shape = new long[sh.size()];
    long numel = 1;
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = sh.get(i);
      if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0)
        throw badTensor(path, name, "has shape " + sh + " with an entry that is not a non-negative integer");
      shape[i] = d.longValue();
      try {
        numel = Math.multiplyExact(numel, shape[i]);
      } catch (ArithmeticException ex) {
        throw badTensor(path, name, "has shape " + sh + " whose element count overflows");
      }
    }
    long[] o = new long[2];
    for (int i = 0; i < 2; i++) {
      JsonNode d = off.get(i);
      if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0)
        throw badTensor(path, name, "has data_offsets " + off + " that are not non-negative integers");
      o[i] = d.longValue();
    }
    if (o[1] < o[0]) throw badTensor(path, name, "has data_offsets " + off + " that end before they begin");
    long expected;
    try {
      expected = Math.multiplyExact(numel, dtype.byteSize());
    } catch (ArithmeticException ex) {
      throw badTensor(path, name, "has shape " + sh + " whose byte size overflows");
    }
    if (o[1] - o[0] != expected)
      throw badTensor(path, name, "has " + (o[1] - o[0]) + " bytes of data (data_offsets " + off + "), but its shape "
          + sh + " of " + dtype + " needs " + expected);
    if (o[1] > dataSize)
      throw badTensor(path, name, "has data_offsets " + off + " past the end of the data section (" + dataSize
          + " bytes); the file is truncated or corrupt");
    return new TensorInfo(name, dtype, shape, o[0], o[1]);
  }

  /**
   * The tensors, in the order of their data, must cover the data section exactly: each starts where
   * the previous one ends (the first at 0), and the last ends at the end of the file.
   */
  private static void checkTiling(Path path, Map<String, TensorInfo> infos, long dataSize) {
    List<TensorInfo> sorted = new ArrayList<>(infos.values());
    sorted.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
    long end = 0;
    String last = null;
    for (TensorInfo t : sorted) {
      if (t.begin() != end)
        throw bad(path, "has tensor '" + t.name() + "' at bytes [" + t.begin() + ", " + t.end() + ") but "
            + (last == null ? "the data starts at 0" : "'" + last + "' ends at " + end)
            + (t.begin() > end ? ": a gap of unused bytes" : ": overlapping tensors") + "; the file is corrupt");
      end = t.end();
      last = t.name();
    }
    if (end != dataSize)
      throw bad(path, "has " + dataSize + " bytes of data but its tensors cover " + end
          + (dataSize > end ? " (trailing bytes no tensor owns)" : "") + "; the file is corrupt");
  }

  private static void rejectPickleName(Path path) {
    Path fn = path.getFileName();
    String name = fn == null ? "" : fn.toString().toLowerCase(Locale.ROOT);
    for (String s : PICKLE_SUFFIXES)
      if (name.endsWith(s)) throw pickle(path);
  }

  private static void rejectPickleContent(Path path, byte[] first8) {
    boolean zip = first8[0] == 'P' && first8[1] == 'K' && first8[2] == 3 && first8[3] == 4; // torch.save archive
    boolean pickle = (first8[0] & 0xff) == 0x80 && first8[1] >= 2 && first8[1] <= 5; // PROTO opcode
    if (zip || pickle) throw pickle(path);
  }

  private static CheckpointException pickle(Path path) {
    return new CheckpointException(path + " is a pickle (torch.save) checkpoint. Pickle files can run arbitrary code "
        + "when loaded and are never read here. Convert it to safetensors once, in Python: "
        + "safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors') "
        + "(or save_pretrained(..., safe_serialization=True) for a diffusers/transformers model)");
  }

  private static CheckpointException bad(Path path, String what) {
    return new CheckpointException("safetensors file " + path + " " + what);
  }

  private static CheckpointException badTensor(Path path, String name, String what) {
    return new CheckpointException("safetensors file " + path + ": tensor '" + name + "' " + what);
  }

  // ---- writing ---------------------------------------------------------------------------------

  /** Writes tensors (any device, any layout) with no metadata. */
  public static void write(Path path, Map<String, Tensor> tensors) {
    write(path, tensors, Map.of());
  }

  /**
   * Writes tensors (any device, any layout) and a metadata string map. The file appears atomically:
   * it is written beside the target and moved into place, so readers of an older file at the same
   * path (and tensors mapped from it) are not disturbed, and a failed write (a full disk) leaves the
   * older file as it was. An existing path is replaced only when it is a safetensors file ({@link
   * #KIND}); anything else raises an {@link OutputException}.
   */
  public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
    write(path, tensors, metadata, KIND, false, false);
  }

  /** The metadata key under which {@link #writeWithDigest} stores the SHA-256 of the data section. */
  public static final String DIGEST_KEY = "d2g_sha256";

  /**
   * Like {@link #write(Path, Map, Map)}, into an output of {@code kind} (which decides what an
   * existing file may be replaced by; {@code force} as in {@link Outputs}), and with the SHA-256 of
   * the data section in the metadata under {@link #DIGEST_KEY}, computed while writing, so that
   * {@link SafetensorsFile#verifyDigest()} detects a damaged file later.
   */
  public static void writeWithDigest(Path path, Map<String, Tensor> tensors, Map<String, String> metadata,
      OutputKind kind, boolean force) {
    write(path, tensors, metadata, kind, force, true);
  }

  private static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata, OutputKind kind,
      boolean force, boolean digest) {
    if (metadata != null && metadata.containsKey(DIGEST_KEY))
      throw new CheckpointException("metadata key " + DIGEST_KEY + " is reserved for the data digest");
    List<Map.Entry<String, Tensor>> entries = new ArrayList<>(tensors.entrySet());
    for (var e : entries) {
      if (e.getKey() == null || e.getKey().isEmpty() || e.getKey().equals("__metadata__"))
        throw new CheckpointException("cannot write '" + e.getKey() + "' to " + path + ": not a usable tensor name");
      if (e.getValue() == null || e.getValue().isClosed())
        throw new CheckpointException("cannot write tensor '" + e.getKey() + "' to " + path + ": it is null or closed");
    }
    // The reference's order: larger dtypes first, then by name (UTF-8 bytes).
    entries.sort(Comparator
        .<Map.Entry<String, Tensor>>comparingInt(e -> -SafetensorsDType.of(e.getValue().dtype()).ordinal())
        .thenComparing((a, b) -> Arrays.compareUnsigned(
            a.getKey().getBytes(StandardCharsets.UTF_8), b.getKey().getBytes(StandardCharsets.UTF_8))));
    ObjectNode header = JSON.createObjectNode();
    if ((metadata != null && !metadata.isEmpty()) || digest) {
      ObjectNode m = header.putObject("__metadata__");
      if (metadata != null) metadata.forEach((k, v) -> m.put(k, v));
      if (digest) m.put(DIGEST_KEY, DIGEST_PLACEHOLDER);
    }
    long offset = 0;
    long[] begins = new long[entries.size()];
    for (int i = 0; i < entries.size(); i++) {
      Tensor t = entries.get(i).getValue();
      ObjectNode n = header.putObject(entries.get(i).getKey());
      n.put("dtype", SafetensorsDType.of(t.dtype()).name());
      ArrayNode s = n.putArray("shape");
      for (long d : t.shape()) s.add(d);
      begins[i] = offset;
      offset += t.byteSize();
      n.putArray("data_offsets").add(begins[i]).add(offset);
    }
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(header);
    } catch (JsonProcessingException e) {
      throw new CheckpointException("cannot encode the safetensors header for " + path + ": " + e.getMessage(), e);
    }
    int padded = (json.length + 7) / 8 * 8;
    long total = 8 + padded + offset;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) head.put((byte) ' ');
    head.flip();
    int digestAt = digest ? indexOf(json, DIGEST_PLACEHOLDER.getBytes(StandardCharsets.US_ASCII)) : -1;
    try (Outputs.StagedFile staged = Outputs.stageFile(path, kind, force)) {
      try (FileChannel c = FileChannel.open(staged.path(), StandardOpenOption.WRITE)) {
        writeFully(c, head);
        MessageDigest sha = digest ? sha256() : null;
        for (var e : entries) writeTensor(c, e.getValue(), sha);
        if (c.size() != total) throw new IOException("wrote " + c.size() + " bytes instead of " + total);
        if (sha != null)
          writeFully(c.position(8 + digestAt), ByteBuffer.wrap(HexFormat.of().formatHex(sha.digest())
              .getBytes(StandardCharsets.US_ASCII)));
      } catch (IOException e) {
        throw new CheckpointException("cannot write safetensors file " + staged.target() + ": " + e.getMessage()
            + ". What was there before is unchanged.", e);
      }
      staged.commit();
    }
  }

  /**
   * Safetensors files as outputs: {@link #write} replaces an existing file only when it is a
   * safetensors file (a well-formed header), never anything else.
   */
  public static final OutputKind KIND = OutputKind.safetensors();

  /**
   * Writes a tensor's bytes with ordinary writes (not through a mapping, where a full disk would
   * fault instead of failing): straight from CPU memory, or from a contiguous CPU copy.
   */
  private static void writeTensor(FileChannel c, Tensor t, MessageDigest sha) throws IOException {
    long n = t.byteSize();
    if (n == 0) return;
    try (Tensor onCpu = t.to(Device.CPU); Tensor host = onCpu.contiguous()) {
      MemorySegment view = host.data();
      for (long off = 0; off < n; off += 1L << 26) {
        ByteBuffer chunk = view.asSlice(off, Math.min(1L << 26, n - off)).asByteBuffer();
        if (sha != null) sha.update(chunk.duplicate());
        writeFully(c, chunk);
      }
    }
  }

  /** 64 characters, as long as the hex digest that replaces it in place. */
  private static final String DIGEST_PLACEHOLDER = "0".repeat(64);

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this Java has no SHA-256", e);
    }
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
      return i;
    }
    throw new IllegalStateException("digest placeholder not found in the header");
  }

  private static void writeFully(FileChannel c, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) c.write(b);
  }
}
