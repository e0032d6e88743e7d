package io.d2g;

import static io.d2g.bindings.d2g_h.*;

import io.d2g.bindings.d2g_h;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * An n-dimensional array in LibTorch, on the CPU or a CUDA device. Owns exactly one native handle.
 *
 * <p>Close it (try-with-resources, or a {@link TensorScope} for many temporaries); a {@link Cleaner}
 * frees forgotten tensors as a safety net. Any use after {@link #close()} throws {@link
 * IllegalStateException}; closing twice does nothing. A tensor may be read from several threads at
 * once, but must not be written or closed while another thread uses it.
 *
 * <p>Memory: {@link #wrap(MemorySegment, DType, long...)} and {@link #wrap(ByteBuffer, DType,
 * long...)} make a tensor over your off-heap memory without copying, and keep that memory reachable
 * until LibTorch has let go of it. {@code of(float[])} and {@code copyFrom(float[])} copy once;
 * {@link #data()} views a CPU tensor's memory without copying.
 */
public final class Tensor implements AutoCloseable {
  private static final AddressLayout PTR = ValueLayout.ADDRESS;

  private final NativeHandle handle;
  private long[] shape; // cached: a handle's shape never changes
  private DType dtype;

  private Tensor(MemorySegment address) {
    this.handle = new NativeHandle(this, address, d2g_h::d2g_tensor_free);
  }

  /** Takes ownership of a handle the caller got from the C API. Not for general use. */
  public static Tensor adopt(MemorySegment nativeHandle) {
    if (nativeHandle.address() == 0) throw new InvalidArgumentException("null tensor handle");
    return new Tensor(nativeHandle);
  }

  /** Reads the out-handle a C call wrote into scratch and adopts it. */
  private static Tensor adoptOut(MemorySegment status, MemorySegment out) {
    Native.check(status);
    return new Tensor(out.get(PTR, 0));
  }

  /** The native handle, for passing to the C API. Throws if closed. */
  public MemorySegment handle() {
    return handle.get("tensor is closed");
  }

  public boolean isClosed() {
    return handle.isClosed();
  }

  /** Frees the native handle now. The memory goes when no other tensor or view shares it. */
  @Override
  public void close() {
    handle.close();
  }

  // ---- creation ----------------------------------------------------------------------------------

  /** An uninitialised tensor. */
  public static Tensor empty(DType dtype, Device device, long... shape) {
    MemorySegment out = Native.scratch();
    return adoptOut(d2g_tensor_empty(Native.shapeArg(shape), shape.length, dtype.code(), device.typeCode(),
        device.index(), 0, out), out);
  }

  /** An uninitialised tensor in page-locked host memory, for fast asynchronous copies to CUDA. */
  public static Tensor emptyPinned(DType dtype, long... shape) {
    MemorySegment out = Native.scratch();
    return adoptOut(d2g_tensor_empty(Native.shapeArg(shape), shape.length, dtype.code(), 0, 0, 1, out), out);
  }

  /** Standard-normal samples (floating dtypes), from the generator seeded by {@link D2g#manualSeed}. */
  public static Tensor randn(DType dtype, Device device, long... shape) {
    MemorySegment out = Native.scratch();
    return adoptOut(d2g_tensor_randn(Native.shapeArg(shape), shape.length, dtype.code(), device.typeCode(),
        device.index(), out), out);
  }

  /**
   * Zero-copy: a CPU tensor over off-heap memory (C-contiguous, {@code shape} elements of {@code
   * dtype}, exactly filling the segment). Writes through either side are seen by the other. The
   * segment is kept reachable while any tensor uses it, but if you close its arena yourself, the
   * tensor's memory is gone: keep the arena open as long as the tensor (and its views) live.
   */
  public static Tensor wrap(MemorySegment memory, DType dtype, long... shape) {
    if (!memory.isNative())
      throw new InvalidArgumentException("wrap needs off-heap memory; copy a heap array with Tensor.of(...) instead");
    if (memory.address() % dtype.byteSize() != 0)
      throw new InvalidArgumentException("memory at 0x" + Long.toHexString(memory.address())
          + " is not aligned to " + dtype.byteSize() + " bytes for " + dtype);
    MemorySegment ctx = Native.borrow(memory);
    MemorySegment out = Native.scratch();
    MemorySegment status = d2g_tensor_from_blob(memory, memory.byteSize(), Native.shapeArg(shape), shape.length,
        dtype.code(), Native.RELEASE_CALLBACK, ctx, out);
    if (status.address() != 0) Native.unborrow(ctx);
    return adoptOut(status, out);
  }

  /** Zero-copy over a direct buffer's bytes from 0 to its capacity. */
  public static Tensor wrap(ByteBuffer direct, DType dtype, long... shape) {
    if (!direct.isDirect())
      throw new InvalidArgumentException("wrap needs a direct ByteBuffer (ByteBuffer.allocateDirect); "
          + "copy a heap buffer with Tensor.of(...) instead");
    return wrap(MemorySegment.ofBuffer(direct.duplicate().clear()), dtype, shape);
  }

  /** Copies a native or heap segment's bytes into a new tensor on a device. */
  public static Tensor copyOf(MemorySegment data, DType dtype, Device device, long... shape) {
    Tensor t = empty(dtype, device, shape);
    try {
      Native.copyFromHost(t.handle(), data);
      return t;
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  public static Tensor of(float[] data, long... shape) {
    return copyOf(MemorySegment.ofArray(data), DType.F32, Device.CPU, shapeFor(data.length, shape));
  }

  public static Tensor of(double[] data, long... shape) {
    return copyOf(MemorySegment.ofArray(data), DType.F64, Device.CPU, shapeFor(data.length, shape));
  }

  public static Tensor of(int[] data, long... shape) {
    return copyOf(MemorySegment.ofArray(data), DType.I32, Device.CPU, shapeFor(data.length, shape));
  }

  public static Tensor of(long[] data, long... shape) {
    return copyOf(MemorySegment.ofArray(data), DType.I64, Device.CPU, shapeFor(data.length, shape));
  }

  /** Bytes as unsigned 8-bit values (u8). */
  public static Tensor of(byte[] data, long... shape) {
    return copyOf(MemorySegment.ofArray(data), DType.U8, Device.CPU, shapeFor(data.length, shape));
  }

  /** A 1-D tensor of the data's length when no shape is given. */
  private static long[] shapeFor(int length, long[] shape) {
    return shape.length == 0 ? new long[] {length} : shape;
  }

  // ---- copies in and out -------------------------------------------------------------------------

  /** Copies into this tensor (any device); the array must have exactly {@link #numel()} elements. */
  public Tensor copyFrom(float[] data) {
    return copyFrom(MemorySegment.ofArray(data), DType.F32);
  }

  public Tensor copyFrom(int[] data) {
    return copyFrom(MemorySegment.ofArray(data), DType.I32);
  }

  public Tensor copyFrom(long[] data) {
    return copyFrom(MemorySegment.ofArray(data), DType.I64);
  }

  public Tensor copyFrom(byte[] data) {
    return copyFrom(MemorySegment.ofArray(data), DType.U8);
  }

  /** Copies raw bytes (this tensor's dtype, C order) from a heap or native segment of exactly its size. */
  public Tensor copyFrom(MemorySegment data) {
    Native.copyFromHost(handle(), data);
    return this;
  }

  private Tensor copyFrom(MemorySegment data, DType expected) {
    requireDtype(expected, "copyFrom");
    return copyFrom(data);
  }

  /** dst.copy_(src): converts dtype and crosses devices; src's shape must equal or broadcast to ours. */
  public Tensor copyFrom(Tensor src) {
    Native.check(d2g_tensor_copy_(handle(), src.handle(), 0));
    return this;
  }

  /** Like {@link #copyFrom(Tensor)}, but a pinned-host to CUDA (or back) copy may run asynchronously. */
  public Tensor copyFromAsync(Tensor src) {
    Native.check(d2g_tensor_copy_(handle(), src.handle(), 1));
    return this;
  }

  /** Copies this tensor's bytes (any device, any layout) into a heap or native segment of exactly its size. */
  public void copyTo(MemorySegment dst) {
    Native.copyToHost(handle(), dst);
  }

  public void copyTo(float[] dst) {
    requireDtype(DType.F32, "copyTo(float[])");
    copyTo(MemorySegment.ofArray(dst));
  }

  public float[] toFloatArray() {
    float[] a = new float[Math.toIntExact(numelChecked(DType.F32, "toFloatArray"))];
    copyTo(MemorySegment.ofArray(a));
    return a;
  }

  public double[] toDoubleArray() {
    double[] a = new double[Math.toIntExact(numelChecked(DType.F64, "toDoubleArray"))];
    copyTo(MemorySegment.ofArray(a));
    return a;
  }

  public int[] toIntArray() {
    int[] a = new int[Math.toIntExact(numelChecked(DType.I32, "toIntArray"))];
    copyTo(MemorySegment.ofArray(a));
    return a;
  }

  public long[] toLongArray() {
    long[] a = new long[Math.toIntExact(numelChecked(DType.I64, "toLongArray"))];
    copyTo(MemorySegment.ofArray(a));
    return a;
  }

  public byte[] toByteArray() {
    byte[] a = new byte[Math.toIntExact(byteSize())];
    copyTo(MemorySegment.ofArray(a));
    return a;
  }

  private long numelChecked(DType expected, String what) {
    requireDtype(expected, what);
    return numel();
  }

  private void requireDtype(DType expected, String what) {
    if (dtype() != expected)
      throw new InvalidArgumentException(what + " needs a " + expected + " tensor, this is " + this
          + "; convert it with to(DType." + expected.name() + ")");
  }

  /**
   * Zero-copy view of a contiguous CPU tensor's memory. The view holds its own reference to the
   * storage, so it stays valid after this tensor is closed, until the view itself is unreachable.
   */
  public MemorySegment data() {
    MemorySegment out = Native.scratch();
    Native.check(d2g_tensor_alias(handle(), out));
    MemorySegment alias = out.get(PTR, 0);
    MemorySegment ptr = out.asSlice(8, 8);
    MemorySegment status = d2g_tensor_data_ptr(alias, ptr);
    if (status.address() != 0) {
      d2g_tensor_free(alias);
      Native.check(status);
    }
    return ptr.get(PTR, 0).reinterpret(byteSize(), Arena.ofAuto(), s -> d2g_tensor_free(alias));
  }

  // ---- metadata ----------------------------------------------------------------------------------

  public long[] shape() {
    long[] s = shape;
    if (s == null) {
      MemorySegment out = Native.scratch();
      Native.check(d2g_tensor_ndim(handle(), out));
      int ndim = out.get(ValueLayout.JAVA_INT, 0);
      Native.check(d2g_tensor_shape(handle(), out, ndim));
      s = out.asSlice(0, 8L * ndim).toArray(ValueLayout.JAVA_LONG);
      shape = s;
    }
    return s.clone();
  }

  public int ndim() {
    return shape().length;
  }

  public long numel() {
    long n = 1;
    for (long d : shape()) n *= d;
    return n;
  }

  public long byteSize() {
    return numel() * dtype().byteSize();
  }

  public DType dtype() {
    DType d = dtype;
    if (d == null) {
      MemorySegment out = Native.scratch();
      Native.check(d2g_tensor_dtype(handle(), out));
      d = dtype = DType.fromCode(out.get(ValueLayout.JAVA_INT, 0));
    }
    return d;
  }

  public Device device() {
    MemorySegment out = Native.scratch();
    Native.check(d2g_tensor_device(handle(), out, out.asSlice(4)));
    int type = out.get(ValueLayout.JAVA_INT, 0);
    return type == 1 ? Device.cuda(out.get(ValueLayout.JAVA_INT, 4)) : Device.CPU;
  }

  public boolean isContiguous() {
    MemorySegment out = Native.scratch();
    Native.check(d2g_tensor_is_contiguous(handle(), out));
    return out.get(ValueLayout.JAVA_INT, 0) != 0;
  }

  // ---- conversion and operations -----------------------------------------------------------------

  /** A tensor on {@code device} with {@code dtype}; shares memory with this one if nothing changes. */
  public Tensor to(Device device, DType dtype) {
    MemorySegment out = Native.scratch();
    return adoptOut(d2g_tensor_to(handle(), device.typeCode(), device.index(), dtype.code(), 0, out), out);
  }

  public Tensor to(Device device) {
    MemorySegment out = Native.scratch();
    return adoptOut(d2g_tensor_to(handle(), device.typeCode(), device.index(), -1, 0, out), out);
  }

  public Tensor to(DType dtype) {
    return to(device(), dtype);
  }

  public Tensor contiguous() {
    MemorySegment out = Native.scratch();
    return adoptOut(d2g_tensor_contiguous(handle(), out), out);
  }

  /** Same elements, new shape; one dimension may be -1. Shares memory where torch's reshape does. */
  public Tensor reshape(long... newShape) {
    MemorySegment out = Native.scratch();
    return adoptOut(d2g_tensor_reshape(handle(), Native.shapeArg(newShape), newShape.length, out), out);
  }

  /** this + other, with broadcasting and type promotion. */
  public Tensor add(Tensor other) {
    MemorySegment out = Native.scratch();
    return adoptOut(d2g_add(handle(), other.handle(), out), out);
  }

  /** Matrix product with torch.matmul's rules (1-D, 2-D, batched). */
  public Tensor matmul(Tensor other) {
    MemorySegment out = Native.scratch();
    return adoptOut(d2g_matmul(handle(), other.handle(), out), out);
  }

  /** Sum of all elements, as a 0-dimensional tensor. */
  public Tensor sum() {
    MemorySegment out = Native.scratch();
    return adoptOut(d2g_sum(handle(), out), out);
  }

  /** The value of a one-element tensor. */
  public double item() {
    MemorySegment out = Native.scratch();
    Native.check(d2g_tensor_item(handle(), out));
    return out.get(ValueLayout.JAVA_DOUBLE, 0);
  }

  @Override
  public String toString() {
    if (isClosed()) return "Tensor(closed)";
    return "Tensor(" + dtype() + Arrays.toString(shape()) + " on " + device() + ")";
  }
}
