package io.d2g.benchmarks.peers;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import io.d2g.benchmarks.ZeroCopyFigures;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
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
 * The zero-copy figures for DJL's PyTorch engine (LibTorch 2.7.1, CPU), run offline from the native
 * jar on the classpath. Where DJL offers two routes to a figure, both are measured (the method name
 * after '_' names the second) and the report keeps the faster one.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true", "-DOPT_OUT_TRACKING=true", "-Dai.djl.default_engine=PyTorch"})
public class ZeroCopyDjl {
  static final int N = ZeroCopyFigures.ELEMENTS;
  static final Shape SHAPE = new Shape(N);

  private NDManager manager;
  private ByteBuffer offHeap;
  private float[] src;
  private float[] dst;
  private NDArray existing;
  private NDArray one;
  private NDArray two;

  @Setup(Level.Trial)
  public void setUp() {
    manager = NDManager.newBaseManager(Device.cpu(), "PyTorch");
    offHeap = ByteBuffer.allocateDirect(4 * N).order(ByteOrder.nativeOrder());
    src = new float[N];
    for (int i = 0; i < N; i++) src[i] = i;
    dst = new float[N];
    existing = manager.create(src, SHAPE);
    one = manager.create(new float[] {1f});
    two = manager.create(new float[] {2f});
    ZeroCopyFigures.checkOneLibTorch();
    ZeroCopyFigures.check(existing.toFloatArray()[N - 1] == N - 1, "copy in");
    try (NDArray sum = one.add(two)) {
      ZeroCopyFigures.check(sum.getFloat(0) == 3f, "tiny op");
    }
    try (NDArray view = manager.create(offHeap, SHAPE, DataType.FLOAT32)) {
      offHeap.putFloat(0, 42f);
      ZeroCopyFigures.check(view.getFloat(0) == 42f, "wrap is zero-copy");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    existing.toByteBuffer(true).asFloatBuffer().get(dst);
    ZeroCopyFigures.check(dst[N - 1] == N - 1, "copy out");
    manager.close();
  }

  /** (1) NDManager.create over a direct ByteBuffer (zero-copy from_blob); then closed. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public NDArray wrap() {
    NDArray a = manager.create(offHeap, SHAPE, DataType.FLOAT32);
    a.close();
    return a;
  }

  /** (2) NDManager.create(float[], Shape): DJL copies into a direct buffer it then wraps. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public NDArray copyInFresh() {
    NDArray a = manager.create(src, SHAPE);
    a.close();
    return a;
  }

  /** (2, other route) an uninitialised NDArray, filled through its direct-buffer view. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public NDArray copyInFresh_viaView() {
    NDArray a = manager.create(SHAPE, DataType.FLOAT32);
    a.toByteBuffer(true).asFloatBuffer().put(src);
    a.close();
    return a;
  }

  /** (3) one copy through the NDArray's direct-buffer view of its own memory. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public NDArray copyInExisting() {
    existing.toByteBuffer(true).asFloatBuffer().put(src);
    return existing;
  }

  /** (3, other route) NDArray.set(float[]). */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public NDArray copyInExisting_set() {
    existing.set(src);
    return existing;
  }

  /** (4) one copy out through the direct-buffer view into an existing float[]. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public float[] copyOut() {
    existing.toByteBuffer(true).asFloatBuffer().get(dst);
    return dst;
  }

  /** (5) NDArray.add, result closed. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public NDArray tinyOp() {
    NDArray a = one.add(two);
    a.close();
    return a;
  }

  /** (6) JniUtils.getNumThreads: one JNI call into torch::get_num_threads. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public int bareCall() {
    return JniUtils.getNumThreads();
  }
}
