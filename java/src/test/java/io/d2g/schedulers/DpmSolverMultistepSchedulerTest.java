package io.d2g.schedulers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.diffusion.Prediction;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * DPM-Solver++(2M) against diffusers' DPMSolverMultistepScheduler (the fixtures of DdimSchedulerTest):
 * timesteps exactly, σ's within 1e-6 relative, and the whole trajectory of steps — first order, then
 * multistep second order from the previous step's x̂0, the final first-order step — fed diffusers'
 * inputs, within 1e-6 on diffusers' float32 table and 2e-5 on ours.
 */
class DpmSolverMultistepSchedulerTest {
  @Test
  void timestepsSigmasAndStepsMatchDiffusers() throws IOException {
    int checked = 0;
    for (JsonNode c : DdimSchedulerTest.cases()) {
      if (!c.path("scheduler").asText().equals("DPMSolverMultistepScheduler")) continue;
      String name = c.path("name").asText();
      JsonNode cfg = c.path("config");
      int n = c.path("num_inference_steps").asInt();
      DpmSolverMultistepScheduler ours = DpmSolverMultistepScheduler.fromConfig(cfg);
      DpmSolverMultistepScheduler exact = new DpmSolverMultistepScheduler(
          NoiseSchedule.ofAlphasCumprod(DdimSchedulerTest.doubles(c.path("alphas_cumprod")),
              Prediction.parse(cfg.path("prediction_type").asText())),
          TimestepSpacing.valueOf(cfg.path("timestep_spacing").asText("linspace").toUpperCase()),
          cfg.path("steps_offset").asInt(0), cfg.path("solver_order").asInt(2), cfg.path("use_karras_sigmas").asBoolean(false),
          true, false, cfg.path("final_sigmas_type").asText("zero").equals("sigma_min"));
      double[] wantT = DdimSchedulerTest.doubles(c.path("timesteps"));
      double[] wantS = DdimSchedulerTest.doubles(c.path("sigmas"));
      for (DpmSolverMultistepScheduler s : new DpmSolverMultistepScheduler[] {exact, ours}) {
        assertArrayEquals(wantT, s.setTimesteps(n), name);
        float[] sig = s.sigmas();
        double tol = s == exact ? 1e-6 : 2e-5;
        for (int i = 0; i < sig.length; i++) assertEquals(wantS[i], sig[i], tol * Math.max(1, wantS[i]), name + " sigma " + i);
      }
      long[] shape = {1, 4, 4, 4};
      for (JsonNode st : c.path("steps")) {
        double t = st.path("timestep").asDouble();
        try (Tensor x = Tensor.of(DdimSchedulerTest.floats(st.path("sample")), shape);
            Tensor eps = Tensor.of(DdimSchedulerTest.floats(st.path("model_output")), shape);
            Tensor mine = exact.step(eps, t, x); Tensor approx = ours.step(eps, t, x)) {
          float[] want = DdimSchedulerTest.floats(st.path("prev_sample"));
          DdimSchedulerTest.assertClose(want, mine.toFloatArray(), 1e-6, name + " at t=" + t + " (diffusers' table)");
          DdimSchedulerTest.assertClose(want, approx.toFloatArray(), 2e-5, name + " at t=" + t + " (our table)");
        }
        checked++;
      }
    }
    assertTrue(checked >= 45, "only " + checked + " steps checked");
  }

  @Test
  void unsupportedOptionsAreRefused() {
    ObjectMapper om = new ObjectMapper();
    for (String[] kv : new String[][] {{"algorithm_type", "sde-dpmsolver++"}, {"solver_type", "heun"},
        {"final_sigmas_type", "sigma_max"}, {"timestep_spacing", "cosine"}}) {
      assertThrows(InvalidArgumentException.class,
          () -> DpmSolverMultistepScheduler.fromConfig(om.createObjectNode().put(kv[0], kv[1])), kv[0]);
    }
    assertThrows(InvalidArgumentException.class,
        () -> DpmSolverMultistepScheduler.fromConfig(om.createObjectNode().put("solver_order", 3)));
    assertThrows(InvalidArgumentException.class,
        () -> DpmSolverMultistepScheduler.fromConfig(om.createObjectNode().put("use_lu_lambdas", true)));
    DpmSolverMultistepScheduler s = DpmSolverMultistepScheduler.fromConfig(om.createObjectNode());
    assertThrows(IllegalStateException.class, s::sigmas);
    assertThrows(InvalidArgumentException.class, () -> s.setTimesteps(1000));
  }
}
