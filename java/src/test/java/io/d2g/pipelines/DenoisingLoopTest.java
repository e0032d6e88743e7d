package io.d2g.pipelines;

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
import io.d2g.schedulers.Scheduler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Whole sampling loops with classifier-free guidance (g = 3) on the tiny UNet fixture against
 * diffusers' (test/fixtures/schedulers/cases.json, "loops"; its pipeline batches the two passes, ours
 * runs two calls): the final latents of DDIM, Euler with Karras σ's, Heun and DPM-Solver++(2M) within
 * 1e-4 of the largest value.
 */
class DenoisingLoopTest {
  private static Path root() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
      if (Files.isRegularFile(p.resolve("test/fixtures/schedulers/cases.json"))) return p;
    throw new IllegalStateException("test/fixtures/schedulers/cases.json not found");
  }

  @Test
  void guidedLoopsMatchDiffusers() throws IOException {
    Path root = root();
    JsonNode loops = new ObjectMapper().readTree(root.resolve("test/fixtures/schedulers/cases.json").toFile()).path("loops");
    double g = loops.path("guidance").asDouble();
    try (UNet2DConditionModel unet = DiffusersFolder.load(root.resolve(loops.path("unet").asText()), UNet2DConditionModel.FAMILY);
        Tensor noise = Tensor.of(floats(loops.path("noise")), 1, 4, 8, 8);
        Tensor cond = Tensor.of(floats(loops.path("cond")), 1, 5, 6);
        Tensor uncond = Tensor.of(floats(loops.path("uncond")), 1, 5, 6)) {
      int runs = 0;
      for (JsonNode r : loops.path("runs")) {
        Scheduler s = switch (r.path("scheduler").asText()) {
          case "DDIMScheduler" -> DdimScheduler.fromConfig(r.path("config"));
          case "EulerDiscreteScheduler" -> EulerDiscreteScheduler.fromConfig(r.path("config"));
          case "HeunDiscreteScheduler" -> HeunDiscreteScheduler.fromConfig(r.path("config"));
          case "DPMSolverMultistepScheduler" -> DpmSolverMultistepScheduler.fromConfig(r.path("config"));
          default -> throw new IllegalStateException(r.path("scheduler").asText());
        };
        try (Tensor out = DenoisingLoop.run(unet, s, r.path("num_inference_steps").asInt(), noise, cond, uncond, g)) {
          float[] want = floats(r.path("final")), got = out.toFloatArray();
          double scale = 0, err = 0;
          for (int i = 0; i < want.length; i++) {
            scale = Math.max(scale, Math.abs(want[i]));
            err = Math.max(err, Math.abs(want[i] - got[i]));
          }
          assertTrue(err <= 1e-4 * scale, r.path("name").asText() + ": max difference " + err + " of " + scale);
        }
        runs++;
      }
      assertTrue(runs == 4, runs + " loops");
      Scheduler ddim = DdimScheduler.fromConfig(loops.path("runs").get(0).path("config"));
      assertThrows(InvalidArgumentException.class, () -> DenoisingLoop.run(unet, ddim, 2, noise, cond, null, 3.0));
      assertThrows(InvalidArgumentException.class, () -> DenoisingLoop.run(unet, ddim, 2, noise, cond, uncond, Double.NaN));
    }
  }

  private static float[] floats(JsonNode a) {
    float[] o = new float[a.size()];
    for (int i = 0; i < o.length; i++) o[i] = (float) a.get(i).asDouble();
    return o;
  }
}
