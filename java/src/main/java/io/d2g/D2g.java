package io.d2g;

import static io.d2g.bindings.d2g_h.*;

import io.d2g.internal.Native;
import io.d2g.internal.NativeLibrary;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The library as a whole: versions, devices, seeds, synchronisation. */
public final class D2g {
  private D2g() {}

  /** Version of the native shim. */
  public static String version() {
    Native.load();
    return Native.string(d2g_version());
  }

  /** Version of the LibTorch the shim was built against. */
  public static String torchVersion() {
    Native.load();
    return Native.string(d2g_torch_version());
  }

  /** Whether the LibTorch in use was built with CUDA. */
  public static boolean cudaCompiled() {
    Native.load();
    return d2g_cuda_compiled() != 0;
  }

  /** Where the native library was loaded from. */
  public static Path libraryPath() {
    return NativeLibrary.load();
  }

  public static boolean cudaAvailable() {
    Native.load();
    MemorySegment out = Native.scratch();
    Native.check(d2g_cuda_is_available(out));
    return out.get(ValueLayout.JAVA_INT, 0) != 0;
  }

  public static int cudaDeviceCount() {
    Native.load();
    MemorySegment out = Native.scratch();
    Native.check(d2g_cuda_device_count(out));
    return out.get(ValueLayout.JAVA_INT, 0);
  }

  public static String cudaDeviceName(int index) {
    Native.load();
    MemorySegment buf = Native.scratch();
    Native.check(d2g_cuda_device_name(index, buf, 256));
    return buf.getString(0);
  }

  /** Every device this process can use: cpu first, then each CUDA device. */
  public static List<Device> devices() {
    Native.load();
    List<Device> list = new ArrayList<>();
    list.add(Device.CPU);
    if (cudaAvailable()) for (int i = 0; i < cudaDeviceCount(); i++) list.add(Device.cuda(i));
    return list;
  }

  /** Seeds every random generator (CPU and all CUDA devices). */
  public static void manualSeed(long seed) {
    Native.load();
    Native.check(d2g_manual_seed(seed));
  }

  /**
   * Lets float32 matrix products and convolutions on CUDA use TF32 (faster, about 1e-3 relative
   * error). LibTorch's defaults: off for matrix products, on for cuDNN convolutions.
   */
  public static void setAllowTf32(boolean allow) {
    Native.load();
    Native.check(d2g_set_allow_tf32(allow ? 1 : 0));
  }

  /**
   * Turns the hand-written CUDA kernels (fused GroupNorm + SiLU in the Stable Diffusion models) on
   * or off for the whole process; they are on by default. Off, the models run LibTorch's own
   * operations, which is useful for A/B measurements and for ruling the kernels out when debugging.
   *
   * @return whether this build of the native library has the kernels at all (a CUDA LibTorch and
   *     the CUDA compiler at build time); without them the switch changes nothing
   */
  public static boolean setFusedKernels(boolean enabled) {
    Native.load();
    MemorySegment out = Native.scratch();
    Native.check(d2g_set_fused_kernels(enabled ? 1 : 0, out));
    return out.get(ValueLayout.JAVA_INT, 0) != 0;
  }

  /**
   * Threads for large host copies (16 MiB and up) into and out of CPU tensors: the
   * {@code Tensor.of} copies to the CPU, and {@link Tensor#copyFrom(float[])},
   * {@link Tensor#copyTo(float[])}, {@link Tensor#toFloatArray()} and their siblings on contiguous
   * CPU tensors. The calling thread copies one part and {@code threads - 1} short-lived helper
   * threads the others. One core rarely saturates memory bandwidth: on the 2-core benchmark VM a
   * 64 MiB copy takes about 8 ms on one thread and 5 ms on two.
   *
   * @param threads 1 to 64, or 0 for the default, {@code min(4, available processors)}
   * @return the setting this replaces
   * @throws InvalidArgumentException if threads is outside 0..64
   */
  public static int setHostCopyThreads(int threads) {
    Native.load();
    MemorySegment out = Native.scratch();
    Native.check(d2g_set_host_copy_threads(threads, out));
    return out.get(ValueLayout.JAVA_INT, 0);
  }

  /**
   * How cuDNN picks convolution algorithms, for the whole process: {@code true} times every
   * candidate on each new shape and keeps the fastest (a slow first run), {@code false} uses
   * cuDNN's heuristics (LibTorch's default). On full-size SD1.5 in f16 channels_last (H200)
   * benchmarking found no faster step and made the first image 6 s instead of 0.24 s.
   */
  public static void setCudnnBenchmark(boolean enabled) {
    Native.load();
    Native.check(d2g_set_cudnn_benchmark(enabled ? 1 : 0));
  }

  /**
   * Starts recording a kernel-level trace of everything the process runs (LibTorch's Kineto
   * profiler: host operators, CUDA kernels and copies, CUDA graph replays included); see
   * {@link #stopTrace}. Needs a LibTorch 2.x build with Kineto, such as PyTorch's pip wheels.
   *
   * @throws InvalidArgumentException if a trace is already being recorded or LibTorch cannot trace
   */
  public static void startTrace() {
    Native.load();
    Native.check(d2g_profiler_start());
  }

  /**
   * Stops the trace begun by {@link #startTrace} and writes it as a Chrome trace (JSON) to {@code
   * path}, atomically; an existing file there is replaced only when it is a JSON file (see {@link
   * Outputs}).
   */
  public static void stopTrace(Path path) {
    Native.load();
    try (Outputs.StagedFile staged = Outputs.stageFile(path, OutputKind.jsonFile("Chrome trace"), false);
        Arena arena = Arena.ofConfined()) {
      Native.check(d2g_profiler_stop(arena.allocateFrom(staged.path().toString())));
      staged.commit();
    }
  }

  /** Peak bytes held by the CUDA caching allocator on a device; {@code reset} starts a new peak. */
  public static long cudaMemoryPeak(Device device, boolean reset) {
    Native.load();
    if (!device.isCuda()) throw new InvalidArgumentException("memory peaks are kept for CUDA devices, not " + device);
    MemorySegment out = Native.scratch();
    Native.check(d2g_cuda_memory_peak(device.index(), reset ? 1 : 0, out));
    return out.get(ValueLayout.JAVA_LONG, 0);
  }

  /** Waits for all queued work on a CUDA device (no-op for the CPU). */
  public static void synchronize(Device device) {
    Native.load();
    if (device.isCuda()) Native.check(d2g_synchronize(device.index()));
  }
}
