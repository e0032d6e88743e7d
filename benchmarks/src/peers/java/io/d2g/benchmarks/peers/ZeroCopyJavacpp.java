package io.d2g.benchmarks.peers;

import io.d2g.benchmarks.ZeroCopyFigures;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The zero-copy figures for JavaCPP's PyTorch presets (LibTorch 2.10.0, CPU).
 *
 * <p>Loading: JavaCPP extracts and loads its libraries one by one. On a cold cache, with Debian's
 * LibTorch installed system-wide, libtorch.so is loaded before libtorch_cpu.so has been extracted next
 * to it, so the dynamic linker resolves libtorch.so's dependency to the system's libtorch_cpu.so (1.13)
 * and the JVM crashes. {@link #loadTorch()} extracts every library of the jar into the cache first, so
 * $ORIGIN always finds JavaCPP's own copies.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ZeroCopyJavacpp {
  static final int N = ZeroCopyFigures.ELEMENTS;
  static final long[] SHAPE = {N};

  private ByteBuffer offHeap;
  private Pointer offHeapPointer;
  private TensorOptions f32;
  private float[] src;
  private float[] dst;
  private Tensor existing;
  private Tensor one;
  private Tensor two;

  /** Extracts JavaCPP's LibTorch (all of it) into its cache before anything loads, then loads it. */
  static void loadTorch() {
    String dir = "/org/bytedeco/pytorch/" + Loader.getPlatform() + "/";
    try {
      for (String lib : new String[] {"libgomp.so.1", "libc10.so", "libtorch_cpu.so", "libtorch.so"}) {
        File f = Loader.cacheResource(torch.class, dir + lib);
        if (f == null) throw new IllegalStateException("JavaCPP's jar lacks " + dir + lib);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Loader.load(torch.class);
  }

  @Setup(Level.Trial)
  public void setUp() {
    loadTorch();
    ZeroCopyFigures.checkOneLibTorch();
    offHeap = ByteBuffer.allocateDirect(4 * N).order(ByteOrder.nativeOrder());
    offHeapPointer = new Pointer(offHeap);
    f32 = new TensorOptions(torch.ScalarType.Float);
    src = new float[N];
    for (int i = 0; i < N; i++) src[i] = i;
    dst = new float[N];
    existing = torch.empty(SHAPE, f32, null);
    existing.data_ptr_float().put(src);
    one = torch.empty(new long[] {1}, f32, null);
    one.data_ptr_float().put(1f);
    two = torch.empty(new long[] {1}, f32, null);
    two.data_ptr_float().put(2f);
    ZeroCopyFigures.check(existing.data_ptr_float().get(N - 1) == N - 1, "copy in");
    try (Tensor sum = one.add(two)) {
      ZeroCopyFigures.check(sum.item_float() == 3f, "tiny op");
    }
    try (Tensor view = torch.from_blob(offHeapPointer, SHAPE, f32)) {
      offHeap.putFloat(0, 42f);
      ZeroCopyFigures.check(view.data_ptr_float().get(0) == 42f, "wrap is zero-copy");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    existing.data_ptr_float().get(dst);
    ZeroCopyFigures.check(dst[N - 1] == N - 1, "copy out");
    existing.close();
    one.close();
    two.close();
  }

  /** (1) torch::from_blob over a direct buffer's memory; then closed. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public Tensor wrap() {
    Tensor t = torch.from_blob(offHeapPointer, SHAPE, f32);
    t.close();
    return t;
  }

  /** (2) torch::empty, then one copy into its data pointer. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public Tensor copyInFresh() {
    Tensor t = torch.empty(SHAPE, f32, null);
    t.data_ptr_float().put(src);
    t.close();
    return t;
  }

  /** (3) one copy into the existing tensor's data pointer. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public FloatPointer copyInExisting() {
    return existing.data_ptr_float().put(src);
  }

  /** (4) one copy out of the data pointer into an existing float[]. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public float[] copyOut() {
    existing.data_ptr_float().get(dst);
    return dst;
  }

  /** (5) Tensor.add, result closed. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public Tensor tinyOp() {
    Tensor t = one.add(two);
    t.close();
    return t;
  }

  /** (6) torch.get_num_threads: one JNI call into at::get_num_threads. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public int bareCall() {
    return torch.get_num_threads();
  }
}
