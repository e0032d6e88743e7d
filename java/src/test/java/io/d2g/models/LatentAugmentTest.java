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
}
