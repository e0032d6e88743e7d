package io.d2g.pipelines;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.hub.DiffusersFolder;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.schedulers.DdimScheduler;
import io.d2g.schedulers.DpmSolverMultistepScheduler;
import io.d2g.schedulers.EulerDiscreteScheduler;
import io.d2g.schedulers.HeunDiscreteScheduler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The native guided loop (one call for all steps) on the tiny UNet fixture: DDIM's final latents
 * against diffusers' (test/fixtures/schedulers/cases.json, "loops", guidance 3) and against the
 * step-by-step {@link DenoisingLoop}; samplers without linear steps are refused.
 */
class GuidedSamplerTest {
  private static JsonNode loops() throws IOException {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path f = p.resolve("test/fixtures/schedulers/cases.json");
      if (Files.isRegularFile(f)) {
        JsonNode l = new ObjectMapper().readTree(f.toFile()).path("loops");
        ((com.fasterxml.jackson.databind.node.ObjectNode) l).put("root", p.toString());
        return l;
      }
    }
    throw new IllegalStateException("test/fixtures/schedulers/cases.json not found");
  }

  @Test
  void ddimLoopMatchesDiffusersAndTheStepByStepLoop() throws IOException {
    JsonNode loops = loops();
    double g = loops.path("guidance").asDouble();
    JsonNode run = null;
    for (JsonNode r : loops.path("runs")) if (r.path("scheduler").asText().equals("DDIMScheduler")) run = r;
    assertTrue(run != null, "the fixture has a DDIM loop");
    int steps = run.path("num_inference_steps").asInt();
    try (UNet2DConditionModel unet = DiffusersFolder.load(Path.of(loops.path("root").asText()).resolve(loops.path("unet").asText()),
            UNet2DConditionModel.FAMILY);
        GuidedSampler sampler = new GuidedSampler(unet, true);
        Tensor noise = Tensor.of(floats(loops.path("noise")), 1, 4, 8, 8);
        Tensor cond = Tensor.of(floats(loops.path("cond")), 1, 5, 6);
        Tensor uncond = Tensor.of(floats(loops.path("uncond")), 1, 5, 6)) {
      DdimScheduler ddim = DdimScheduler.fromConfig(run.path("config"));
      assertTrue(GuidedSampler.supports(ddim));
      float[] want = floats(run.path("final"));
      try (Tensor out = sampler.run(ddim, steps, noise, cond, uncond, g);
          Tensor again = sampler.run(ddim, steps, noise, cond, uncond, g); // the cached buffers start afresh
          Tensor stepwise = DenoisingLoop.run(unet, ddim, steps, noise, cond, uncond, g)) {
        float[] got = out.toFloatArray();
        assertTrue(maxDiff(want, got) <= 1e-4 * maxAbs(want), "against diffusers: " + maxDiff(want, got));
        assertTrue(maxDiff(stepwise.toFloatArray(), got) <= 1e-5 * maxAbs(want),
            "against DenoisingLoop: " + maxDiff(stepwise.toFloatArray(), got));
        assertEquals(0.0, maxDiff(got, again.toFloatArray()), "a second run of the same inputs");
      }
      try (Tensor unguided = sampler.run(ddim, steps, noise, cond, null, 1.0);
          Tensor stepwise = DenoisingLoop.run(unet, ddim, steps, noise, cond, null, 1.0)) {
        assertTrue(maxDiff(stepwise.toFloatArray(), unguided.toFloatArray()) <= 1e-5 * maxAbs(want), "guidance 1");
      }
      assertThrows(InvalidArgumentException.class, () -> sampler.run(ddim, steps, noise, cond, null, 3.0));
      assertThrows(InvalidArgumentException.class, () -> sampler.run(ddim, steps, noise, cond, uncond, Double.NaN));
      for (JsonNode r : loops.path("runs")) {
        var other = switch (r.path("scheduler").asText()) {
          case "EulerDiscreteScheduler" -> EulerDiscreteScheduler.fromConfig(r.path("config"));
          case "HeunDiscreteScheduler" -> HeunDiscreteScheduler.fromConfig(r.path("config"));
          case "DPMSolverMultistepScheduler" -> DpmSolverMultistepScheduler.fromConfig(r.path("config"));
          default -> null;
        };
        if (other == null) continue;
        assertFalse(GuidedSampler.supports(other), r.path("scheduler").asText());
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
            () -> sampler.run(other, 2, noise, cond, uncond, g));
        assertTrue(e.getMessage().contains("DenoisingLoop"), e.getMessage());
      }
      sampler.close();
      assertThrows(IllegalStateException.class, () -> sampler.run(ddim, steps, noise, cond, uncond, g));
    }
  }

  private static double maxDiff(float[] a, float[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
    return m;
  }

  private static double maxAbs(float[] a) {
    double m = 0;
    for (float v : a) m = Math.max(m, Math.abs(v));
    return m;
  }

  private static float[] floats(JsonNode a) {
    float[] o = new float[a.size()];
    for (int i = 0; i < o.length; i++) o[i] = (float) a.get(i).asDouble();
    return o;
  }
}
