package io.d2g;

import io.d2g.internal.Native;
import io.d2g.internal.NativeLibrary;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The library as a whole: versions, devices, seeds, synchronisation. */
public final class D2g {
  private D2g() {}

  /** Version of the native shim. */
  public static String version() {
    return Native.version();
  }

  /**
   * This machine in one line, for results files: the CPU's model, cores, memory, OS, Java and
   * LibTorch, and the CUDA devices' names when there are any.
   */
  public static String machine() {
    String cpu = cpuModel();
    long memGib = 0;
    try { // Linux's own description; elsewhere it stays unknown
      for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/meminfo")))
        if (line.startsWith("MemTotal:")) memGib = Math.round(Long.parseLong(line.replaceAll("\\D", "")) / (1024.0 * 1024));
    } catch (java.io.IOException | RuntimeException notLinux) {
      // leave it unknown
    }
    StringBuilder b = new StringBuilder(String.format(java.util.Locale.ROOT, "%s, %d cores, %d GiB, %s %s, Java %s, LibTorch %s",
        cpu, Runtime.getRuntime().availableProcessors(), memGib, System.getProperty("os.name"),
        System.getProperty("os.version"), System.getProperty("java.vm.version"), torchVersion()));
    if (cudaAvailable()) for (int i = 0; i < cudaDeviceCount(); i++) b.append(", GPU ").append(cudaDeviceName(i));
    return b.toString();
  }

  /** Version of the LibTorch the shim was built against. */
  public static String torchVersion() {
    return Native.torchVersion();
  }

  /** Whether the LibTorch in use was built with CUDA. */
  public static boolean cudaCompiled() {
    return Native.cudaCompiled();
  }

  /** Where the native library was loaded from. */
  public static Path libraryPath() {
    return NativeLibrary.load();
  }

  /**
   * One device in words, for recording where something was timed: a CUDA device's name
   * ("cuda:0 NVIDIA H100 80GB HBM3"), or the CPU's model and core count.
   */
  public static String describe(Device device) {
    if (device.isCuda()) return device + " " + cudaDeviceName(device.index());
    return "cpu " + cpuModel() + ", " + Runtime.getRuntime().availableProcessors() + " cores";
  }

  /** The CPU's model name from Linux's /proc/cpuinfo; "unknown CPU" elsewhere. */
  private static String cpuModel() {
    try {
      for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/cpuinfo")))
        if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
    } catch (java.io.IOException | RuntimeException notLinux) {
      // unknown
    }
    return "unknown CPU";
  }

  public static boolean cudaAvailable() {
    return Native.cudaAvailable();
  }

  public static int cudaDeviceCount() {
    return Native.cudaDeviceCount();
  }

  public static String cudaDeviceName(int index) {
    return Native.cudaDeviceName(index);
  }

  /** Every device this process can use: cpu first, then each CUDA device. */
  public static List<Device> devices() {
    List<Device> list = new ArrayList<>();
    list.add(Device.CPU);
    if (cudaAvailable()) for (int i = 0; i < cudaDeviceCount(); i++) list.add(Device.cuda(i));
    return list;
  }

  /**
   * Seeds the default random generators (CPU and all CUDA devices): what draws use when they are
   * given no {@link Generator}.
   */
  public static void manualSeed(long seed) {
    Native.manualSeed(seed);
  }

  /**
   * Lets float32 matrix products and convolutions on CUDA use TF32 (faster, about 1e-3 relative
   * error). LibTorch's defaults: off for matrix products, on for cuDNN convolutions.
   */
  public static void setAllowTf32(boolean allow) {
    Native.setAllowTf32(allow);
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
    return Native.setFusedKernels(enabled);
  }

  /**
   * Threads for large host copies (16 MiB and up) into and out of CPU tensors: the
   * {@code Tensor.of} copies to the CPU, and {@link Tensor#copyFrom(float[])},
   * {@link Tensor#copyTo(float[])}, {@link Tensor#toFloatArray()} and their siblings on contiguous
   * CPU tensors. The calling thread copies one part and {@code threads - 1} short-lived helper
   * threads the others. One core rarely saturates memory bandwidth (benchmarks/README.md has the
   * figures).
   *
   * @param threads 1 to 64, or 0 for the default, {@code min(4, available processors)}
   * @return the setting this replaces
   * @throws InvalidArgumentException if threads is outside 0..64
   */
  public static int setHostCopyThreads(int threads) {
    return Native.setHostCopyThreads(threads);
  }

  /**
   * LibTorch's intra-op threads on the CPU (matrix products, convolutions, element-wise operations).
   * The default is one per core this process may use (Linux's own count; {@code OMP_NUM_THREADS}
   * wins when set).
   */
  public static int cpuThreads() {
    return Native.cpuThreads(0);
  }

  /** Sets the CPU's intra-op threads for the process (1..1024); returns the setting replaced. */
  public static int setCpuThreads(int threads) {
    if (threads < 1) throw new InvalidArgumentException("threads must be at least 1, not " + threads);
    return Native.cpuThreads(threads);
  }

  /**
   * The BLAS library the CPU's matrix products run on: its path (an OpenBLAS, or Debian's slow
   * reference BLAS under {@code .../blas/}), "MKL (linked in)", or "" when none is loaded.
   */
  public static String blasLibrary() {
    return Native.blasLibrary();
  }

  /**
   * How cuDNN picks convolution algorithms, for the whole process: {@code true} times every
   * candidate on each new shape and keeps the fastest (a slow first run), {@code false} uses
   * cuDNN's heuristics (LibTorch's default). For the one-step SD1.5 pipeline benchmarking found no
   * faster step and made the first image much slower (benchmarks/README.md).
   */
  public static void setCudnnBenchmark(boolean enabled) {
    Native.setCudnnBenchmark(enabled);
  }

  /**
   * Starts recording a kernel-level trace of everything the process runs (LibTorch's Kineto
   * profiler: host operators, CUDA kernels and copies, CUDA graph replays included); see
   * {@link #stopTrace}. Needs a LibTorch 2.x build with Kineto, such as PyTorch's pip wheels.
   *
   * @throws InvalidArgumentException if a trace is already being recorded or LibTorch cannot trace
   */
  public static void startTrace() {
    Native.profilerStart();
  }

  /**
   * Stops the trace begun by {@link #startTrace} and writes it as a Chrome trace (JSON) to {@code
   * path}, atomically; an existing file there is replaced only when it is a JSON file (see {@link
   * Outputs}).
   */
  public static void stopTrace(Path path) {
    try (Outputs.StagedFile staged = Outputs.stageFile(path, OutputKind.jsonFile("Chrome trace"), false)) {
      Native.profilerStop(staged.path().toString());
      staged.commit();
    }
  }

  /** Peak bytes held by the CUDA caching allocator on a device; {@code reset} starts a new peak. */
  public static long cudaMemoryPeak(Device device, boolean reset) {
    if (!device.isCuda()) throw new InvalidArgumentException("memory peaks are kept for CUDA devices, not " + device);
    return Native.cudaMemoryPeak(device.index(), reset);
  }

  /** Waits for all queued work on a CUDA device (no-op for the CPU). */
  public static void synchronize(Device device) {
    if (device.isCuda()) Native.synchronize(device.index());
  }
}
