package io.d2g;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.nn.Linear;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Autograd through the bridge: recording scopes, gradients by hand, second order, autocast, modules. */
class AutogradTest {
  private static Tensor vec(float... v) {
    return Tensor.of(v, v.length);
  }

  @Test
  void elementWiseOperationsComputeWhatTheySay() {
    try (TensorScope s = new TensorScope()) {
      Tensor a = s.track(vec(1, -2, 3)), b = s.track(vec(4, 5, -6));
      assertArrayEquals(new float[] {-3, -7, 9}, s.track(a.sub(b)).toFloatArray());
      assertArrayEquals(new float[] {4, -10, -18}, s.track(a.mul(b)).toFloatArray());
      assertArrayEquals(new float[] {0.25f, -0.4f, -0.5f}, s.track(a.div(b)).toFloatArray(), 1e-7f);
      assertArrayEquals(new float[] {3, 0, 5}, s.track(a.add(2)).toFloatArray());
      assertArrayEquals(new float[] {1, 4, 9}, s.track(a.square()).toFloatArray());
      assertArrayEquals(new float[] {1, -8, 27}, s.track(a.pow(3)).toFloatArray());
      assertArrayEquals(new float[] {1, 0, 3}, s.track(a.relu()).toFloatArray());
      assertArrayEquals(new float[] {-1, 2, -3}, s.track(a.neg()).toFloatArray());
      float[] sp = s.track(a.softplus()).toFloatArray();
      for (int i = 0; i < 3; i++) {
        double x = new double[] {1, -2, 3}[i];
        assertEquals(Math.log1p(Math.exp(x)), sp[i], 1e-6);
      }
      Tensor m = s.track(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3));
      assertEquals(3.5, s.track(m.mean()).item(), 1e-7);
      assertArrayEquals(new float[] {2, 5}, s.track(m.mean(false, 1)).toFloatArray());
      assertArrayEquals(new long[] {1, 3}, s.track(m.sum(true, 0)).shape());
      assertThrows(InvalidArgumentException.class, () -> m.sum(false, 2));
      assertThrows(InvalidArgumentException.class, () -> m.mean(false, 0, -2));
      assertThrows(InvalidArgumentException.class, () -> s.track(Tensor.of(new int[] {1, 2}, 2)).mean());
    }
  }

  @Test
  void outsideARecordingScopeNothingIsRecorded() {
    try (TensorScope s = new TensorScope()) {
      Tensor x = s.track(vec(1, 2)).requiresGrad(true);
      Tensor y = s.track(s.track(x.square()).sum());
      assertFalse(Autograd.isRecording());
      assertFalse(y.requiresGrad(), "an inference result requires no grad");
      assertThrows(InvalidArgumentException.class, y::backward);
    }
  }

  @Test
  void backwardGivesTheGradientsComputedByHand() {
    // loss = mean((w x + b - t)^2) over 3 samples, for a linear layer 2 -> 1; by hand:
    // dL/dw = 2/3 sum_i r_i x_i, dL/db = 2/3 sum_i r_i, r_i = w x_i + b - t_i
    try (Linear lin = new Linear(2, 1, true); TensorScope s = new TensorScope()) {
      Map<String, Tensor> p = lin.parameters();
      p.values().forEach(s::track);
      assertEquals(List.of("weight", "bias"), List.copyOf(p.keySet()));
      p.get("weight").copyFrom(new float[] {0.5f, -1});
      p.get("bias").copyFrom(new float[] {0.25f});
      float[][] xs = {{1, 2}, {-1, 0.5f}, {3, -2}};
      float[] ts = {0, 1, -1};
      Tensor x = s.track(Tensor.of(new float[] {1, 2, -1, 0.5f, 3, -2}, 3, 2));
      Tensor t = s.track(Tensor.of(ts, 3, 1));
      try (var rec = Autograd.record()) {
        assertTrue(Autograd.isRecording());
        Tensor out = s.track(lin.forward(x));
        Tensor loss = s.track(s.track(s.track(out.sub(t)).square()).mean());
        assertTrue(loss.requiresGrad());
        loss.backward();
      }
      assertFalse(Autograd.isRecording(), "the scope ended");
      double[] gw = new double[2];
      double gb = 0;
      for (int i = 0; i < 3; i++) {
        double r = 0.5 * xs[i][0] - 1 * xs[i][1] + 0.25 - ts[i];
        gw[0] += 2.0 / 3 * r * xs[i][0];
        gw[1] += 2.0 / 3 * r * xs[i][1];
        gb += 2.0 / 3 * r;
      }
      float[] w = s.track(p.get("weight").grad().orElseThrow()).toFloatArray();
      assertEquals(gw[0], w[0], 1e-5);
      assertEquals(gw[1], w[1], 1e-5);
      assertEquals(gb, s.track(p.get("bias").grad().orElseThrow()).toFloatArray()[0], 1e-5);
      lin.zeroGrad();
      assertTrue(p.get("weight").grad().isEmpty());
      lin.requiresGrad(false);
      assertFalse(p.get("weight").requiresGrad());
    }
  }

  @Test
  void gradientsOfGradientsForPenalties() {
    // f = sum(x^3): df/dx = 3x^2 (kept in the graph), d/dx sum(3x^2) = 6x
    try (TensorScope s = new TensorScope(); var rec = Autograd.record()) {
      Tensor x = s.track(vec(2, -3)).requiresGrad(true);
      Tensor f = s.track(s.track(x.pow(3)).sum());
      List<Tensor> g = Autograd.grad(List.of(f), null, List.of(x), true);
      g.forEach(s::track);
      assertArrayEquals(new float[] {12, 27}, g.get(0).toFloatArray());
      assertTrue(x.grad().isEmpty(), "grad() leaves .grad alone");
      s.track(g.get(0).sum()).backward();
      assertArrayEquals(new float[] {12, -18}, s.track(x.grad().orElseThrow()).toFloatArray());
    }
  }

  @Test
  void scopesNestAndBelongToTheirThread() throws Exception {
    try (var rec = Autograd.record()) {
      try (var off = Autograd.noGrad()) {
        assertFalse(Autograd.isRecording());
      }
      assertTrue(Autograd.isRecording());
      try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
        Future<Boolean> other = pool.submit(Autograd::isRecording);
        assertFalse(other.get(), "another thread does not record");
        Future<?> wrongThread = pool.submit(rec::close);
        var e = assertThrows(ExecutionException.class, wrongThread::get);
        assertInstanceOf(IllegalStateException.class, e.getCause());
      }
    }
    assertFalse(Autograd.isRecording());
  }

  @Test
  void autocastRunsMatrixProductsInBf16AndLeavesTheWeightsAlone() {
    try (TensorScope s = new TensorScope()) {
      Tensor a = s.track(Tensor.randn(DType.F32, Device.CPU, 4, 8));
      Tensor b = s.track(Tensor.randn(DType.F32, Device.CPU, 8, 3));
      assertEquals(DType.F32, s.track(a.matmul(b)).dtype());
      try (var amp = Autocast.bf16()) {
        assertEquals(DType.BF16, Autocast.current());
        assertEquals(DType.BF16, s.track(a.matmul(b)).dtype());
        try (var off = Autocast.off()) {
          assertEquals(DType.F32, s.track(a.matmul(b)).dtype());
          assertNull(Autocast.current());
        }
      }
      assertNull(Autocast.current());
      assertEquals(DType.F32, a.dtype());
    }
  }
}
