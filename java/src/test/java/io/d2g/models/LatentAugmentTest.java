package io.d2g.models;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.Autograd;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * E-LatentLPIPS's augmentation against the official code's (test/fixtures/latent-augment, made by
 * scripts/fixtures/make_latent_augment_fixtures.py from mingukkang/elatentlpips): with the official
 * draws (the transform recovered from its padding and resampling grid, the colour and cutout draws as
 * torch.rand gave them), both outputs agree for the presets bgco (every op), bg (the default) and b.
 */
class LatentAugmentTest {
  static Path fixture() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path f = p.resolve("test/fixtures/latent-augment/cases.safetensors");
      if (Files.isRegularFile(f)) return f;
    }
    return fail("test/fixtures/latent-augment not found");
  }

  @Test
  void matchesTheOfficialPipelineWithItsDraws() {
    try (SafetensorsFile f = Safetensors.open(fixture()); TensorScope s = new TensorScope()) {
      Map<String, Tensor> c = f.tensors();
      c.values().forEach(s::track);
      for (String preset : List.of("bgco", "bg", "b")) {
        LatentAugment.Params p = new LatentAugment.Params(c.get(preset + ".g_inv"), c.get(preset + ".brightness"),
            c.get(preset + ".contrast"), c.get(preset + ".saturation"), c.get(preset + ".cutout_center"),
            c.get(preset + ".cutout_size"));
        List<Tensor> y = LatentAugment.apply(c.get(preset + ".x0"), c.get(preset + ".x1"), p);
        y.forEach(s::track);
        for (int k = 0; k < 2; k++) {
          Tensor want = c.get(preset + ".y" + k);
          assertArrayEquals(want.shape(), y.get(k).shape(), preset + " y" + k);
          double rel = LatentLpipsTest.relative(y.get(k), want);
          assertTrue(rel < 1e-5, preset + " y" + k + ": " + rel);
        }
      }
    }
  }

  @Test
  void isDifferentiableAndRefusesWhatDoesNotFit() {
    try (SafetensorsFile f = Safetensors.open(fixture()); TensorScope s = new TensorScope()) {
      Map<String, Tensor> c = f.tensors();
      c.values().forEach(s::track);
      Tensor x = s.track(c.get("bgco.x0").detach()).requiresGrad(true);
      LatentAugment.Params p = new LatentAugment.Params(c.get("bgco.g_inv"), c.get("bgco.brightness"), null, null, null, null);
      try (var rec = Autograd.record()) {
        List<Tensor> y = LatentAugment.apply(x, c.get("bgco.x1"), p);
        y.forEach(s::track);
        s.track(y.get(0).sum()).backward();
      }
      Tensor g = s.track(x.grad().orElseThrow());
      double total = 0;
      for (float v : g.toFloatArray()) total += Math.abs(v);
      assertTrue(total > 0, "gradients reach the input");
      // Both inputs go through one pass, but an input that needs no gradient gets an output that needs none.
      try (var rec = Autograd.record()) {
        List<Tensor> y = LatentAugment.apply(s.track(x.detach()).requiresGrad(true), c.get("bgco.x1"), p);
        y.forEach(s::track);
        assertTrue(y.get(0).requiresGrad(), "x0 needs gradients, so does its output");
        assertFalse(y.get(1).requiresGrad(), "x1 needs none, nor does its output");
        List<Tensor> z = LatentAugment.apply(c.get("bgco.x0"), s.track(c.get("bgco.x1").detach()).requiresGrad(true), p);
        z.forEach(s::track);
        assertFalse(z.get(0).requiresGrad());
        assertTrue(z.get(1).requiresGrad());
      }
      LatentAugment.Params none = new LatentAugment.Params(null, null, null, null, null, null);
      List<Tensor> same = LatentAugment.apply(c.get("b.x0"), c.get("b.x1"), none);
      same.forEach(s::track);
      assertEquals(0, LatentLpipsTest.relative(same.get(0), c.get("b.x0")), "no parameters, no change");
      Tensor wrongG = s.track(c.get("bgco.g_inv").narrow(0, 0, 1));
      var e = assertThrows(InvalidArgumentException.class, () -> LatentAugment.apply(c.get("bgco.x0"), c.get("bgco.x1"),
          new LatentAugment.Params(wrongG, null, null, null, null, null)));
      assertTrue(e.getMessage().contains("g_inv must be [2, 3, 3]"), e.getMessage());
      assertThrows(InvalidArgumentException.class, () -> LatentAugment.apply(c.get("bgco.x0"), c.get("bgco.x1"),
          new LatentAugment.Params(null, null, null, null, c.get("bgco.cutout_center"), null)), "centre without size");
      assertThrows(InvalidArgumentException.class, () -> LatentAugment.apply(c.get("bgco.x0"), s.track(c.get("bgco.x1").narrow(0, 0, 1)),
          none), "inputs of two shapes");
    }
  }

  /** det of each sample's 2x2 linear part, and its translation column, from g_inv [B, 3, 3]. */
  private static double[][] linearParts(Tensor g) {
    float[] v = g.toFloatArray();
    int b = v.length / 9;
    double[][] out = new double[b][];
    for (int i = 0; i < b; i++) {
      int o = i * 9;
      out[i] = new double[] {v[o] * v[o + 4] - v[o + 1] * v[o + 3], v[o + 2], v[o + 5], v[o], v[o + 1], v[o + 3], v[o + 4]};
    }
    return out;
  }

  @Test
  void drawsFollowTheOfficialDistributions() {
    int n = 4000;
    try (TensorScope s = new TensorScope(); io.d2g.Generator gen = io.d2g.Generator.cpu(7)) {
      // b: a flip half the time, quarter turns, whole-pixel shifts up to 1/8 of the 16-pixel side.
      LatentAugment.Params b = LatentAugment.draw("b", new long[] {n, 4, 16, 16}, gen);
      s.track(b.gInv());
      assertNull(b.brightness());
      assertNull(b.cutoutCenter());
      int flipped = 0;
      for (double[] p : linearParts(b.gInv())) {
        assertEquals(1, Math.abs(p[0]), 1e-5, "a flip or turn keeps areas");
        if (p[0] < 0) flipped++;
        for (int k = 3; k < 7; k++) assertEquals(Math.rint(p[k]), p[k], 1e-5, "quarter turns: entries 0 or +-1");
        for (int k = 1; k < 3; k++) {
          assertEquals(Math.rint(p[k]), p[k], 1e-5, "whole-pixel shifts");
          assertTrue(Math.abs(p[k]) <= 2 + 1e-4, "shift " + p[k] + " beyond 1/8 of 16");
        }
      }
      assertEquals(0.5, flipped / (double) n, 0.03, "flips");
      // g: the linear part's area changes by 1/s^2 with log2 s ~ N(0, 0.2^2) (rotations and the anisotropic
      // scale keep areas), so log2 det ~ N(0, 0.4^2).
      LatentAugment.Params g = LatentAugment.draw("g", new long[] {n, 4, 16, 16}, gen);
      s.track(g.gInv());
      double sum = 0, sq = 0;
      for (double[] p : linearParts(g.gInv())) {
        double l = Math.log(p[0]) / Math.log(2);
        sum += l;
        sq += l * l;
      }
      double mean = sum / n, sd = Math.sqrt(sq / n - mean * mean);
      assertEquals(0, mean, 0.03, "log2 det mean");
      assertEquals(0.4, sd, 0.03, "log2 det spread");
      // c and o: uniform draws, a half-side cutout; no saturation for one channel.
      LatentAugment.Params all = LatentAugment.draw("bgco", new long[] {n, 4, 16, 16}, gen);
      for (Tensor t : List.of(all.gInv(), all.brightness(), all.contrast(), all.saturation(), all.cutoutCenter(), all.cutoutSize()))
        s.track(t);
      for (Tensor t : List.of(all.brightness(), all.contrast(), all.saturation(), all.cutoutCenter())) {
        double m = 0;
        for (float v : t.toFloatArray()) {
          assertTrue(v >= 0 && v < 1, "uniform in [0, 1): " + v);
          m += v;
        }
        assertEquals(0.5, m / t.numel(), 0.02);
      }
      for (float v : all.cutoutSize().toFloatArray()) assertEquals(0.5f, v);
      LatentAugment.Params grey = LatentAugment.draw("c", new long[] {3, 1, 8, 8}, gen);
      s.track(grey.brightness());
      s.track(grey.contrast());
      assertNull(grey.saturation(), "one channel has no saturation");
      assertNull(grey.gInv());
      assertThrows(InvalidArgumentException.class, () -> LatentAugment.draw("x", new long[] {1, 4, 8, 8}, null));
    }
  }

  /**
   * Our sampler against the official one's recorded draws (stats.safetensors: 1024 draws of each preset
   * on 8x8 latents): each entry of the sampled transform, the log of its area change and the colour
   * and cutout draws agree in mean and spread within what 1024 samples allow.
   */
  @Test
  void drawsMatchTheOfficialSamplersRecordedDraws() {
    Path stats = fixture().resolveSibling("stats.safetensors");
    try (SafetensorsFile f = Safetensors.open(stats); TensorScope s = new TensorScope();
        io.d2g.Generator gen = io.d2g.Generator.cpu(21)) {
      for (String preset : List.of("bg", "b", "bgco")) {
        LatentAugment.Params ours = LatentAugment.draw(preset, new long[] {1024, 4, 8, 8}, gen);
        for (Tensor t : new Tensor[] {ours.gInv(), ours.brightness(), ours.contrast(), ours.saturation(), ours.cutoutCenter(),
            ours.cutoutSize()})
          if (t != null) s.track(t);
        float[] official = s.track(f.tensor(preset + ".g_inv")).toFloatArray(), mine = ours.gInv().toFloatArray();
        for (int e = 0; e < 6; e++) {
          int entry = e;
          compare(preset + " g_inv[" + e / 3 + "][" + e % 3 + "]", pick(official, v -> v[entry]), pick(mine, v -> v[entry]));
        }
        compare(preset + " log area change", pick(official, v -> Math.log(Math.abs(v[0] * v[4] - v[1] * v[3]))),
            pick(mine, v -> Math.log(Math.abs(v[0] * v[4] - v[1] * v[3]))));
        if (preset.equals("bgco")) {
          compare("brightness", doubles(s.track(f.tensor("bgco.brightness"))), doubles(ours.brightness()));
          compare("contrast", doubles(s.track(f.tensor("bgco.contrast"))), doubles(ours.contrast()));
          compare("saturation", doubles(s.track(f.tensor("bgco.saturation"))), doubles(ours.saturation()));
          compare("cutout centre", doubles(s.track(f.tensor("bgco.cutout_center"))), doubles(ours.cutoutCenter()));
        }
      }
    }
  }

  private static double[] pick(float[] matrices, java.util.function.ToDoubleFunction<float[]> f) {
    double[] out = new double[matrices.length / 9];
    for (int i = 0; i < out.length; i++) out[i] = f.applyAsDouble(java.util.Arrays.copyOfRange(matrices, 9 * i, 9 * i + 9));
    return out;
  }

  private static double[] doubles(Tensor t) {
    float[] v = t.toFloatArray();
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) d[i] = v[i];
    return d;
  }

  /** Means within 4 standard errors of their difference, spreads within 12 % (1024 samples each). */
  private static void compare(String what, double[] official, double[] ours) {
    double[] a = meanSd(official), b = meanSd(ours);
    double se = Math.sqrt((a[1] * a[1] + b[1] * b[1]) / official.length);
    assertEquals(a[0], b[0], 4 * se + 1e-6, what + ": mean " + b[0] + " against the official " + a[0]);
    assertEquals(a[1], b[1], 0.12 * a[1] + 1e-6, what + ": spread " + b[1] + " against the official " + a[1]);
  }

  private static double[] meanSd(double[] v) {
    double m = java.util.Arrays.stream(v).average().orElse(Double.NaN), q = 0;
    for (double x : v) q += (x - m) * (x - m);
    return new double[] {m, Math.sqrt(q / v.length)};
  }

  @Test
  void theEnsembleDistanceDrawsAnewFromItsGenerator() {
    try (LatentLpips lpips = io.d2g.hub.DiffusersFolder.load(LatentLpipsTest.fixture(), LatentLpips.FAMILY);
        SafetensorsFile f = Safetensors.open(LatentLpipsTest.fixture().resolve("cases.safetensors"));
        TensorScope s = new TensorScope()) {
      Map<String, Tensor> c = f.tensors();
      c.values().forEach(s::track);
      Tensor x0 = c.get("x0"), x1 = c.get("x1");
      float[] a, b, other;
      try (io.d2g.Generator g = io.d2g.Generator.cpu(11)) {
        a = s.track(lpips.distance(x0, x1, "bg", g)).toFloatArray();
      }
      try (io.d2g.Generator g = io.d2g.Generator.cpu(11)) {
        b = s.track(lpips.distance(x0, x1, "bg", g)).toFloatArray();
        other = s.track(lpips.distance(x0, x1, "bg", g)).toFloatArray();
      }
      assertArrayEquals(a, b, "the same seed, the same draw");
      assertFalse(java.util.Arrays.equals(a, other), "the next call draws anew");
      float[] plain = s.track(lpips.distance(x0, x1)).toFloatArray();
      assertFalse(java.util.Arrays.equals(a, plain), "augmented differs from plain");
      try (io.d2g.Generator g = io.d2g.Generator.cpu(3)) {
        for (float v : s.track(lpips.distance(x0, x0, "bgco", g)).toFloatArray()) assertEquals(0f, v, 1e-7f, "to itself");
      }
      Tensor x = s.track(x0.detach()).requiresGrad(true);
      try (var rec = Autograd.record(); io.d2g.Generator g = io.d2g.Generator.cpu(5)) {
        s.track(s.track(lpips.distance(x, x1, "bgc", g)).sum()).backward();
      }
      double total = 0;
      for (float v : s.track(x.grad().orElseThrow()).toFloatArray()) total += Math.abs(v);
      assertTrue(total > 0, "gradients reach the first input through the augmentation");
      var e = assertThrows(InvalidArgumentException.class, () -> lpips.distance(x0, x1, "bgx", null));
      assertTrue(e.getMessage().contains("unknown preset"), e.getMessage());
    }
  }
}
