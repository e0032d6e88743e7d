package io.d2g.internal;

import static io.d2g.bindings.d2g_h.*;

import io.d2g.D2gException;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.DeviceOutOfMemoryException;
import io.d2g.DeviceUnavailableException;
import io.d2g.InvalidArgumentException;
import io.d2g.NativeFailureException;
import io.d2g.NativeIoException;
import io.d2g.bindings.d2g_release_fn;
import io.d2g.diffusion.Prediction;
import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The C API (native/include/d2g.h) as Java methods, and the only code that calls the
 * jextract-generated bindings ({@code io.d2g.bindings}): one method per C function, which loads the
 * library if needed, passes the arguments, turns a non-NULL status into the typed exception for its
 * code, and returns the result (new handles as raw addresses, which the public classes own through
 * {@link NativeHandle}). Enum codes come from the header's own constants.
 *
 * <p>Not public API: the module does not export this package.
 */
public final class Native {
  private Native() {}

  /**
   * Loads the native library unless it is loaded already (a volatile read then). Every entry point
   * calls it before its first native call, so that a missing library surfaces as a {@link
   * io.d2g.LibraryLoadException} at the call, every time, rather than as an error while a class is
   * initialised (which Java turns into ExceptionInInitializerError once, NoClassDefFoundError after).
   */
  public static void load() {
    NativeLibrary.load();
  }

  // ---- status ---------------------------------------------------------------------------------

  /** Throws the typed exception for a non-NULL status, after freeing it. */
  public static void check(MemorySegment status) {
    if (status.address() != 0) throw toException(status);
  }

  private static D2gException toException(MemorySegment status) {
    int code;
    String message;
    try {
      code = d2g_status_code(status);
      message = d2g_status_message(status).reinterpret(Long.MAX_VALUE).getString(0);
    } finally {
      d2g_status_free(status);
    }
    if (code == D2G_INVALID_ARGUMENT()) return new InvalidArgumentException(message);
    if (code == D2G_OUT_OF_MEMORY()) return new DeviceOutOfMemoryException(message);
    if (code == D2G_DEVICE_UNAVAILABLE()) return new DeviceUnavailableException(message);
    if (code == D2G_IO_ERROR()) return new NativeIoException(message);
    return new NativeFailureException(message);
  }

  /** The status codes of d2g.h, by name (for tests that tie the Java side to the header). */
  public static Map<String, Integer> statusCodes() {
    return Map.of("OK", D2G_OK(), "INVALID_ARGUMENT", D2G_INVALID_ARGUMENT(), "OUT_OF_MEMORY", D2G_OUT_OF_MEMORY(),
        "DEVICE_UNAVAILABLE", D2G_DEVICE_UNAVAILABLE(), "NATIVE_FAILURE", D2G_NATIVE_FAILURE(), "IO_ERROR",
        D2G_IO_ERROR());
  }

  // ---- enum codes, from the header's constants --------------------------------------------------

  public static int dtypeCode(DType t) {
    return switch (t) {
      case F32 -> D2G_F32();
      case F16 -> D2G_F16();
      case BF16 -> D2G_BF16();
      case I32 -> D2G_I32();
      case I64 -> D2G_I64();
      case U8 -> D2G_U8();
      case BOOL -> D2G_BOOL();
      case F64 -> D2G_F64();
    };
  }

  public static DType dtype(int code) {
    for (DType t : DType.values()) if (dtypeCode(t) == code) return t;
    throw new NativeFailureException("the native library reported an unknown dtype code " + code);
  }

  public static int deviceTypeCode(Device d) {
    return d.isCuda() ? D2G_CUDA() : D2G_CPU();
  }

  private static Device device(int type, int index) {
    return type == D2G_CUDA() ? Device.cuda(index) : Device.CPU;
  }

  public static int predictionCode(Prediction p) {
    return switch (p) {
      case EPSILON -> D2G_PREDICT_EPSILON();
      case V_PREDICTION -> D2G_PREDICT_V();
      case SAMPLE -> D2G_PREDICT_SAMPLE();
    };
  }

  // ---- scratch memory for out-parameters ------------------------------------------------------

  /**
   * 512 bytes of native memory private to the calling Java thread (virtual threads included: the
   * memory follows the Java thread, not the carrier), for out-parameters and small argument arrays.
   * Valid until the thread's next call that uses it; never handed to native code that keeps it.
   */
  private static MemorySegment scratch() {
    NativeLibrary.load();
    return SCRATCH.get();
  }

