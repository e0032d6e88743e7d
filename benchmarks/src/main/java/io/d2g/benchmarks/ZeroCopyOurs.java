package io.d2g.benchmarks;

import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
 * Zero-copy transfer figures for d2g (this project). The same six benchmarks, with the same names,
 * exist for each peer ({@code io.d2g.benchmarks.peers}); {@link ZeroCopyReport} runs them all, each
 * benchmark in its own JVM, and writes {@code results/zero-copy.json}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class ZeroCopyOurs {
  /** 64 MiB of f32. */
  static final int N = ZeroCopyFigures.ELEMENTS;

  private Arena arena;
  private MemorySegment offHeap;
  private float[] src;
  private float[] dst;
  private Tensor existing;
  private Tensor one;
  private Tensor two;

  @Setup(Level.Trial)
  public void setUp() {
    arena = Arena.ofShared();
    offHeap = arena.allocate(4L * N, 64);
    offHeap.fill((byte) 1);
    src = new float[N];
    for (int i = 0; i < N; i++) src[i] = i;
    dst = new float[N];
    existing = Tensor.of(src, N);
    one = Tensor.of(new float[] {1f});
    two = Tensor.of(new float[] {2f});
    ZeroCopyFigures.checkOneLibTorch();
    ZeroCopyFigures.check(existing.toFloatArray()[N - 1] == N - 1, "copy in");
    try (Tensor sum = one.add(two)) {
      ZeroCopyFigures.check(sum.item() == 3.0, "tiny op");
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    existing.copyTo(dst);
    ZeroCopyFigures.check(dst[N - 1] == N - 1, "copy out");
    existing.close();
    one.close();
    two.close();
    arena.close();
  }

  /** (1) A tensor over 64 MiB of off-heap memory, without copying; then freed. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public boolean wrap() {
    try (Tensor t = Tensor.wrap(offHeap, DType.F32, N)) {
      return t.isClosed();
    }
  }

  /** (2) A new tensor holding a copy of a 64 MiB float[]; then freed. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public boolean copyInFresh() {
    try (Tensor t = Tensor.of(src, N)) {
      return t.isClosed();
    }
  }

  /** (3) A 64 MiB float[] copied into an existing tensor. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public Tensor copyInExisting() {
    return existing.copyFrom(src);
  }

  /** (4) A 64 MiB tensor copied out into an existing float[]. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public float[] copyOut() {
    existing.copyTo(dst);
    return dst;
  }

  /** (5) Adds two 1-element tensors and frees the result. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public boolean tinyOp() {
    try (Tensor t = one.add(two)) {
      return t.isClosed();
    }
  }

  /** (6) The cheapest call into the native library. */
  @Benchmark
  @OutputTimeUnit(TimeUnit.NANOSECONDS)
  public boolean bareCall() {
    return D2g.cudaCompiled();
  }
}
