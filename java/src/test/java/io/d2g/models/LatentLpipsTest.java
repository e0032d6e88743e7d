package io.d2g.models;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.Autograd;
import io.d2g.DType;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.hub.DiffusersFolder;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * LatentLPIPS against the official E-LatentLPIPS code (test/fixtures/latent-lpips, made by
 * scripts/fixtures/make_latent_lpips_fixtures.py from mingukkang/elatentlpips with random weights and
 * BatchNorm statistics, narrow widths): the official state names load as they are; the five taps, the
 * distance with and without the L1 term and its gradient with respect to the first input agree.
 */
public class LatentLpipsTest {
  public static Path fixture() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path f = p.resolve("test/fixtures/latent-lpips");
      if (Files.isDirectory(f)) return f;
    }
    return fail("test/fixtures/latent-lpips not found");
  }

  public static double relative(Tensor ours, Tensor ref) {
    float[] a = ours.toFloatArray(), b = ref.toFloatArray();
    assertEquals(b.length, a.length, "sizes");
    double num = 0, den = 0;
    for (int i = 0; i < a.length; i++) {
      num += (a[i] - b[i]) * (double) (a[i] - b[i]);
      den += (double) b[i] * b[i];
    }
    return Math.sqrt(num / Math.max(den, 1e-30));
  }

  @Test
  void matchesTheOfficialCode() throws Exception {
    Path dir = fixture();
    try (LatentLpips lpips = DiffusersFolder.load(dir, LatentLpips.FAMILY); TensorScope s = new TensorScope();
        SafetensorsFile cases = Safetensors.open(dir.resolve("cases.safetensors"))) {
      Map<String, Tensor> c = cases.tensors();
      c.values().forEach(s::track);
      assertEquals(List.of(8, 16, 32, 64, 64), lpips.config().widths());
      Tensor x0 = c.get("x0"), x1 = c.get("x1");
      List<Tensor> taps = lpips.features(x0);
      taps.forEach(s::track);
      for (int k = 0; k < 5; k++) {
        assertArrayEquals(c.get("tap" + k).shape(), taps.get(k).shape(), "tap " + k);
        assertTrue(relative(taps.get(k), c.get("tap" + k)) < 1e-5, "tap " + k + ": " + relative(taps.get(k), c.get("tap" + k)));
      }
      Tensor d = s.track(lpips.distance(x0, x1));
      assertArrayEquals(new long[] {3}, d.shape());
      assertTrue(relative(d, c.get("distance")) < 1e-5, "distance: " + relative(d, c.get("distance")));
      assertArrayEquals(new float[] {0, 0, 0}, s.track(lpips.distance(x0, x0)).toFloatArray(), 1e-9f, "to itself");

      // The official default adds mean |x0 - x1|; ours does when the config says so.
      try (LatentLpips withL1 = new LatentLpips(new LatentLpipsConfig(4, List.of(8, 16, 32, 64, 64), true))) {
        withL1.loadState(lpips.state(), true);
        Tensor dl1 = s.track(withL1.distance(x0, x1));
        assertTrue(relative(dl1, c.get("distance_l1")) < 1e-5, "with l1: " + relative(dl1, c.get("distance_l1")));
      }

      // The gradient with respect to the first input, as autograd through the official module gives it.
      Tensor x = s.track(x0.detach()).requiresGrad(true);
      try (var rec = Autograd.record()) {
        s.track(s.track(lpips.distance(x, x1)).sum()).backward();
      }
      Tensor g = s.track(x.grad().orElseThrow());
      assertTrue(relative(g, c.get("grad_x0")) < 1e-5, "gradient: " + relative(g, c.get("grad_x0")));
    }
  }

  @Test
  void isALossForOthersNeverTrainedByAccidentAndRefusesWhatDoesNotFit() {
    try (LatentLpips lpips = new LatentLpips(new LatentLpipsConfig(4, List.of(8, 8, 8, 8, 8), false));
        TensorScope s = new TensorScope()) {
      for (Tensor p : lpips.parameters().values()) {
        s.track(p);
        assertFalse(p.requiresGrad(), "its weights do not train");
      }
      assertThrows(InvalidArgumentException.class,
          () -> Optimizer.create(OptimizerConfig.AdamW.lr(1e-3), lpips), "no optimizer takes it");
      Tensor ok = s.track(Tensor.randn(DType.F32, io.d2g.Device.CPU, 2, 4, 8, 8));
      Tensor threeChannels = s.track(Tensor.randn(DType.F32, io.d2g.Device.CPU, 2, 3, 8, 8));
      Tensor odd = s.track(Tensor.randn(DType.F32, io.d2g.Device.CPU, 2, 4, 6, 6));
      Tensor other = s.track(Tensor.randn(DType.F32, io.d2g.Device.CPU, 1, 4, 8, 8));
      var e = assertThrows(InvalidArgumentException.class, () -> lpips.distance(threeChannels, threeChannels));
      assertTrue(e.getMessage().contains("[B, 4, H, W]"), e.getMessage());
      assertThrows(InvalidArgumentException.class, () -> lpips.distance(odd, odd));
      e = assertThrows(InvalidArgumentException.class, () -> lpips.distance(ok, other));
      assertTrue(e.getMessage().contains("differ in shape"), e.getMessage());
      assertArrayEquals(new long[] {2}, s.track(lpips.distance(ok, ok)).shape());
    }
    assertThrows(InvalidArgumentException.class, () -> new LatentLpipsConfig(4, List.of(8, 8, 8, 8), false));
    assertThrows(InvalidArgumentException.class, () -> new LatentLpipsConfig(0, List.of(8, 8, 8, 8, 8), false));
  }

  @Test
  void theEnsembleRunsUnderBf16AutocastWithItsAugmentationInF32() {
    io.d2g.D2g.manualSeed(2);
    try (LatentLpips lpips = new LatentLpips(new LatentLpipsConfig(4, List.of(8, 8, 16, 16, 16), false));
        TensorScope s = new TensorScope(); io.d2g.Generator g = io.d2g.Generator.cpu(3)) {
      Tensor x0 = s.track(Tensor.randn(g, DType.F32, 2, 4, 16, 16)), x1 = s.track(Tensor.randn(g, DType.F32, 2, 4, 16, 16));
      float[] f32, bf16;
      try (io.d2g.Generator d = io.d2g.Generator.cpu(7)) {
        f32 = s.track(lpips.distance(x0, x1, "bgc", d)).toFloatArray();
      }
      try (io.d2g.Generator d = io.d2g.Generator.cpu(7); var amp = io.d2g.Autocast.bf16()) {
        bf16 = s.track(s.track(lpips.distance(x0, x1, "bgc", d)).to(DType.F32)).toFloatArray();
      }
      // The same draws (same seed) and f32 resampling: only the trunk's bf16 rounding differs.
      for (int i = 0; i < 2; i++) assertEquals(f32[i], bf16[i], 0.05 * f32[i], "sample " + i);
    }
  }

  /**
   * The lean backward (ReLU masks and pooling choices instead of activations) against LibTorch's autograd
   * on the same weights and draws: same distances and same gradients, for either input needing them, in
   * f32 and under bf16 autocast, with and without the ensemble.
   */
  @Test
  void theLeanBackwardGivesAutogradsGradients() {
    io.d2g.D2g.manualSeed(5);
    LatentLpipsConfig config = new LatentLpipsConfig(4, List.of(8, 8, 16, 16, 16), false);
    try (LatentLpips lean = new LatentLpips(config.withLeanBackward(true)); LatentLpips plain = new LatentLpips(config);
        TensorScope s = new TensorScope(); io.d2g.Generator g = io.d2g.Generator.cpu(3)) {
      assertTrue(lean.config().leanBackward());
      assertFalse(plain.config().leanBackward());
      // Random BatchNorm statistics and affine parameters, so that the folding is tested too.
      Map<String, Tensor> state = new java.util.HashMap<>();
      for (var e : lean.state().entrySet()) {
        Tensor t = s.track(e.getValue());
        if (!e.getKey().endsWith("num_batches_tracked")) {
          Tensor r = s.track(Tensor.randn(g, DType.F32, t.shape()));
          t = e.getKey().endsWith("running_var") ? s.track(s.track(r.square()).add(0.5)) : s.track(r.mul(0.3));
        }
        state.put(e.getKey(), t);
      }
      lean.loadState(state, true);
      plain.loadState(state, true);
      Tensor x0 = s.track(Tensor.randn(g, DType.F32, 3, 4, 16, 16)), x1 = s.track(Tensor.randn(g, DType.F32, 3, 4, 16, 16));
      for (String preset : new String[] {null, "bg", "bgco"}) {
        for (boolean bf16 : new boolean[] {false, true}) {
          for (int side = 0; side < 2; side++) {
            Tensor[] grads = new Tensor[2], distances = new Tensor[2];
            for (int k = 0; k < 2; k++) {
              LatentLpips m = k == 0 ? lean : plain;
              Tensor a = s.track(x0.detach()), b = s.track(x1.detach());
              Tensor x = side == 0 ? a.requiresGrad(true) : b.requiresGrad(true);
              try (io.d2g.Generator d = io.d2g.Generator.cpu(11); var amp = bf16 ? io.d2g.Autocast.bf16() : io.d2g.Autocast.off();
                  var rec = Autograd.record()) {
                distances[k] = s.track(s.track(preset == null ? m.distance(a, b) : m.distance(a, b, preset, d)).to(DType.F32));
                s.track(s.track(distances[k].square()).sum()).backward();
              }
              grads[k] = s.track(x.grad().orElseThrow());
            }
            String what = (preset == null ? "plain" : preset) + (bf16 ? " bf16" : " f32") + " grad of x" + side;
            double tolerance = bf16 ? 2e-2 : 1e-5;
            assertTrue(relative(distances[0], distances[1]) < tolerance, what + " distance: " + relative(distances[0], distances[1]));
            assertTrue(relative(grads[0], grads[1]) < tolerance, what + ": " + relative(grads[0], grads[1]));
            assertTrue(s.track(s.track(grads[0].abs()).sum()).item() > 0, what + " is not zero");
          }
        }
      }
    }
  }

  /**
   * The augmentation's fixed padding (the most any draw can need, the resampling built on the device)
   * against the padding fitted to each batch's draws: the same distances and gradients for the same
   * draws, for presets with and without the geometric transform, at two sides.
   */
  @Test
  void theFixedAugmentPaddingGivesTheFittedPaddingsValues() {
    io.d2g.D2g.manualSeed(7);
    LatentLpipsConfig config = new LatentLpipsConfig(4, List.of(8, 8, 16, 16, 16), false);
    try (LatentLpips fixed = new LatentLpips(config.withFixedAugmentPadding(true)); LatentLpips fitted = new LatentLpips(config);
        TensorScope s = new TensorScope(); io.d2g.Generator g = io.d2g.Generator.cpu(4)) {
      assertTrue(fixed.config().fixedAugmentPadding());
      assertEquals(true, fixed.config().toJson().path("fixed_augment_padding").asBoolean());
      assertEquals(fixed.config(), LatentLpipsConfig.fromJson(fixed.config().toJson()));
      assertFalse(fitted.config().toJson().has("fixed_augment_padding"));
      fixed.loadState(fitted.state(), true);
      for (int side : new int[] {16, 24}) {
        Tensor x0 = s.track(Tensor.randn(g, DType.F32, 4, 4, side, side)), x1 = s.track(Tensor.randn(g, DType.F32, 4, 4, side, side));
        for (String preset : new String[] {"g", "bg", "bgco", "c"}) {
          for (long seed = 0; seed < 3; seed++) {
            Tensor[] grads = new Tensor[2], distances = new Tensor[2];
            for (int k = 0; k < 2; k++) {
              Tensor a = s.track(x0.detach()).requiresGrad(true), b = s.track(x1.detach());
              try (io.d2g.Generator d = io.d2g.Generator.cpu(seed); var rec = Autograd.record()) {
                distances[k] = s.track((k == 0 ? fixed : fitted).distance(a, b, preset, d));
                s.track(s.track(distances[k].square()).sum()).backward();
              }
              grads[k] = s.track(a.grad().orElseThrow());
            }
            String what = preset + " side " + side + " draw " + seed;
            assertTrue(relative(distances[0], distances[1]) < 1e-5, what + " distance: " + relative(distances[0], distances[1]));
            assertTrue(relative(grads[0], grads[1]) < 1e-4, what + " gradient: " + relative(grads[0], grads[1]));
            assertTrue(s.track(s.track(distances[1].abs()).sum()).item() > 0, what + " is not zero");
          }
        }
      }
    }
  }

  /**
   * distanceAndGrad (one native call) against the distance recorded by Autograd and its backward: the
   * same distances and gradients, plain and with the ensemble (the same draw from the same seed), with
   * the L1 term, whatever the recording state; bad presets and shapes are clear errors.
   */
  @Test
  void distanceAndGradGivesTheRecordedBackwardsValues() {
    io.d2g.D2g.manualSeed(9);
    try (LatentLpips lpips = new LatentLpips(new LatentLpipsConfig(4, List.of(8, 8, 16, 16, 16), true));
        TensorScope s = new TensorScope(); io.d2g.Generator g = io.d2g.Generator.cpu(5)) {
      Tensor x0 = s.track(Tensor.randn(g, DType.F32, 3, 4, 16, 16)), x1 = s.track(Tensor.randn(g, DType.F32, 3, 4, 16, 16));
      for (String preset : new String[] {"none", "bg", "bgco"}) {
        for (boolean graph : new boolean[] {false, true}) {
          Tensor a = s.track(x0.detach()).requiresGrad(true);
          Tensor recorded;
          try (io.d2g.Generator d = io.d2g.Generator.cpu(21); var rec = Autograd.record()) {
            recorded = s.track(preset.equals("none") ? lpips.distance(a, x1) : lpips.distance(a, x1, preset, d));
            s.track(recorded.sum()).backward();
          }
          Tensor want = s.track(a.grad().orElseThrow());
          try (io.d2g.Generator d = io.d2g.Generator.cpu(21); LatentLpips.DistanceAndGrad got = lpips.distanceAndGrad(x0, x1, preset, d, graph)) {
            assertArrayEquals(x0.shape(), got.grad().shape());
            assertTrue(relative(got.distance(), recorded) < 1e-6, preset + ": " + relative(got.distance(), recorded));
            assertTrue(relative(got.grad(), want) < 1e-6, preset + " gradient: " + relative(got.grad(), want));
            assertTrue(s.track(s.track(got.grad().abs()).sum()).item() > 0, preset + " gradient is not zero");
          }
        }
      }
      assertThrows(InvalidArgumentException.class, () -> lpips.distanceAndGrad(x0, x1, "xyz", g, false));
      Tensor small = s.track(Tensor.randn(g, DType.F32, 3, 4, 8, 8));
      assertThrows(InvalidArgumentException.class, () -> lpips.distanceAndGrad(x0, small, "bg", g, false));
    }
  }
}