  private static final ThreadLocal<MemorySegment> SCRATCH =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(512, 16));

  /** Writes shape into scratch (from byte offset 256) and returns that slice. */
  private static MemorySegment shapeArg(MemorySegment scratch, long[] shape) {
    if (shape.length > D2G_MAX_DIMS())
      throw new InvalidArgumentException("a tensor may have at most " + D2G_MAX_DIMS() + " dimensions, got "
          + shape.length);
    MemorySegment s = scratch.asSlice(256, 8L * D2G_MAX_DIMS());
    MemorySegment.copy(shape, 0, s, ValueLayout.JAVA_LONG, 0, shape.length);
    return s;
  }

  /** Checks a call that wrote one new handle into {@code out} and returns the handle. */
  private static MemorySegment handle(MemorySegment status, MemorySegment out) {
    check(status);
    return out.get(ValueLayout.ADDRESS, 0);
  }

  private static int intOut(MemorySegment status, MemorySegment out) {
    check(status);
    return out.get(ValueLayout.JAVA_INT, 0);
  }

  private static String string(MemorySegment cString) {
    return cString.reinterpret(Long.MAX_VALUE).getString(0);
  }

  private static int flag(boolean b) {
    return b ? 1 : 0;
  }

  // ---- library and devices --------------------------------------------------------------------

  public static String version() {
    load();
    return string(d2g_version());
  }

  public static String torchVersion() {
    load();
    return string(d2g_torch_version());
  }

  public static boolean cudaCompiled() {
    load();
    return d2g_cuda_compiled() != 0;
  }

  public static boolean cudaAvailable() {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return intOut(d2g_cuda_is_available(out), out) != 0;
    } finally {
      ExitGuard.leave();
    }
  }

  public static int cudaDeviceCount() {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return intOut(d2g_cuda_device_count(out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static String cudaDeviceName(int index) {
    ExitGuard.enter();
    try {
      MemorySegment buf = scratch();
      check(d2g_cuda_device_name(index, buf, 256));
      return buf.getString(0);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void manualSeed(long seed) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_manual_seed(seed));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void synchronize(int deviceIndex) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_synchronize(deviceIndex));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void setAllowTf32(boolean allow) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_set_allow_tf32(flag(allow)));
    } finally {
      ExitGuard.leave();
    }
  }

  /** Returns whether the build has the kernels. */
  public static boolean setFusedKernels(boolean enabled) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return intOut(d2g_set_fused_kernels(flag(enabled), out), out) != 0;
    } finally {
      ExitGuard.leave();
    }
  }

  /** Returns the setting replaced. */
  public static int setHostCopyThreads(int threads) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return intOut(d2g_set_host_copy_threads(threads, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void setCudnnBenchmark(boolean enabled) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_set_cudnn_benchmark(flag(enabled)));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void profilerStart() {
    ExitGuard.enter();
    try {
      load();
      check(d2g_profiler_start());
    } finally {
      ExitGuard.leave();
    }
  }

  public static void profilerStop(String path) {
    ExitGuard.enter();
    try {
      load();
      try (Arena arena = Arena.ofConfined()) {
        check(d2g_profiler_stop(arena.allocateFrom(path)));
      }
    } finally {
      ExitGuard.leave();
    }
  }

  public static long cudaMemoryPeak(int deviceIndex, boolean reset) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_cuda_memory_peak(deviceIndex, flag(reset), out));
      return out.get(ValueLayout.JAVA_LONG, 0);
    } finally {
      ExitGuard.leave();
    }
  }
  /** threads 0 reads the setting; returns the setting before the call. */
  public static int cpuThreads(int threads) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return intOut(d2g_cpu_threads(threads, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static String blasLibrary() {
    ExitGuard.enter();
    try {
      MemorySegment buf = scratch();
      check(d2g_blas_library(buf, 256));
      return buf.getString(0);
    } finally {
      ExitGuard.leave();
    }
  }


  // ---- generators -----------------------------------------------------------------------------

  public static MemorySegment generatorCreate(Device device, long seed) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_generator_create(deviceTypeCode(device), device.index(), seed, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void generatorSeed(MemorySegment g, long seed) {
    ExitGuard.enter();
    try {
      check(d2g_generator_seed(g, seed));
    } finally {
      ExitGuard.leave();
    }
  }

  /** A new tensor handle holding the state. */
  public static MemorySegment generatorGetState(MemorySegment g) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_generator_get_state(g, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void generatorSetState(MemorySegment g, MemorySegment stateTensor) {
    ExitGuard.enter();
    try {
      check(d2g_generator_set_state(g, stateTensor));
    } finally {
      ExitGuard.leave();
    }
  }

  static void generatorFree(MemorySegment g) {
    if (!ExitGuard.enterFree()) return;
    try {
      d2g_generator_free(g);
    } finally {
      ExitGuard.leave();
    }
  }

  // ---- tensors --------------------------------------------------------------------------------

  public static MemorySegment tensorEmpty(long[] shape, DType dtype, Device device, boolean pinned) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_tensor_empty(shapeArg(out, shape), shape.length, dtypeCode(dtype), deviceTypeCode(device),
          device.index(), flag(pinned), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** gen: a generator handle, or NULL for the device's default generator. */
  public static MemorySegment tensorRandn(long[] shape, DType dtype, Device device, MemorySegment gen) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_tensor_randn(shapeArg(out, shape), shape.length, dtypeCode(dtype), deviceTypeCode(device),
          device.index(), gen, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /**
   * A CPU tensor over {@code memory} (borrowed: {@code owner} is kept reachable until LibTorch lets
   * go of the storage).
   */
  public static MemorySegment tensorFromBlob(MemorySegment memory, long[] shape, DType dtype, Object owner) {
    ExitGuard.enter();
    try {
      MemorySegment ctx = borrow(owner);
      MemorySegment out = scratch();
      MemorySegment status = d2g_tensor_from_blob(memory, memory.byteSize(), shapeArg(out, shape), shape.length,
          dtypeCode(dtype), RELEASE_CALLBACK, ctx, out);
      if (status.address() != 0) unborrow(ctx);
      return handle(status, out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void tensorCopy(MemorySegment dst, MemorySegment src, boolean nonBlocking) {
    ExitGuard.enter();
    try {
      check(d2g_tensor_copy_(dst, src, flag(nonBlocking)));
    } finally {
      ExitGuard.leave();
    }
  }

  /**
   * A zero-copy view of a contiguous CPU tensor's memory, valid until the view is unreachable: it
   * holds its own reference to the storage (an alias handle freed with the view).
   */
  public static MemorySegment tensorData(MemorySegment t, long byteSize) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      MemorySegment alias = handle(d2g_tensor_alias(t, out), out);
      MemorySegment ptr = out.asSlice(8, 8);
      MemorySegment status = d2g_tensor_data_ptr(alias, ptr);
      if (status.address() != 0) {
        d2g_tensor_free(alias);
        check(status);
      }
      return ptr.get(ValueLayout.ADDRESS, 0).reinterpret(byteSize, Arena.ofAuto(), s -> tensorFree(alias));
    } finally {
      ExitGuard.leave();
    }
  }

  public static long[] tensorShape(MemorySegment t) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      int ndim = intOut(d2g_tensor_ndim(t, out), out);
      check(d2g_tensor_shape(t, out, ndim));
      return out.asSlice(0, 8L * ndim).toArray(ValueLayout.JAVA_LONG);
    } finally {
      ExitGuard.leave();
    }
  }

  public static DType tensorDtype(MemorySegment t) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return dtype(intOut(d2g_tensor_dtype(t, out), out));
    } finally {
      ExitGuard.leave();
    }
  }

  public static Device tensorDevice(MemorySegment t) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_tensor_device(t, out, out.asSlice(4)));
      return device(out.get(ValueLayout.JAVA_INT, 0), out.get(ValueLayout.JAVA_INT, 4));
    } finally {
      ExitGuard.leave();
    }
  }

  public static boolean tensorIsContiguous(MemorySegment t) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return intOut(d2g_tensor_is_contiguous(t, out), out) != 0;
    } finally {
      ExitGuard.leave();
    }
  }

  /** dtype null keeps it. */
  public static MemorySegment tensorTo(MemorySegment t, Device device, DType dtype, boolean nonBlocking) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_tensor_to(t, deviceTypeCode(device), device.index(), dtype == null ? -1 : dtypeCode(dtype),
          flag(nonBlocking), ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment tensorContiguous(MemorySegment t) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_tensor_contiguous(t, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment tensorReshape(MemorySegment t, long[] shape) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_tensor_reshape(t, shapeArg(out, shape), shape.length, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** op: the C API's d2g_binary_op (0 add, 1 sub, 2 mul, 3 div). */
  public static MemorySegment binary(int op, MemorySegment a, MemorySegment b) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_binary(op, a, b, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment matmul(MemorySegment a, MemorySegment b) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_matmul(a, b, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment cat(MemorySegment[] tensors, int dim) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment arr = arena.allocate(ValueLayout.ADDRESS, tensors.length);
        for (int i = 0; i < tensors.length; i++) arr.setAtIndex(ValueLayout.ADDRESS, i, tensors[i]);
        return handle(d2g_cat(arr, tensors.length, dim, ExecMode.bits(), out), out);
      }
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment narrow(MemorySegment t, int dim, long start, long length) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_narrow(t, dim, start, length, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment lincomb(MemorySegment[] tensors, double[] coeffs) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment arr = arena.allocate(ValueLayout.ADDRESS, tensors.length);
        for (int i = 0; i < tensors.length; i++) arr.setAtIndex(ValueLayout.ADDRESS, i, tensors[i]);
        MemorySegment c = arena.allocateFrom(ValueLayout.JAVA_DOUBLE, coeffs);
        return handle(d2g_lincomb(arr, c, tensors.length, ExecMode.bits(), out), out);
      }
    } finally {
      ExitGuard.leave();
    }
  }

  /** op: d2g_scalar_op's (0 add, 1 sub, 2 mul, 3 div, 4 pow). */
  public static MemorySegment scalarOp(int op, MemorySegment t, double s) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_scalar_op(op, t, s, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** op: the C API's d2g_unary_op. */
  public static MemorySegment unary(int op, MemorySegment t) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_unary(op, t, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** op: 0 sum, 1 mean; dims empty for all elements. */
  public static MemorySegment reduce(int op, MemorySegment t, long[] dims, boolean keepDim) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      MemorySegment d = dims.length == 0 ? MemorySegment.NULL : shapeArg(out, dims);
      return handle(d2g_reduce(op, t, d, dims.length, flag(keepDim), ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  // ---- autograd -------------------------------------------------------------------------------

  public static void setRequiresGrad(MemorySegment t, boolean requiresGrad) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_tensor_set_requires_grad(t, flag(requiresGrad)));
    } finally {
      ExitGuard.leave();
    }
  }

  public static boolean requiresGrad(MemorySegment t) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return intOut(d2g_tensor_requires_grad(t, out), out) != 0;
    } finally {
      ExitGuard.leave();
    }
  }

  /** A new handle to the tensor's gradient, or NULL when it has none. */
  public static MemorySegment grad(MemorySegment t) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      out.set(ValueLayout.ADDRESS, 0, MemorySegment.NULL);
      return handle(d2g_tensor_grad(t, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void zeroGrad(MemorySegment t) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_tensor_zero_grad(t));
    } finally {
      ExitGuard.leave();
    }
  }

  /** grad: NULL for a one-element tensor. */
  public static void backward(MemorySegment t, MemorySegment grad, boolean retainGraph) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_tensor_backward(t, grad, flag(retainGraph)));
    } finally {
      ExitGuard.leave();
    }
  }

  /** gradOutputs: null when every output has one element. Entries of the result may be NULL. */
  public static MemorySegment[] autogradGrad(MemorySegment[] outputs, MemorySegment[] gradOutputs,
      MemorySegment[] inputs, boolean createGraph) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      load();
      MemorySegment outs = addresses(arena, outputs);
      MemorySegment gouts = gradOutputs == null ? MemorySegment.NULL : addresses(arena, gradOutputs);
      MemorySegment ins = addresses(arena, inputs);
      MemorySegment grads = arena.allocate(ValueLayout.ADDRESS, inputs.length);
      check(d2g_autograd_grad(outs, gouts, outputs.length, ins, inputs.length, flag(createGraph), grads));
      MemorySegment[] result = new MemorySegment[inputs.length];
      for (int i = 0; i < result.length; i++) result[i] = grads.getAtIndex(ValueLayout.ADDRESS, i);
      return result;
    } finally {
      ExitGuard.leave();
    }
  }

  private static MemorySegment addresses(Arena arena, MemorySegment[] handles) {
    MemorySegment arr = arena.allocate(ValueLayout.ADDRESS, Math.max(1, handles.length));
    for (int i = 0; i < handles.length; i++) arr.setAtIndex(ValueLayout.ADDRESS, i, handles[i]);
    return arr;
  }

  public static MemorySegment detach(MemorySegment t) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_tensor_detach(t, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static double item(MemorySegment t) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_tensor_item(t, out));
      return out.get(ValueLayout.JAVA_DOUBLE, 0);
    } finally {
      ExitGuard.leave();
    }
  }

  static void tensorFree(MemorySegment t) {
    if (!ExitGuard.enterFree()) return;
    try {
      d2g_tensor_free(t);
    } finally {
      ExitGuard.leave();
    }
  }

  // ---- heap array copies (one copy, no staging buffer) ----------------------------------------

  /** Critical downcalls for heap copies, looked up once the library is loaded (by the first use). */
  private static final class Critical {
    static final MethodHandle COPY_FROM_HOST = critical(
        d2g_tensor_copy_from_host$address(), d2g_tensor_copy_from_host$descriptor());
    static final MethodHandle COPY_TO_HOST = critical(
        d2g_tensor_copy_to_host$address(), d2g_tensor_copy_to_host$descriptor());

    private static MethodHandle critical(MemorySegment address, java.lang.foreign.FunctionDescriptor desc) {
      return Linker.nativeLinker().downcallHandle(address, desc, Linker.Option.critical(true));
    }
  }

  /** Copies a heap or native segment into a tensor of exactly that many bytes. */
  public static void copyFromHost(MemorySegment tensor, MemorySegment data) {
    ExitGuard.enter();
    try {
      try {
        check((MemorySegment) Critical.COPY_FROM_HOST.invokeExact(tensor, data, data.byteSize()));
      } catch (D2gException e) {
        throw e;
      } catch (Throwable t) {
        throw new NativeFailureException("copy into tensor failed: " + t);
      }
    } finally {
      ExitGuard.leave();
    }
  }

  /** Copies a tensor of exactly {@code data.byteSize()} bytes into a heap or native segment. */
  public static void copyToHost(MemorySegment tensor, MemorySegment data) {
    ExitGuard.enter();
    try {
      try {
        check((MemorySegment) Critical.COPY_TO_HOST.invokeExact(tensor, data, data.byteSize()));
      } catch (D2gException e) {
        throw e;
      } catch (Throwable t) {
        throw new NativeFailureException("copy out of tensor failed: " + t);
      }
    } finally {
      ExitGuard.leave();
    }
  }

  // ---- borrowed memory: keeping the owner alive until LibTorch lets go ------------------------

  private static final ConcurrentHashMap<Long, Object> BORROWED = new ConcurrentHashMap<>();
  private static final AtomicLong NEXT_ID = new AtomicLong(1);

  /** The release callback handed to d2g_tensor_from_blob: drops the keep-alive of one borrow. */
  private static final MemorySegment RELEASE_CALLBACK = d2g_release_fn.allocate(Native::release, Arena.global());

  private static void release(MemorySegment context) {
    // Runs on whatever thread drops the last reference; must never throw into native code.
    try {
      BORROWED.remove(context.address());
    } catch (Throwable ignored) {
      // nothing sensible to do; the entry stays, which only delays collection
    }
  }

  private static MemorySegment borrow(Object owner) {
    long id = NEXT_ID.getAndIncrement();
    BORROWED.put(id, owner);
    return MemorySegment.ofAddress(id);
  }

  private static void unborrow(MemorySegment context) {
    BORROWED.remove(context.address());
  }

  /** How many borrowed memory owners are still in use by native tensors (for tests and leak checks). */
  public static int borrowedCount() {
    return BORROWED.size();
  }

  // ---- modules --------------------------------------------------------------------------------

  /** config: the native key=value text (see ModuleConfig). */
  public static MemorySegment moduleCreate(String kind, String config, boolean initialise) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment k = arena.allocateFrom(kind), c = arena.allocateFrom(config);
        return handle(initialise ? d2g_module_create(k, c, out) : d2g_module_create_empty(k, c, out), out);
      }
    } finally {
      ExitGuard.leave();
    }
  }

  public static void moduleTo(MemorySegment m, Device device, DType dtype) {
    ExitGuard.enter();
    try {
      check(d2g_module_to(m, deviceTypeCode(device), device.index(), dtype == null ? -1 : dtypeCode(dtype)));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void moduleSetChannelsLast(MemorySegment m, boolean channelsLast) {
    ExitGuard.enter();
    try {
      check(d2g_module_set_channels_last(m, flag(channelsLast)));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void moduleSetTraining(MemorySegment m, boolean training) {
    ExitGuard.enter();
    try {
      check(d2g_module_set_training(m, flag(training)));
    } finally {
      ExitGuard.leave();
    }
  }

  /** Names of the state entries, in order. */
  public static List<String> moduleStateNames(MemorySegment m) {
    return moduleState(m, false).names;
  }

  /** Names and new tensor handles sharing the entries' memory, in order. */
  public static StateEntries moduleState(MemorySegment m, boolean withTensors) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_module_state_size(m, out));
      long n = out.get(ValueLayout.JAVA_LONG, 0);
      List<String> names = new ArrayList<>((int) n);
      List<MemorySegment> tensors = new ArrayList<>(withTensors ? (int) n : 0);
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment buf = arena.allocate(1024);
        MemorySegment t = arena.allocate(ValueLayout.ADDRESS);
        for (long i = 0; i < n; i++) {
          check(d2g_module_state_entry(m, i, buf, buf.byteSize(), withTensors ? t : MemorySegment.NULL));
          names.add(buf.getString(0));
          if (withTensors) tensors.add(t.get(ValueLayout.ADDRESS, 0));
        }
      } catch (RuntimeException e) {
        tensors.forEach(Native::tensorFree);
        throw e;
      }
      return new StateEntries(names, tensors);
    } finally {
      ExitGuard.leave();
    }
  }

  /** A module's state: names and (when asked for) new tensor handles, in the same order. */
  public record StateEntries(List<String> names, List<MemorySegment> tensors) {}

  public static void moduleLoadState(MemorySegment m, List<String> names, List<MemorySegment> tensors, boolean strict) {
    ExitGuard.enter();
    try {
      try (Arena arena = Arena.ofConfined()) {
        int n = names.size();
        MemorySegment ns = arena.allocate(ValueLayout.ADDRESS, Math.max(1, n));
        MemorySegment hs = arena.allocate(ValueLayout.ADDRESS, Math.max(1, n));
        for (int i = 0; i < n; i++) {
          ns.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(names.get(i)));
          hs.setAtIndex(ValueLayout.ADDRESS, i, tensors.get(i));
        }
        check(d2g_module_load_state(m, ns, hs, n, flag(strict)));
      }
    } finally {
      ExitGuard.leave();
    }
  }

  public static long moduleParameterCount(MemorySegment m) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_module_parameter_count(m, out));
      return out.get(ValueLayout.JAVA_LONG, 0);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void moduleSetRequiresGrad(MemorySegment m, boolean requiresGrad) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_module_set_requires_grad(m, flag(requiresGrad)));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void moduleZeroGrad(MemorySegment m) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_module_zero_grad(m));
    } finally {
      ExitGuard.leave();
    }
  }

  static void moduleFree(MemorySegment m) {
    if (!ExitGuard.enterFree()) return;
    try {
      d2g_module_free(m);
    } finally {
      ExitGuard.leave();
    }
  }

  // ---- model families -------------------------------------------------------------------------

  public static MemorySegment linearForward(MemorySegment m, MemorySegment x) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_linear_forward(m, x, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** Two handles (hidden, pooled); either NULL when not asked for. */
  public static MemorySegment[] clipTextForward(MemorySegment m, MemorySegment ids, int hiddenLayer,
      boolean finalLayerNorm, boolean hidden, boolean pooled) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      out.set(ValueLayout.ADDRESS, 0, MemorySegment.NULL);
      out.set(ValueLayout.ADDRESS, 8, MemorySegment.NULL);
      check(d2g_clip_text_forward(m, ids, hiddenLayer, flag(finalLayerNorm), ExecMode.bits(), hidden ? out : MemorySegment.NULL,
          pooled ? out.asSlice(8) : MemorySegment.NULL));
      return new MemorySegment[] {out.get(ValueLayout.ADDRESS, 0), out.get(ValueLayout.ADDRESS, 8)};
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment clipTextProject(MemorySegment m, MemorySegment pooled) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_clip_text_project(m, pooled, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** Two handles: mean, logvar. */
  public static MemorySegment[] vaeEncode(MemorySegment m, MemorySegment x) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_vae_encode(m, x, ExecMode.bits(), out, out.asSlice(8)));
      return new MemorySegment[] {out.get(ValueLayout.ADDRESS, 0), out.get(ValueLayout.ADDRESS, 8)};
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment vaeDecode(MemorySegment m, MemorySegment z) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_vae_decode(m, z, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment judgeEncodeImage(MemorySegment m, MemorySegment images) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_judge_encode_image(m, images, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment judgeEncodeText(MemorySegment m, MemorySegment text) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_judge_encode_text(m, text, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment vaeSample(MemorySegment mean, MemorySegment logvar, MemorySegment gen) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_vae_sample(mean, logvar, gen, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment unetForward(MemorySegment m, MemorySegment sample, MemorySegment timestep,
      MemorySegment context) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_unet_forward(m, sample, timestep, context, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static int unetFeatureCount(MemorySegment m) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return intOut(d2g_unet_feature_count(m, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** The output handle first, then the features' handles. */
  public static List<MemorySegment> unetForwardFeatures(MemorySegment m, MemorySegment sample, MemorySegment timestep,
      MemorySegment context) {
    ExitGuard.enter();
    try {
      int capacity = unetFeatureCount(m);
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        MemorySegment features = arena.allocate(ValueLayout.ADDRESS, capacity);
        MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
        check(d2g_unet_forward_features(m, sample, timestep, context, ExecMode.bits(), out, features, capacity,
            count));
        int n = count.get(ValueLayout.JAVA_INT, 0);
        List<MemorySegment> all = new ArrayList<>(n + 1);
        all.add(out.get(ValueLayout.ADDRESS, 0));
        for (int i = 0; i < n; i++) all.add(features.getAtIndex(ValueLayout.ADDRESS, i));
        return all;
      }
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment lpipsDistance(MemorySegment m, MemorySegment x0, MemorySegment x1) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_lpips_distance(m, x0, x1, ExecMode.bits(), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** null parameters are skipped; returns the two outputs. */
  public static MemorySegment[] lpipsAugment(MemorySegment x0, MemorySegment x1, MemorySegment[] params) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment o0 = arena.allocate(ValueLayout.ADDRESS), o1 = arena.allocate(ValueLayout.ADDRESS);
      MemorySegment[] p = new MemorySegment[6];
      for (int i = 0; i < 6; i++) p[i] = params[i] == null ? MemorySegment.NULL : params[i];
      check(d2g_lpips_augment(x0, x1, p[0], p[1], p[2], p[3], p[4], p[5], ExecMode.bits(), o0, o1));
      return new MemorySegment[] {o0.get(ValueLayout.ADDRESS, 0), o1.get(ValueLayout.ADDRESS, 0)};
    } finally {
      ExitGuard.leave();
    }
  }

  /** Six handles (NULL segments where the preset has no such part). */
  public static MemorySegment[] lpipsAugmentDraw(String preset, long b, long c, long h, long w, MemorySegment gen) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.ADDRESS, 6);
      check(d2g_lpips_augment_draw(arena.allocateFrom(preset), b, c, h, w, gen, out, 6));
      MemorySegment[] all = new MemorySegment[6];
      for (int i = 0; i < 6; i++) all[i] = out.getAtIndex(ValueLayout.ADDRESS, i);
      return all;
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment lpipsDistanceEnsemble(MemorySegment m, MemorySegment x0, MemorySegment x1, String preset,
      MemorySegment gen) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
      check(d2g_lpips_distance_ensemble(m, x0, x1, arena.allocateFrom(preset), gen, ExecMode.bits(), out));
      return out.get(ValueLayout.ADDRESS, 0);
    } finally {
      ExitGuard.leave();
    }
  }

  /** The distances and the gradient with respect to x0: two handles. */
  public static MemorySegment[] lpipsDistanceGrad(MemorySegment m, MemorySegment x0, MemorySegment x1, String preset,
      MemorySegment gen, boolean cudaGraph) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment d = arena.allocate(ValueLayout.ADDRESS), g = arena.allocate(ValueLayout.ADDRESS);
      check(d2g_lpips_distance_grad(m, x0, x1, arena.allocateFrom(preset), gen, ExecMode.bits(), flag(cudaGraph), d, g));
      return new MemorySegment[] {d.get(ValueLayout.ADDRESS, 0), g.get(ValueLayout.ADDRESS, 0)};
    } finally {
      ExitGuard.leave();
    }
  }

  public static List<MemorySegment> lpipsFeatures(MemorySegment m, MemorySegment latents) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment taps = arena.allocate(ValueLayout.ADDRESS, 5);
      MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
      check(d2g_lpips_features(m, latents, ExecMode.bits(), taps, 5, count));
      List<MemorySegment> all = new ArrayList<>(5);
      for (int i = 0; i < count.get(ValueLayout.JAVA_INT, 0); i++) all.add(taps.getAtIndex(ValueLayout.ADDRESS, i));
      return all;
    } finally {
      ExitGuard.leave();
    }
  }

  // ---- training: optimizers and averages --------------------------------------------------------

  /** params given group by group; group[i] non-decreasing from 0. */
  public static MemorySegment optimizerCreate(String kind, String config, MemorySegment[] params, int[] group,
      double[] lr, double[] weightDecay) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = scratch();
      MemorySegment ps = addresses(arena, params);
      MemorySegment gs = arena.allocateFrom(ValueLayout.JAVA_INT, group);
      MemorySegment lrs = arena.allocateFrom(ValueLayout.JAVA_DOUBLE, lr);
      MemorySegment wds = arena.allocateFrom(ValueLayout.JAVA_DOUBLE, weightDecay);
      return handle(d2g_optimizer_create(arena.allocateFrom(kind), arena.allocateFrom(config), ps, gs, params.length,
          lrs, wds, lr.length, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void optimizerStep(MemorySegment o) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_optimizer_step(o));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void optimizerZeroGrad(MemorySegment o) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_optimizer_zero_grad(o));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void optimizerSetLr(MemorySegment o, int group, double lr) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_optimizer_set_lr(o, group, lr));
    } finally {
      ExitGuard.leave();
    }
  }

  /** Returns the total norm before clipping. */
  public static double optimizerClipGradNorm(MemorySegment o, double maxNorm) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_optimizer_clip_grad_norm(o, maxNorm, out));
      return out.get(ValueLayout.JAVA_DOUBLE, 0);
    } finally {
      ExitGuard.leave();
    }
  }

  /** Names and new tensor handles of the optimizer's state. */
  public static StateEntries optimizerState(MemorySegment o) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_optimizer_state_size(o, out));
      long n = out.get(ValueLayout.JAVA_LONG, 0);
      return entries(n, (i, buf, t) -> d2g_optimizer_state_entry(o, i, buf, buf.byteSize(), t));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void optimizerLoadState(MemorySegment o, List<String> names, List<MemorySegment> tensors) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      load();
      check(d2g_optimizer_load_state(o, strings(arena, names), addresses(arena, tensors.toArray(MemorySegment[]::new)),
          names.size()));
    } finally {
      ExitGuard.leave();
    }
  }

  static void optimizerFree(MemorySegment o) {
    if (!ExitGuard.enterFree()) return;
    try {
      d2g_optimizer_free(o);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment emaCreate(MemorySegment module) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_ema_create(module, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void emaUpdate(MemorySegment e, double decay) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_ema_update(e, decay));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void emaCopyToModule(MemorySegment e) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_ema_copy_to_module(e));
    } finally {
      ExitGuard.leave();
    }
  }

  public static StateEntries emaState(MemorySegment e) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_ema_state_size(e, out));
      long n = out.get(ValueLayout.JAVA_LONG, 0);
      return entries(n, (i, buf, t) -> d2g_ema_state_entry(e, i, buf, buf.byteSize(), t));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void emaLoadState(MemorySegment e, List<String> names, List<MemorySegment> tensors) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      load();
      check(d2g_ema_load_state(e, strings(arena, names), addresses(arena, tensors.toArray(MemorySegment[]::new)),
          names.size()));
    } finally {
      ExitGuard.leave();
    }
  }

  static void emaFree(MemorySegment e) {
    if (!ExitGuard.enterFree()) return;
    try {
      d2g_ema_free(e);
    } finally {
      ExitGuard.leave();
    }
  }

  /** One C call that writes entry i's name into buf and, when t is not NULL, its new handle into t. */
  @FunctionalInterface
  private interface EntryCall {
    MemorySegment call(long index, MemorySegment nameBuf, MemorySegment tensorOut);
  }

  private static StateEntries entries(long n, EntryCall call) {
    List<String> names = new ArrayList<>((int) n);
    List<MemorySegment> tensors = new ArrayList<>((int) n);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(1024);
      MemorySegment t = arena.allocate(ValueLayout.ADDRESS);
      for (long i = 0; i < n; i++) {
        check(call.call(i, buf, t));
        names.add(buf.getString(0));
        tensors.add(t.get(ValueLayout.ADDRESS, 0));
      }
    } catch (RuntimeException ex) {
      tensors.forEach(Native::tensorFree);
      throw ex;
    }
    return new StateEntries(names, tensors);
  }

  private static MemorySegment strings(Arena arena, List<String> values) {
    MemorySegment arr = arena.allocate(ValueLayout.ADDRESS, Math.max(1, values.size()));
    for (int i = 0; i < values.size(); i++) arr.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(values.get(i)));
    return arr;
  }

  // ---- data-parallel training ------------------------------------------------------------------

  public static MemorySegment processGroupCreate(String backend, String masterAddr, int masterPort, int rank,
      int worldSize, long timeoutMs) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = scratch();
      return handle(d2g_process_group_create(arena.allocateFrom(backend), arena.allocateFrom(masterAddr), masterPort,
          rank, worldSize, timeoutMs, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** rank, world size. */
  public static int[] processGroupInfo(MemorySegment pg) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_process_group_info(pg, out, out.asSlice(4)));
      return new int[] {out.get(ValueLayout.JAVA_INT, 0), out.get(ValueLayout.JAVA_INT, 4)};
    } finally {
      ExitGuard.leave();
    }
  }

  public static String processGroupBackends() {
    ExitGuard.enter();
    try {
      MemorySegment buf = scratch();
      check(d2g_process_group_backends(buf, 256));
      return buf.getString(0);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void allReduce(MemorySegment pg, MemorySegment[] tensors, boolean average) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      load();
      check(d2g_all_reduce(pg, addresses(arena, tensors), tensors.length, flag(average)));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void broadcast(MemorySegment pg, MemorySegment[] tensors, int root) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      load();
      check(d2g_broadcast(pg, addresses(arena, tensors), tensors.length, root));
    } finally {
      ExitGuard.leave();
    }
  }

  public static void barrier(MemorySegment pg) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_barrier(pg));
    } finally {
      ExitGuard.leave();
    }
  }

  static void processGroupFree(MemorySegment pg) {
    if (!ExitGuard.enterFree()) return;
    try {
      d2g_process_group_free(pg);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment dataParallelCreate(MemorySegment pg, MemorySegment module, double bucketMb) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_data_parallel_create(pg, module, bucketMb, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void dataParallelFinish(MemorySegment dp) {
    ExitGuard.enter();
    try {
      load();
      check(d2g_data_parallel_finish(dp));
    } finally {
      ExitGuard.leave();
    }
  }

  static void dataParallelFree(MemorySegment dp) {
    if (!ExitGuard.enterFree()) return;
    try {
      d2g_data_parallel_free(dp);
    } finally {
      ExitGuard.leave();
    }
  }

  // ---- training steps ---------------------------------------------------------------------------

  /** ema, dp: NULL when absent. */
  public static MemorySegment trainStepCreate(String kind, String config, MemorySegment module, MemorySegment opt,
      MemorySegment ema, MemorySegment dp, MemorySegment alphasCumprod) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment out = scratch();
      return handle(d2g_train_step_create(arena.allocateFrom(kind), arena.allocateFrom(config), module, opt, ema, dp,
          alphasCumprod, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** loss, grad norm, loss scale, stepped (1/0). */
  public static double[] trainStepRun(MemorySegment step, MemorySegment x0, MemorySegment context, MemorySegment t,
      MemorySegment noise) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_train_step_run(step, x0, context, t, noise, out, 4));
      return out.asSlice(0, 32).toArray(ValueLayout.JAVA_DOUBLE);
    } finally {
      ExitGuard.leave();
    }
  }

  /** Any kind's step on its inputs (d2g_train_step_run_inputs); the kind's metrics (8 slots, unused ones 0). */
  public static double[] trainStepRunInputs(MemorySegment step, MemorySegment... inputs) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      if (inputs.length > 16) throw new InvalidArgumentException("at most 16 inputs");
      MemorySegment in = out.asSlice(128, 8L * 16);
      for (int i = 0; i < inputs.length; i++) in.setAtIndex(ValueLayout.ADDRESS, i, inputs[i]);
      check(d2g_train_step_run_inputs(step, in, inputs.length, out, 8));
      return out.asSlice(0, 64).toArray(ValueLayout.JAVA_DOUBLE);
    } finally {
      ExitGuard.leave();
    }
  }

  public static void trainStepSetModule(MemorySegment step, String role, MemorySegment module) {
    ExitGuard.enter();
    try (Arena arena = Arena.ofConfined()) {
      check(d2g_train_step_set_module(step, arena.allocateFrom(role), module));
    } finally {
      ExitGuard.leave();
    }
  }

  static void trainStepFree(MemorySegment s) {
    if (!ExitGuard.enterFree()) return;
    try {
      d2g_train_step_free(s);
    } finally {
      ExitGuard.leave();
    }
  }

  // ---- pipelines ------------------------------------------------------------------------------

  public static MemorySegment onestepCreate(MemorySegment text, MemorySegment unet, MemorySegment vae,
      Prediction prediction, double scalingFactor, boolean cudaGraphs) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_onestep_create(text, unet, vae, predictionCode(prediction), scalingFactor, flag(cudaGraphs), out),
          out);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment onestepRun(MemorySegment p, MemorySegment ids, MemorySegment noise, long timestep,
      double alphaBar) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_onestep_run(p, ids, noise, timestep, alphaBar, out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** text, unet, vae milliseconds of the last run. */
  public static float[] onestepLastTimings(MemorySegment p) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      check(d2g_onestep_last_timings(p, out, out.asSlice(4), out.asSlice(8)));
      return new float[] {out.get(ValueLayout.JAVA_FLOAT, 0), out.get(ValueLayout.JAVA_FLOAT, 4),
          out.get(ValueLayout.JAVA_FLOAT, 8)};
    } finally {
      ExitGuard.leave();
    }
  }

  static void onestepFree(MemorySegment p) {
    if (!ExitGuard.enterFree()) return;
    try {
      d2g_onestep_free(p);
    } finally {
      ExitGuard.leave();
    }
  }

  public static MemorySegment guidedSamplerCreate(MemorySegment unet, boolean cudaGraphs) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      return handle(d2g_guided_sampler_create(unet, flag(cudaGraphs), out), out);
    } finally {
      ExitGuard.leave();
    }
  }

  /** steps: rows {t, input scale, cx, cm}; uncond may be NULL. */
  public static MemorySegment guidedSamplerRun(MemorySegment s, MemorySegment noise, MemorySegment cond, MemorySegment uncond,
      double guidance, double[][] steps) {
    ExitGuard.enter();
    try {
      MemorySegment out = scratch();
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment rows = arena.allocate(ValueLayout.JAVA_DOUBLE, 4L * steps.length);
        for (int i = 0; i < steps.length; i++) {
          if (steps[i].length != 4) throw new InvalidArgumentException("step " + i + " has " + steps[i].length + " numbers, not 4");
          MemorySegment.copy(steps[i], 0, rows, ValueLayout.JAVA_DOUBLE, 32L * i, 4);
        }
        return handle(d2g_guided_sampler_run(s, noise, cond, uncond, guidance, rows, steps.length, out), out);
      }
    } finally {
      ExitGuard.leave();
    }
  }

  static void guidedSamplerFree(MemorySegment s) {
    if (!ExitGuard.enterFree()) return;
    try {
      d2g_guided_sampler_free(s);
    } finally {
      ExitGuard.leave();
    }
  }
}
