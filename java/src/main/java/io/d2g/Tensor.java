package io.d2g;

import io.d2g.internal.Access;
import io.d2g.internal.Native;
import io.d2g.internal.NativeHandle;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

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
  static {
    Access.setTensors(new Access.Tensors() {
      @Override
      public Tensor adopt(MemorySegment h) {
        if (h.address() == 0) throw new NativeFailureException("the native library returned no tensor");
        return new Tensor(h);
      }

      @Override
      public MemorySegment handle(Tensor t) {
        return t.handle();
      }
    });
  }

  /** The most dimensions a tensor may have (the C API's D2G_MAX_DIMS). */
  public static final int MAX_DIMS = 16;

  private final NativeHandle handle;
  private long[] shape; // cached: a handle's shape never changes
  private DType dtype;

  private Tensor(MemorySegment address) {
    this.handle = NativeHandle.tensor(this, address);
  }

  /** The native handle. Throws if closed. */
  private MemorySegment handle() {
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
    return new Tensor(Native.tensorEmpty(shape, dtype, device, false));
  }

  /** An uninitialised tensor in page-locked host memory, for fast asynchronous copies to CUDA. */
  public static Tensor emptyPinned(DType dtype, long... shape) {
    return new Tensor(Native.tensorEmpty(shape, dtype, Device.CPU, true));
  }

  /**
   * Standard-normal samples (floating dtypes) on the device, from its default generator (seeded by
   * {@link D2g#manualSeed}). Code that must be reproducible whatever else runs passes its own
   * {@link Generator} instead.
   */
  public static Tensor randn(DType dtype, Device device, long... shape) {
    return new Tensor(Native.tensorRandn(shape, dtype, device, MemorySegment.NULL));
  }

  /** Standard-normal samples (floating dtypes) drawn from {@code gen}, on the generator's device. */
  public static Tensor randn(Generator gen, DType dtype, long... shape) {
    return new Tensor(Native.tensorRandn(shape, dtype, gen.device(), Access.handle(gen)));
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
    return new Tensor(Native.tensorFromBlob(memory, shape, dtype, memory));
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
    Native.tensorCopy(handle(), src.handle(), false);
    return this;
  }

  /** Like {@link #copyFrom(Tensor)}, but a pinned-host to CUDA (or back) copy may run asynchronously. */
  public Tensor copyFromAsync(Tensor src) {
    Native.tensorCopy(handle(), src.handle(), true);
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
    return Native.tensorData(handle(), byteSize());
  }

  // ---- metadata ----------------------------------------------------------------------------------

  public long[] shape() {
    long[] s = shape;
    if (s == null) s = shape = Native.tensorShape(handle());
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
    if (d == null) d = dtype = Native.tensorDtype(handle());
    return d;
  }

  public Device device() {
    return Native.tensorDevice(handle());
  }

  public boolean isContiguous() {
    return Native.tensorIsContiguous(handle());
  }

  // ---- conversion and operations -----------------------------------------------------------------

  /** A tensor on {@code device} with {@code dtype}; shares memory with this one if nothing changes. */
  public Tensor to(Device device, DType dtype) {
    return new Tensor(Native.tensorTo(handle(), device, dtype, false));
  }

  public Tensor to(Device device) {
    return new Tensor(Native.tensorTo(handle(), device, null, false));
  }

  public Tensor to(DType dtype) {
    return to(device(), dtype);
  }

  public Tensor contiguous() {
    return new Tensor(Native.tensorContiguous(handle()));
  }

  /** Same elements, new shape; one dimension may be -1. Shares memory where torch's reshape does. */
  public Tensor reshape(long... newShape) {
    return new Tensor(Native.tensorReshape(handle(), newShape));
  }

  // Element-wise arithmetic, with broadcasting and type promotion like torch's (a 0-dim CPU tensor
  // may meet a tensor on any device). Like every operation here, they record the autograd graph
  // inside Autograd.record() and run as under torch.no_grad outside it.

  /** this + other. */
  public Tensor add(Tensor other) {
    return binary(0, other);
  }

  /** this - other. */
  public Tensor sub(Tensor other) {
    return binary(1, other);
  }

  /** this * other, element-wise. */
  public Tensor mul(Tensor other) {
    return binary(2, other);
  }

  /** this / other, element-wise (true division). */
  public Tensor div(Tensor other) {
    return binary(3, other);
  }

  private Tensor binary(int op, Tensor other) {
    return new Tensor(Native.binary(op, handle(), other.handle()));
  }

  /** this + s. */
  public Tensor add(double s) {
    return new Tensor(Native.scalarOp(0, handle(), s));
  }

  /** this - s. */
  public Tensor sub(double s) {
    return new Tensor(Native.scalarOp(1, handle(), s));
  }

  /** this * s. */
  public Tensor mul(double s) {
    return new Tensor(Native.scalarOp(2, handle(), s));
  }

  /** this / s. */
  public Tensor div(double s) {
    return new Tensor(Native.scalarOp(3, handle(), s));
  }

  /** this to the power s, element-wise. */
  public Tensor pow(double s) {
    return new Tensor(Native.scalarOp(4, handle(), s));
  }

  public Tensor neg() {
    return unary(0);
  }

  public Tensor exp() {
    return unary(1);
  }

  public Tensor log() {
    return unary(2);
  }

  public Tensor sqrt() {
    return unary(3);
  }

  public Tensor abs() {
    return unary(4);
  }

  public Tensor square() {
    return unary(5);
  }

  public Tensor relu() {
    return unary(6);
  }

  public Tensor sigmoid() {
    return unary(7);
  }

  public Tensor tanh() {
    return unary(8);
  }

  /** x * sigmoid(x). */
  public Tensor silu() {
    return unary(9);
  }

  /** log(1 + exp(x)), computed stably (torch.nn.functional.softplus). */
  public Tensor softplus() {
    return unary(10);
  }

  private Tensor unary(int op) {
    return new Tensor(Native.unary(op, handle()));
  }

  /** Matrix product with torch.matmul's rules (1-D, 2-D, batched). */
  public Tensor matmul(Tensor other) {
    return new Tensor(Native.matmul(handle(), other.handle()));
  }

  /** Sum of all elements, as a 0-dimensional tensor. */
  public Tensor sum() {
    return new Tensor(Native.reduce(0, handle(), new long[0], false));
  }

  /** Sum over the given dimensions (negative ones count from the end). */
  public Tensor sum(boolean keepDim, long... dims) {
    requireDims(dims);
    return new Tensor(Native.reduce(0, handle(), dims, keepDim));
  }

  /** Mean of all elements (floating tensors), as a 0-dimensional tensor. */
  public Tensor mean() {
    return new Tensor(Native.reduce(1, handle(), new long[0], false));
  }

  /** Mean over the given dimensions (negative ones count from the end). */
  public Tensor mean(boolean keepDim, long... dims) {
    requireDims(dims);
    return new Tensor(Native.reduce(1, handle(), dims, keepDim));
  }

  private static void requireDims(long[] dims) {
    if (dims.length == 0) throw new InvalidArgumentException("name at least one dimension (sum() and mean() "
        + "without dimensions reduce every element)");
  }

  // ---- autograd ----------------------------------------------------------------------------------

  /**
   * Makes this floating leaf tensor a variable whose gradient {@link #backward} accumulates (or
   * stops that). A module's parameters require grad from the start. Returns this tensor.
   */
  public Tensor requiresGrad(boolean requiresGrad) {
    Native.setRequiresGrad(handle(), requiresGrad);
    return this;
  }

  public boolean requiresGrad() {
    return Native.requiresGrad(handle());
  }

  /**
   * The gradient {@link #backward} accumulated into this leaf tensor, as a new tensor sharing its
   * memory (close it when done), or empty when there is none.
   */
  public Optional<Tensor> grad() {
    MemorySegment g = Native.grad(handle());
    return g.address() == 0 ? Optional.empty() : Optional.of(new Tensor(g));
  }

  /** Drops this tensor's gradient; the next backward starts it anew. */
  public void zeroGrad() {
    Native.zeroGrad(handle());
  }

  /**
   * Backpropagates from this one-element tensor (a loss) computed inside {@link
   * Autograd#record()}: every leaf it depends on that requires grad accumulates d this / d leaf.
   * The graph is freed afterwards.
   */
  public void backward() {
    Native.backward(handle(), MemorySegment.NULL, false);
  }

  /**
   * Backpropagates with {@code grad} as d loss / d this (a tensor of this one's shape; null for a
   * one-element tensor, meaning 1). {@code retainGraph} keeps the graph for another backward.
   */
  public void backward(Tensor grad, boolean retainGraph) {
    Native.backward(handle(), grad == null ? MemorySegment.NULL : grad.handle(), retainGraph);
  }

  /** The same values cut from the autograd graph (shares memory; requires no grad). */
  public Tensor detach() {
    return new Tensor(Native.detach(handle()));
  }

  /**
   * The tensors joined along {@code dim} (torch.cat): one dtype and device, equal sizes except along
   * {@code dim}. A new tensor; the parts are not closed.
   */
  public static Tensor cat(List<Tensor> parts, int dim) {
    if (parts.isEmpty()) throw new InvalidArgumentException("cat needs at least one tensor");
    MemorySegment[] handles = new MemorySegment[parts.size()];
    for (int i = 0; i < handles.length; i++) handles[i] = parts.get(i).handle();
    return new Tensor(Native.cat(handles, dim));
  }

  /**
   * A view of {@code length} entries of dimension {@code dim} from {@code start} on (torch.narrow;
   * negative dims count from the end). It shares this tensor's memory: writing to one changes the other.
   */
  public Tensor narrow(int dim, long start, long length) {
    return new Tensor(Native.narrow(handle(), dim, start, length));
  }

  /**
   * {@code Σ coeffs[i] · xs[i]} in one native call and one new tensor: the samplers' step arithmetic
   * (a DDIM step, guidance's u + g (c − u) = (1 − g) u + g c). 1 to 8 floating tensors of one shape,
   * dtype and device; the coefficients are rounded to that dtype and the sum runs left to right.
   */
  public static Tensor linearCombination(double[] coeffs, Tensor... xs) {
    if (coeffs.length != xs.length)
      throw new InvalidArgumentException(coeffs.length + " coefficients for " + xs.length + " tensors");
    if (xs.length == 0) throw new InvalidArgumentException("a linear combination needs at least one tensor");
    MemorySegment[] handles = new MemorySegment[xs.length];
    for (int i = 0; i < xs.length; i++) handles[i] = xs[i].handle();
    return new Tensor(Native.lincomb(handles, coeffs));
  }

  /** The value of a one-element tensor. */
  public double item() {
    return Native.item(handle());
  }

  @Override
  public String toString() {
    if (isClosed()) return "Tensor(closed)";
    return "Tensor(" + dtype() + Arrays.toString(shape()) + " on " + device() + ")";
  }
}
