package io.d2g.hub;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.CheckpointException;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.internal.Native;
import io.d2g.io.Fixtures;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  @TempDir Path tmp;

  /** A file made of a raw header string and data bytes. */
  private Path raw(String name, String header, byte[] data) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h).put(data);
    Path p = tmp.resolve(name);
    Files.write(p, b.array());
    return p;
  }

  private static String entry(String name, String dtype, String shape, long begin, long end) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
  }

  private CheckpointException fails(Path p, String... needles) {
    CheckpointException e = assertThrows(CheckpointException.class, () -> {
      try (SafetensorsFile f = Safetensors.open(p)) {
        f.tensors().values().forEach(Tensor::close);
      }
    });
    assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
    for (String n : needles) assertTrue(e.getMessage().contains(n), "'" + n + "' not in: " + e.getMessage());
    return e;
  }

  @Test
  void roundTripKeepsEveryDtypeShapeValueAndMetadata() {
    Path p = tmp.resolve("rt.safetensors");
    try (TensorScope s = new TensorScope()) {
      Map<String, Tensor> in = new LinkedHashMap<>();
      in.put("w", s.track(Tensor.of(new float[] {1, -2, 3.5f, 4, 5, 6}, 2, 3)));
      in.put("ids", s.track(Tensor.of(new long[] {Long.MIN_VALUE, 0, Long.MAX_VALUE})));
      in.put("i", s.track(Tensor.of(new int[] {-7})));
      in.put("u", s.track(Tensor.of(new byte[] {1, 2, 3})));
      in.put("d", s.track(Tensor.of(new double[] {Math.PI}, new long[0])));
      in.put("h", s.track(s.track(Tensor.of(new float[] {0.5f, -1})).to(DType.F16)));
      in.put("bf", s.track(s.track(Tensor.of(new float[] {2, 3, 4})).to(DType.BF16)));
      in.put("b", s.track(s.track(Tensor.of(new byte[] {1, 0})).to(DType.BOOL)));
      in.put("empty", s.track(Tensor.empty(DType.F32, Device.CPU, 0, 5)));
      Safetensors.write(p, in, Map.of("format", "pt"));
      try (SafetensorsFile f = Safetensors.open(p)) {
        assertEquals(Map.of("format", "pt"), f.metadata());
        assertEquals(in.keySet(), new java.util.HashSet<>(f.names()));
        for (var e : in.entrySet()) {
          Tensor t = s.track(f.tensor(e.getKey()));
          assertEquals(e.getValue().dtype(), t.dtype(), e.getKey());
          assertArrayEquals(e.getValue().shape(), t.shape(), e.getKey());
          assertArrayEquals(e.getValue().toByteArray(), t.toByteArray(), e.getKey());
        }
      }
      // no temp file is left behind
      assertEquals(List.of(p), list(tmp));
    }
  }

  private static List<Path> list(Path dir) {
    try (var st = Files.list(dir)) {
      return st.toList();
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  @Test
  void writesExactlyWhatTheReferenceWrites() throws IOException {
    // The reference file holds these tensors; writing the same tensors must give the same bytes.
    Path ref = Fixtures.path("safetensors", "reference.safetensors");
    Path ours = tmp.resolve("ours.safetensors");
    try (SafetensorsFile f = Safetensors.open(ref); TensorScope s = new TensorScope()) {
      Map<String, Tensor> all = f.tensors();
      all.values().forEach(s::track);
      Map<String, Tensor> reversed = new LinkedHashMap<>();
      List<String> names = new java.util.ArrayList<>(all.keySet());
      java.util.Collections.reverse(names); // input order must not matter
      for (String n : names) reversed.put(n, all.get(n));
      Safetensors.write(ours, reversed, f.metadata());
    }
    assertArrayEquals(Files.readAllBytes(ref), Files.readAllBytes(ours));
  }

  @Test
  void readsTheReferenceFileIdentically() throws IOException {
    JsonNode expected = new ObjectMapper().readTree(Fixtures.path("safetensors", "reference.json").toFile());
    try (SafetensorsFile f = Safetensors.open(Fixtures.path("safetensors", "reference.safetensors"));
        TensorScope s = new TensorScope()) {
      assertEquals("pt", f.metadata().get("format"));
      JsonNode tensors = expected.get("tensors");
      assertEquals(tensors.size(), f.names().size());
      for (Iterator<Map.Entry<String, JsonNode>> it = tensors.fields(); it.hasNext(); ) {
        var e = it.next();
        String name = e.getKey();
        JsonNode want = e.getValue();
        Tensor t = s.track(f.tensor(name));
        assertEquals(DType.parse(want.get("dtype").asText()), t.dtype(), name);
        long[] shape = new long[want.get("shape").size()];
        for (int i = 0; i < shape.length; i++) shape[i] = want.get("shape").get(i).asLong();
        assertArrayEquals(shape, t.shape(), name);
        JsonNode values = want.get("values");
        if (t.dtype().isFloatingPoint()) {
          double[] got = s.track(t.to(DType.F64)).toDoubleArray();
          assertEquals(values.size(), got.length, name);
          for (int i = 0; i < got.length; i++) assertEquals(values.get(i).asDouble(), got[i], 0.0, name + "[" + i + "]");
        } else {
          long[] got = s.track(t.to(DType.I64)).toLongArray();
          assertEquals(values.size(), got.length, name);
          for (int i = 0; i < got.length; i++) assertEquals(values.get(i).asLong(), got[i], name + "[" + i + "]");
        }
      }
    }
  }

  @Test
  void alignedTensorsAreViewsOfTheMappingAndOutliveTheFile() throws IOException {
    Path p = tmp.resolve("v.safetensors");
    try (Tensor w = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2)) {
      Safetensors.write(p, Map.of("w", w));
    }
    int before = Fixtures.settledBorrowCount();
    Tensor t;
    try (SafetensorsFile f = Safetensors.open(p)) {
      assertFalse(f.copiesTensors());
      t = f.tensor("w");
      assertEquals(before + 1, Native.borrowedCount()); // wrapped, not copied
    }
    // The file is closed; the tensor still reads the mapped data.
    System.gc();
    assertArrayEquals(new float[] {1, 2, 3, 4}, t.toFloatArray());
    // Writing to it changes neither the file nor crashes (the mapping is copy-on-write).
    t.copyFrom(new float[] {9, 9, 9, 9});
    assertArrayEquals(new float[] {9, 9, 9, 9}, t.toFloatArray());
    t.close();
    assertEquals(before, Fixtures.settledBorrowCount());
    try (SafetensorsFile f = Safetensors.open(p); Tensor again = f.tensor("w")) {
      assertArrayEquals(new float[] {1, 2, 3, 4}, again.toFloatArray());
    }
    SafetensorsFile f = Safetensors.open(p);
    f.close();
    assertThrows(IllegalStateException.class, () -> f.tensor("w"));
  }

  @Test
  void misalignedTensorsAreCopied() throws IOException {
    // u8[3] first, then f32[2] at data offset 3: not 4-byte aligned.
    ByteBuffer d = ByteBuffer.allocate(11).order(ByteOrder.LITTLE_ENDIAN);
    d.put(new byte[] {7, 8, 9}).putFloat(1.5f).putFloat(-2f);
    String header = "{" + entry("u", "U8", "[3]", 0, 3) + "," + entry("f", "F32", "[2]", 3, 11) + "}";
    // pad the header so that the data section itself is 8-aligned
    while ((8 + header.length()) % 8 != 0) header += " ";
    Path p = raw("mis.safetensors", header, d.array());
    try (SafetensorsFile f = Safetensors.open(p); Tensor u = f.tensor("u"); Tensor x = f.tensor("f")) {
      assertArrayEquals(new byte[] {7, 8, 9}, u.toByteArray());
      assertArrayEquals(new float[] {1.5f, -2f}, x.toFloatArray());
    }
  }

  @Test
  void truncatedFiles() throws IOException {
    Path empty = tmp.resolve("empty.safetensors");
    Files.write(empty, new byte[0]);
    fails(empty, "truncated", "8-byte header length");
    Path five = tmp.resolve("five.safetensors");
    Files.write(five, new byte[5]);
    fails(five, "truncated");
    // a good file cut in the data section
    Path good = tmp.resolve("good.safetensors");
    try (Tensor w = Tensor.of(new float[64])) {
      Safetensors.write(good, Map.of("w", w));
    }
    byte[] all = Files.readAllBytes(good);
    Path cut = tmp.resolve("cut.safetensors");
    Files.write(cut, java.util.Arrays.copyOf(all, all.length - 10));
    fails(cut, "'w'", "past the end of the data section", "truncated");
    // cut inside the header
    Path cutHeader = tmp.resolve("cuth.safetensors");
    Files.write(cutHeader, java.util.Arrays.copyOf(all, 20));
    fails(cutHeader, "declares a header of", "truncated");
  }

  @Test
  void hugeOrMaliciousHeaderSizes() throws IOException {
    for (long n : new long[] {Safetensors.MAX_HEADER_BYTES + 1, Long.MAX_VALUE, -1L}) {
      ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(n).putLong(0);
      Path p = tmp.resolve("huge" + Long.toHexString(n) + ".safetensors");
      Files.write(p, b.array());
      fails(p, "more than the limit");
    }
    ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).putLong(0);
    Path p = tmp.resolve("past.safetensors");
    Files.write(p, b.array());
    fails(p, "declares a header of 1000 bytes but has only 8");
  }

  @Test
  void malformedJson() throws IOException {
    fails(raw("a.safetensors", "{\"w\":{\"dtype\":\"F32\",", new byte[0]), "not well-formed JSON");
    fails(raw("b.safetensors", "[1,2]   ", new byte[0]), "does not start with '{'");
    fails(raw("c.safetensors", "{} trailing", new byte[0]), "not well-formed JSON");
    fails(raw("d.safetensors", "{" + entry("w", "F32", "[1]", 0, 4) + "," + entry("w", "F32", "[1]", 0, 4) + "}",
        new byte[4]), "Duplicate field 'w'");
    Path p = tmp.resolve("utf.safetensors");
    ByteBuffer bb = ByteBuffer.allocate(8 + 4).order(ByteOrder.LITTLE_ENDIAN).putLong(4).put(new byte[] {'{', (byte) 0xff, '}', ' '});
    Files.write(p, bb.array());
    fails(p, "not valid UTF-8");
    fails(raw("e.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", new byte[4]), "'w'", "data_offsets");
    fails(raw("f.safetensors", "{\"w\":[1,2]}", new byte[4]), "'w'", "not a JSON object");
    fails(raw("g.safetensors", "{\"__metadata__\":{\"k\":1}}", new byte[0]), "__metadata__", "'k'");
  }

  @Test
  void unknownAndUnsupportedDtypes() throws IOException {
    fails(raw("u.safetensors", "{" + entry("w", "F33", "[1]", 0, 4) + "}", new byte[4]), "'w'", "unknown dtype 'F33'");
    // I16 is a safetensors type, listed fine, but cannot be loaded
    Path p = raw("i16.safetensors", "{" + entry("w", "I16", "[2]", 0, 4) + "}", new byte[4]);
    try (SafetensorsFile f = Safetensors.open(p)) {
      assertEquals(SafetensorsDType.I16, f.info("w").dtype());
      var e = assertThrows(CheckpointException.class, () -> f.tensor("w"));
      assertTrue(e.getMessage().contains("dtype I16") && e.getMessage().contains("'w'"), e.getMessage());
      var e2 = assertThrows(CheckpointException.class, () -> f.tensor("nope"));
      assertTrue(e2.getMessage().contains("no tensor 'nope'"), e2.getMessage());
    }
  }

  @Test
  void shapeAndLengthMismatches() throws IOException {
    fails(raw("a.safetensors", "{" + entry("w", "F32", "[2,3]", 0, 20) + "}", new byte[24]), "'w'", "20 bytes",
        "needs 24");
    fails(raw("b.safetensors", "{" + entry("w", "F32", "[-1]", 0, 4) + "}", new byte[4]), "'w'", "non-negative");
    fails(raw("c.safetensors", "{" + entry("w", "F32", "[1.5]", 0, 4) + "}", new byte[4]), "'w'", "non-negative");
    fails(raw("d.safetensors", "{" + entry("w", "F32", "[4294967296,4294967296]", 0, 4) + "}", new byte[4]), "'w'",
        "overflows");
  }

  @Test
  void overlappingAndOutOfRangeOffsets() throws IOException {
    fails(raw("o.safetensors", "{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}",
        new byte[12]), "overlapping", "'a'", "'b'");
    fails(raw("r.safetensors", "{" + entry("a", "F32", "[2]", 8, 16) + "}", new byte[12]), "'a'", "past the end");
    fails(raw("n.safetensors", "{" + entry("a", "F32", "[0]", 8, 4) + "}", new byte[12]), "'a'", "end before");
    fails(raw("m.safetensors", "{" + entry("a", "F32", "[2]", -8, 0) + "}", new byte[12]), "'a'", "non-negative");
  }

  @Test
  void pickleCheckpointsAreRefused() throws IOException {
    for (String name : List.of("pytorch_model.bin", "sd.ckpt", "w.pt", "w.pth")) {
      Path p = tmp.resolve(name);
      Files.write(p, new byte[64]);
      fails(p, "pickle", "safetensors");
    }
    // a torch.save zip archive renamed to .safetensors
    Path zip = tmp.resolve("zip.safetensors");
    Files.write(zip, new byte[] {'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0});
    fails(zip, "pickle");
    Path pkl = tmp.resolve("pkl.safetensors");
    Files.write(pkl, new byte[] {(byte) 0x80, 2, ']', 'q', 0, 0, 0, 0, 0, 0});
    fails(pkl, "pickle");
    var e = assertThrows(CheckpointException.class, () -> Safetensors.open(tmp.resolve("missing.safetensors")));
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
  }
}
