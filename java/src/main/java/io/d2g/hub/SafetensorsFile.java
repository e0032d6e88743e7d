package io.d2g.hub;

import io.d2g.CheckpointException;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Tensor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An open safetensors file: its validated header and a memory mapping of its data. Made by {@link
 * Safetensors#open(Path)}.
 *
 * <p>Tensors are views of the mapping, not copies, where they can be: {@link #tensor(String)} wraps
 * the mapped bytes directly when the tensor's data offset is aligned to its element size (the
 * reference writer always aligns them). A misaligned tensor, or any tensor of a file that could
 * only be mapped read-only, is copied once into fresh memory instead.
 *
 * <p>Lifetime: the mapping is private (copy-on-write), so writing to a tensor never changes the file
 * and never faults. It belongs to an automatic arena: {@link #close()} only stops this object from
 * handing out more tensors, while every tensor made from the file keeps the mapping alive as long as
 * it needs it; the mapping goes away once neither this object nor any such tensor uses it. So it is
 * safe to close the file first and use its tensors later.
 *
 * <p>Safe for concurrent reads from several threads.
 */
public final class SafetensorsFile implements AutoCloseable {
  private final Path path;
  private final Map<String, TensorInfo> infos; // in header order
  private final Map<String, String> metadata;
  private final boolean copyAlways;
  private volatile MemorySegment data; // the data section, null once closed

  SafetensorsFile(Path path, Map<String, TensorInfo> infos, Map<String, String> metadata, MemorySegment data,
      boolean copyAlways) {
    this.path = path;
    this.infos = Collections.unmodifiableMap(new LinkedHashMap<>(infos));
    this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    this.data = data;
    this.copyAlways = copyAlways;
  }

  public Path path() {
    return path;
  }

  /** Tensor names in header order. */
  public List<String> names() {
    return new ArrayList<>(infos.keySet());
  }

  public boolean contains(String name) {
    return infos.containsKey(name);
  }

  /** The header entry of a tensor. */
  public TensorInfo info(String name) {
    TensorInfo i = infos.get(name);
    if (i == null) throw noSuchTensor(name);
    return i;
  }

  /** Every header entry, by name, in header order. */
  public Map<String, TensorInfo> infos() {
    return infos;
  }

  /** The header's {@code __metadata__} string map (empty if it has none). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /**
   * The named tensor's bytes (little-endian, row-major), a read-only view of the file's mapping that
   * is valid until this file is closed: for readers that take rows without making a tensor of it all.
   */
  public MemorySegment bytes(String name) {
    MemorySegment d = data;
    if (d == null) throw new IllegalStateException("safetensors file " + path + " is closed");
    TensorInfo i = info(name);
    return d.asSlice(i.begin(), i.byteSize()).asReadOnly();
  }

  /**
   * A CPU tensor with the named tensor's data: a view of the mapping when aligned, else one copy.
   * The caller closes it.
   */
  public Tensor tensor(String name) {
    MemorySegment d = data;
    if (d == null) throw new IllegalStateException("safetensors file " + path + " is closed");
    TensorInfo i = info(name);
    DType dtype = i.dtype().dtype();
    if (dtype == null)
      throw new CheckpointException("tensor '" + name + "' in " + path + " has dtype " + i.dtype()
          + ", which cannot be loaded here (supported: " + SafetensorsDType.supportedList()
          + "); convert it, e.g. to F32, when saving the checkpoint");
    long[] shape = i.shape();
    if (i.byteSize() == 0) return Tensor.empty(dtype, Device.CPU, shape);
    MemorySegment slice = d.asSlice(i.begin(), i.byteSize());
    if (!copyAlways && slice.address() % dtype.byteSize() == 0) return Tensor.wrap(slice, dtype, shape);
    return Tensor.copyOf(slice, dtype, Device.CPU, shape);
  }

  /** Every tensor, by name, in header order. The caller closes them. */
  public Map<String, Tensor> tensors() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    try {
      for (String n : infos.keySet()) out.put(n, tensor(n));
      return out;
    } catch (RuntimeException e) {
      out.values().forEach(Tensor::close);
      throw e;
    }
  }

  /**
   * Checks the data section against the SHA-256 that {@link Safetensors#writeWithDigest} stored in
   * the metadata. Returns false when the file carries no digest; throws {@link CheckpointException}
   * when the data does not match it (the file was damaged or edited after it was written).
   */
  public boolean verifyDigest() {
    String expected = metadata.get(Safetensors.DIGEST_KEY);
    if (expected == null) return false;
    MemorySegment d = data;
    if (d == null) throw new IllegalStateException("safetensors file " + path + " is closed");
    MessageDigest sha = Safetensors.sha256();
    for (long off = 0; off < d.byteSize(); off += 1L << 26)
      sha.update(d.asSlice(off, Math.min(1L << 26, d.byteSize() - off)).asByteBuffer());
    String actual = HexFormat.of().formatHex(sha.digest());
    if (!actual.equals(expected))
      throw new CheckpointException(path + " is damaged: its data does not match the SHA-256 written with it ("
          + actual + " instead of " + expected + "); it was changed or corrupted after it was written");
    return true;
  }

  /** True when tensors are copied rather than mapped (the file could only be opened read-only). */
  public boolean copiesTensors() {
    return copyAlways;
  }

  /** Stops handing out tensors. Tensors already made stay valid (they keep the mapping alive). */
  @Override
  public void close() {
    data = null;
  }

  private CheckpointException noSuchTensor(String name) {
    List<String> some = names().subList(0, Math.min(5, infos.size()));
    return new CheckpointException("no tensor '" + name + "' in " + path + " (it has " + infos.size()
        + " tensors" + (some.isEmpty() ? "" : ", e.g. " + String.join(", ", some)) + ")");
  }

  @Override
  public String toString() {
    return "SafetensorsFile(" + path + ", " + infos.size() + " tensors)";
  }
}
