package io.d2g;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.internal.Native;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

class TensorTest {
  private static float[] randomFloats(int n, long seed) {
    Random r = new Random(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
    return a;
  }

  @Test
  void copiesInAndOutPreserveValuesShapeAndDtype() {
    float[] data = randomFloats(24, 1);
    try (Tensor t = Tensor.of(data, 2, 3, 4)) {
      assertArrayEquals(new long[] {2, 3, 4}, t.shape());
      assertEquals(DType.F32, t.dtype());
      assertEquals(Device.CPU, t.device());
      assertEquals(24, t.numel());
      assertEquals(96, t.byteSize());
      assertTrue(t.isContiguous());
      data[0] = 1e9f; // Tensor.of copied: later changes to the array are not seen
      float[] back = t.toFloatArray();
      assertNotEquals(1e9f, back[0]);
      assertEquals(data[23], back[23]);
      float[] fresh = randomFloats(24, 2);
      t.copyFrom(fresh);
      assertArrayEquals(fresh, t.toFloatArray());
    }
    try (Tensor l = Tensor.of(new long[] {1, -2, 3}); Tensor i = Tensor.of(new int[] {7, 8});
        Tensor b = Tensor.of(new byte[] {(byte) 255, 0}); Tensor d = Tensor.of(new double[] {0.5})) {
      assertArrayEquals(new long[] {1, -2, 3}, l.toLongArray());
      assertArrayEquals(new int[] {7, 8}, i.toIntArray());
      assertEquals(DType.U8, b.dtype());
      assertArrayEquals(new byte[] {(byte) 255, 0}, b.toByteArray());
      assertEquals(0.5, d.item());
    }
  }

  @Test
  void wrappedMemoryIsSharedBothWays() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment mem = arena.allocate(ValueLayout.JAVA_FLOAT, 6);
      for (int i = 0; i < 6; i++) mem.setAtIndex(ValueLayout.JAVA_FLOAT, i, i);
      int before = Native.borrowedCount();
      try (Tensor t = Tensor.wrap(mem, DType.F32, 2, 3)) {
        assertEquals(before + 1, Native.borrowedCount());
        // write through the segment, read through the tensor
        mem.setAtIndex(ValueLayout.JAVA_FLOAT, 4, 42f);
        assertEquals(42f, t.toFloatArray()[4]);
        // write through the tensor, read through the segment
        t.copyFrom(new float[] {9, 8, 7, 6, 5, 4});
        assertEquals(9f, mem.getAtIndex(ValueLayout.JAVA_FLOAT, 0));
        assertEquals(4f, mem.getAtIndex(ValueLayout.JAVA_FLOAT, 5));
        try (Tensor sum = t.sum()) {
          assertEquals(39.0, sum.item(), 1e-6);
        }
      }
      assertEquals(before, Native.borrowedCount(), "closing the last user releases the borrow");
    }
  }

  @Test
  void dataViewOfWrappedMemoryIsThatMemoryAndKeepsItBorrowed() throws InterruptedException {
    Arena arena = Arena.ofAuto();
    MemorySegment mem = arena.allocate(ValueLayout.JAVA_FLOAT, 6);
    int before = Native.borrowedCount();
    MemorySegment view;
    try (Tensor t = Tensor.wrap(mem, DType.F32, 6)) {
      view = t.data();
    }
    assertEquals(mem.address(), view.address());
    assertEquals(24, view.byteSize());
    assertEquals(before + 1, Native.borrowedCount(), "the live view still uses the borrowed memory");
    view = null;
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (Native.borrowedCount() > before && System.nanoTime() < deadline) {
      System.gc();
      Thread.sleep(20);
    }
    assertEquals(before, Native.borrowedCount(), "released once the view is unreachable");
  }

  @Test
  void viewsShareStorageAndOutliveTheTensor() {
    MemorySegment view;
    try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2)) {
      view = t.data();
      view.setAtIndex(ValueLayout.JAVA_FLOAT, 3, -1f);
      assertEquals(-1f, t.toFloatArray()[3]);
      try (Tensor alias = t.reshape(4)) { // reshape of a contiguous tensor is a view
        view.setAtIndex(ValueLayout.JAVA_FLOAT, 0, 10f);
        assertEquals(10f, alias.toFloatArray()[0]);
      }
    }
    // The view holds its own reference to the storage: still readable after the tensor is closed.
    assertEquals(10f, view.getAtIndex(ValueLayout.JAVA_FLOAT, 0));
    assertEquals(-1f, view.getAtIndex(ValueLayout.JAVA_FLOAT, 3));
  }

  @Test
  void directByteBufferWrapIsZeroCopy() {
    ByteBuffer buf = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
    buf.putInt(0, 5).putInt(12, 7);
    try (Tensor t = Tensor.wrap(buf, DType.I32, 4)) {
      assertArrayEquals(new int[] {5, 0, 0, 7}, t.toIntArray());
      buf.putInt(4, 6);
      assertEquals(6, t.toIntArray()[1]);
    }
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
        () -> Tensor.wrap(ByteBuffer.allocate(16), DType.I32, 4));
    assertTrue(e.getMessage().contains("direct"), e.getMessage());
  }

  @Test
  void opsMatchJavaArithmetic() {
    float[] a = randomFloats(12, 3), b = randomFloats(20, 4);
    try (TensorScope s = new TensorScope()) {
      Tensor ta = s.track(Tensor.of(a, 3, 4));
      Tensor tb = s.track(Tensor.of(b, 4, 5));
      float[] prod = s.track(ta.matmul(tb)).toFloatArray();
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++) {
          double ref = 0;
          for (int k = 0; k < 4; k++) ref += a[i * 4 + k] * b[k * 5 + j];
          assertEquals(ref, prod[i * 5 + j], 1e-5);
        }
      float[] sum = s.track(ta.add(ta)).toFloatArray();
      for (int i = 0; i < 12; i++) assertEquals(2 * a[i], sum[i], 0f);
      // broadcasting a row
      Tensor row = s.track(Tensor.of(new float[] {1, 2, 3, 4}, 1, 4));
      float[] br = s.track(ta.add(row)).toFloatArray();
      assertEquals(a[5] + 2, br[5], 1e-6);
      double total = 0;
      for (float x : a) total += x;
      assertEquals(total, s.track(ta.sum()).item(), 1e-4);
      Tensor bf = s.track(ta.to(DType.BF16));
      assertEquals(DType.BF16, bf.dtype());
      assertEquals(a[0], s.track(bf.to(DType.F32)).toFloatArray()[0], Math.abs(a[0]) / 64);
    }
  }

  @Test
  void addIsExactForSmallAndLargeTensorsOfEveryDtype() {
    // Up to 1024 elements of one dtype and shape the shim adds directly; above, LibTorch does.
    for (int n : new int[] {1, 5, 1024, 1025, 3000}) {
      float[] fa = randomFloats(n, n), fb = randomFloats(n, n + 1);
      double[] da = new double[n], db = new double[n];
      int[] ia = new int[n], ib = new int[n];
      long[] la = new long[n], lb = new long[n];
      for (int i = 0; i < n; i++) {
        da[i] = fa[i] / 3.0;
        db[i] = fb[i] * 7.0;
        ia[i] = i == 0 ? Integer.MAX_VALUE : i * 7919 - 50000; // MAX_VALUE + 1 wraps, as in LibTorch
        ib[i] = i == 0 ? 1 : -i * 31;
        la[i] = i == 0 ? Long.MAX_VALUE : i * 1_000_000_007L;
        lb[i] = i == 0 ? 1 : -i;
      }
      try (TensorScope s = new TensorScope()) {
        float[] fs = s.track(s.track(Tensor.of(fa)).add(s.track(Tensor.of(fb)))).toFloatArray();
        double[] ds = s.track(s.track(Tensor.of(da)).add(s.track(Tensor.of(db)))).toDoubleArray();
        int[] is = s.track(s.track(Tensor.of(ia)).add(s.track(Tensor.of(ib)))).toIntArray();
        long[] ls = s.track(s.track(Tensor.of(la)).add(s.track(Tensor.of(lb)))).toLongArray();
        for (int i = 0; i < n; i++) {
          assertEquals(fa[i] + fb[i], fs[i], 0f, "f32 " + n);
          assertEquals(da[i] + db[i], ds[i], 0.0, "f64 " + n);
          assertEquals(ia[i] + ib[i], is[i], "i32 " + n);
          assertEquals(la[i] + lb[i], ls[i], "i64 " + n);
        }
      }
    }
  }

  @Test
  void smallSumsAreOrdinaryTensors() {
    try (TensorScope s = new TensorScope()) {
      Tensor one = s.track(Tensor.of(new float[] {1f}));
      Tensor two = s.track(Tensor.of(new float[] {2f}));
      Tensor three = s.track(one.add(two));
      assertEquals(3.0, three.item());
      assertEquals(DType.F32, three.dtype());
      assertArrayEquals(new long[] {1}, three.shape());
      MemorySegment view = three.data(); // zero-copy view of the sum's memory
      assertEquals(0, view.address() % 64, "CPU tensors are 64-byte aligned");
      view.set(ValueLayout.JAVA_FLOAT, 0, 5f);
      assertEquals(5.0, three.item());
      assertEquals(10.0, s.track(three.add(three)).item());
      assertEquals(25.0, s.track(three.matmul(three)).item());
      // mixed dtypes and broadcasting still follow LibTorch's rules
      Tensor d = s.track(Tensor.of(new double[] {0.5, 1.5}));
      Tensor mixed = s.track(three.add(d));
      assertEquals(DType.F64, mixed.dtype());
      assertArrayEquals(new double[] {5.5, 6.5}, mixed.toDoubleArray());
    }
  }

  @Test
  void largeCopiesAreExactOnAnyNumberOfThreads() {
    // Larger than any last-level cache here: the shim copies with streaming stores, split over
    // threads; an odd length and 3 threads give parts that end mid-cache-line and a short last part.
    int n = 12 * 1024 * 1024 + 5;
    float[] a = new float[n];
    int byDefault = D2g.setHostCopyThreads(1);
    assertTrue(byDefault >= 1 && byDefault <= 4, "default threads " + byDefault);
    try {
      int previous = 1;
      for (int threads : new int[] {1, 2, 3}) {
        assertEquals(previous, D2g.setHostCopyThreads(threads));
        previous = threads;
        for (int i = 0; i < n; i++) a[i] = i * 0.25f - 7f + threads;
        try (Tensor t = Tensor.of(a)) {
          float[] back = new float[n];
          t.copyTo(back);
          assertArrayEquals(a, back, "threads " + threads);
          for (int i = 0; i < n; i++) a[i] = -a[i];
          t.copyFrom(a);
          assertArrayEquals(a, t.toFloatArray(), "threads " + threads);
          assertEquals(a[n - 1], t.data().get(ValueLayout.JAVA_FLOAT, 4L * (n - 1)));
        }
      }
    } finally {
      assertEquals(3, D2g.setHostCopyThreads(0));
    }
    assertEquals(byDefault, D2g.setHostCopyThreads(0));
  }

  @Test
  void hostCopyThreadsOutsideTheirRangeAreRefused() {
    for (int bad : new int[] {-1, 65}) {
      var e = assertThrows(InvalidArgumentException.class, () -> D2g.setHostCopyThreads(bad));
      assertTrue(e.getMessage().contains("threads must be"), e.getMessage());
    }
  }

  @Test
  void randnIsSeeded() {
    D2g.manualSeed(7);
    float[] x;
    try (Tensor t = Tensor.randn(DType.F32, Device.CPU, 100)) {
      x = t.toFloatArray();
    }
    D2g.manualSeed(7);
    try (Tensor t = Tensor.randn(DType.F32, Device.CPU, 100)) {
      assertArrayEquals(x, t.toFloatArray());
    }
    double mean = 0;
    for (float v : x) mean += v / 100;
    assertEquals(0, mean, 0.35);
  }

  @Test
  void badShapesAndDtypesGiveInvalidArgumentWithNativeMessage() {
    try (TensorScope s = new TensorScope()) {
      Tensor a = s.track(Tensor.of(new float[6], 2, 3));
      Tensor b = s.track(Tensor.of(new float[6], 3, 2));
      Tensor c = s.track(Tensor.of(new float[4], 2, 2));
      var add = assertThrows(InvalidArgumentException.class, () -> a.add(c));
      assertTrue(add.getMessage().contains("do not broadcast"), add.getMessage());
      assertEquals(1, add.code());
      var mm = assertThrows(InvalidArgumentException.class, () -> a.matmul(a));
      assertTrue(mm.getMessage().contains("inner dimensions"), mm.getMessage());
      Tensor half = s.track(b.to(DType.F16));
      var dt = assertThrows(InvalidArgumentException.class, () -> a.matmul(half));
      assertTrue(dt.getMessage().contains("dtypes differ"), dt.getMessage());
      var neg = assertThrows(InvalidArgumentException.class, () -> Tensor.empty(DType.F32, Device.CPU, 2, -1));
      assertTrue(neg.getMessage().contains("negative size"), neg.getMessage());
      assertThrows(InvalidArgumentException.class, () -> a.copyFrom(new float[5]));
      assertThrows(InvalidArgumentException.class, () -> a.copyFrom(new int[6]));
      assertThrows(InvalidArgumentException.class, () -> a.toIntArray());
      assertThrows(InvalidArgumentException.class, () -> a.reshape(4));
      assertThrows(InvalidArgumentException.class, () -> a.item());
      assertThrows(InvalidArgumentException.class, () -> Tensor.randn(DType.I32, Device.CPU, 3));
      assertThrows(InvalidArgumentException.class, () -> Tensor.empty(DType.F32, Device.CPU, new long[17]));
      assertThrows(InvalidArgumentException.class,
          () -> Tensor.wrap(MemorySegment.ofArray(new float[4]), DType.F32, 4));
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment m = arena.allocate(17, 8);
        var mis = assertThrows(InvalidArgumentException.class, () -> Tensor.wrap(m.asSlice(1, 16), DType.F32, 4));
        assertTrue(mis.getMessage().contains("aligned"), mis.getMessage());
        int before = Native.borrowedCount();
        var size = assertThrows(InvalidArgumentException.class, () -> Tensor.wrap(m.asSlice(0, 16), DType.F32, 5));
        assertTrue(size.getMessage().contains("bytes"), size.getMessage());
        assertEquals(before, Native.borrowedCount(), "a failed wrap keeps no borrow");
      }
    }
  }

  @Test
  void devicesThatAreNotThereGiveDeviceUnavailable() {
    int missing = D2g.cudaAvailable() ? D2g.cudaDeviceCount() : 0;
    var e = assertThrows(DeviceUnavailableException.class,
        () -> Tensor.empty(DType.F32, Device.cuda(missing), 2));
    assertTrue(e.getMessage().contains("cuda"), e.getMessage());
    try (Tensor t = Tensor.of(new float[] {1})) {
      assertThrows(DeviceUnavailableException.class, () -> t.to(Device.cuda(missing)));
    }
    if (!D2g.cudaAvailable()) {
      assertThrows(DeviceUnavailableException.class, () -> Tensor.emptyPinned(DType.F32, 4));
      assertThrows(DeviceUnavailableException.class, () -> D2g.cudaDeviceName(0));
    }
    assertThrows(InvalidArgumentException.class, () -> Device.parse("tpu:0"));
    assertEquals(Device.cuda(3), Device.parse("cuda:3"));
  }

  @Test
  void useAfterCloseIsAnIllegalStateNotACrash() {
    Tensor t = Tensor.of(new float[] {1, 2});
    Tensor other = Tensor.of(new float[] {1, 2});
    t.close();
    t.close(); // double close is a no-op
    assertTrue(t.isClosed());
    assertThrows(IllegalStateException.class, t::toFloatArray);
    assertThrows(IllegalStateException.class, t::shape);
    assertThrows(IllegalStateException.class, () -> t.add(other));
    assertThrows(IllegalStateException.class, () -> other.add(t));
    assertThrows(IllegalStateException.class, t::data);
    assertEquals("Tensor(closed)", t.toString());
    other.close();
  }

  @Test
  void scopeClosesEverythingItTracksButDetached() {
    Tensor kept;
    Tensor a;
    try (TensorScope s = new TensorScope()) {
      a = s.track(Tensor.of(new float[] {1, 2, 3}));
      Tensor b = s.track(a.add(a));
      kept = s.detach(s.track(b.sum()));
      assertEquals(2, s.size());
    }
    assertTrue(a.isClosed());
    assertFalse(kept.isClosed());
    assertEquals(12.0, kept.item());
    kept.close();
  }

  @Test
  void cleanerReleasesForgottenWrappedMemory() throws InterruptedException {
    int before = io.d2g.io.Fixtures.settledBorrowCount();
    Arena arena = Arena.ofAuto();
    for (int i = 0; i < 50; i++) Tensor.wrap(arena.allocate(64, 8), DType.F32, 16); // never closed
    assertTrue(Native.borrowedCount() >= before + 1);
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (Native.borrowedCount() > before && System.nanoTime() < deadline) {
      System.gc();
      Thread.sleep(20);
    }
    assertEquals(before, Native.borrowedCount(), "the cleaner frees tensors nobody closed");
  }

  @Test
  void concurrentUseFromVirtualThreadsKeepsErrorsApart() throws Exception {
    try (var exec = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      var futures = new java.util.ArrayList<java.util.concurrent.Future<String>>();
      for (int i = 0; i < 64; i++) {
        final int n = i;
        futures.add(exec.submit(() -> {
          try (Tensor a = Tensor.of(new float[n + 2]); Tensor b = Tensor.of(new float[n + 3])) {
            for (int k = 0; k < 20; k++) {
              try (Tensor c = a.add(a)) {
                if (c.numel() != n + 2) return "wrong result";
              }
              try {
                a.add(b).close();
                return "no error";
              } catch (InvalidArgumentException e) {
                if (!e.getMessage().contains("[" + (n + 2) + "]")) return "foreign message: " + e.getMessage();
              }
            }
            return "ok";
          }
        }));
      }
      for (var f : futures) assertEquals("ok", f.get());
    }
  }

  @Test
  void linearCombinationSumsInOneCallAndRefusesWhatDoesNotFit() {
    try (TensorScope s = new TensorScope()) {
      Tensor a = s.track(Tensor.of(new float[] {1, 2, 3}, 3)), b = s.track(Tensor.of(new float[] {-1, 0.5f, 4}, 3));
      Tensor c = s.track(Tensor.of(new float[] {10, 20, 30}, 3));
      float[] got = s.track(Tensor.linearCombination(new double[] {2, -3, 0.5}, a, b, c)).toFloatArray();
      assertArrayEquals(new float[] {2 + 3 + 5, 4 - 1.5f + 10, 6 - 12 + 15}, got, 1e-6f);
      assertArrayEquals(new float[] {1, 2, 3}, a.toFloatArray(), "inputs untouched");
      assertArrayEquals(new float[] {-0.5f, -1, -1.5f}, s.track(Tensor.linearCombination(new double[] {-0.5}, a)).toFloatArray());
      Tensor two = s.track(Tensor.of(new float[] {1, 2}, 2)), ints = s.track(Tensor.of(new int[] {1, 2, 3}, 3));
      Tensor f64 = s.track(Tensor.of(new double[] {1, 2, 3}, 3));
      assertThrows(InvalidArgumentException.class, () -> Tensor.linearCombination(new double[] {1, 1}, a, two));
      assertThrows(InvalidArgumentException.class, () -> Tensor.linearCombination(new double[] {1, 1}, a, f64));
      assertThrows(InvalidArgumentException.class, () -> Tensor.linearCombination(new double[] {1}, ints));
      assertThrows(InvalidArgumentException.class, () -> Tensor.linearCombination(new double[] {Double.NaN}, a));
      assertThrows(InvalidArgumentException.class, () -> Tensor.linearCombination(new double[] {1, 2}, a));
      assertThrows(InvalidArgumentException.class, () -> Tensor.linearCombination(new double[0]));
      Tensor[] nine = new Tensor[9];
      java.util.Arrays.fill(nine, a);
      var e = assertThrows(InvalidArgumentException.class, () -> Tensor.linearCombination(new double[9], nine));
      assertTrue(e.getMessage().contains("1 to 8"), e.getMessage());
      // Recording, gradients flow to each input times its coefficient.
      Tensor x = s.track(Tensor.of(new float[] {1, 2}, 2)).requiresGrad(true);
      Tensor y = s.track(Tensor.of(new float[] {3, 4}, 2)).requiresGrad(true);
      try (var rec = Autograd.record()) {
        s.track(s.track(Tensor.linearCombination(new double[] {2, -5}, x, y)).sum()).backward();
      }
      assertArrayEquals(new float[] {2, 2}, s.track(x.grad().orElseThrow()).toFloatArray());
      assertArrayEquals(new float[] {-5, -5}, s.track(y.grad().orElseThrow()).toFloatArray());
    }
  }

  @Test
  void narrowIsAViewOfPartOfADimension() {
    try (TensorScope s = new TensorScope()) {
      Tensor t = s.track(Tensor.of(new float[] {0, 1, 2, 3, 4, 5}, 3, 2));
      Tensor rows = s.track(t.narrow(0, 1, 2));
      assertArrayEquals(new long[] {2, 2}, rows.shape());
      assertArrayEquals(new float[] {2, 3, 4, 5}, rows.toFloatArray());
      assertArrayEquals(new float[] {1, 3, 5}, s.track(t.narrow(-1, 1, 1)).toFloatArray());
      rows.copyFrom(new float[] {-2, -3, -4, -5});
      assertArrayEquals(new float[] {0, 1, -2, -3, -4, -5}, t.toFloatArray(), "a view shares the memory");
      assertEquals(0, s.track(t.narrow(0, 3, 0)).numel());
      assertThrows(InvalidArgumentException.class, () -> t.narrow(0, 2, 2));
      assertThrows(InvalidArgumentException.class, () -> t.narrow(2, 0, 1));
      assertThrows(InvalidArgumentException.class, () -> t.narrow(0, -1, 1));
    }
  }
}
