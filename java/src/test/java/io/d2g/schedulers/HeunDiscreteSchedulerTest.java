package io.d2g.schedulers;

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
 * Heun against diffusers' HeunDiscreteScheduler (the fixtures of DdimSchedulerTest): the 2n − 1 call
 * timesteps, σ's, initial noise scale, and every stage's output (first and second order alternating)
 * within 1e-6 on diffusers' float32 table and 2e-5 on ours, each scheduler fed diffusers' inputs.
 */
class HeunDiscreteSchedulerTest {
  @Test
  void everyStageMatchesDiffusers() throws IOException {
    int checked = 0;
    for (JsonNode c : DdimSchedulerTest.cases()) {
      if (!c.path("scheduler").asText().equals("HeunDiscreteScheduler")) continue;
      String name = c.path("name").asText();
      JsonNode cfg = c.path("config");
      int n = c.path("num_inference_steps").asInt();
      HeunDiscreteScheduler ours = HeunDiscreteScheduler.fromConfig(cfg);
      HeunDiscreteScheduler exact = new HeunDiscreteScheduler(
          NoiseSchedule.ofAlphasCumprod(DdimSchedulerTest.doubles(c.path("alphas_cumprod")),
              Prediction.parse(cfg.path("prediction_type").asText())),
          TimestepSpacing.valueOf(cfg.path("timestep_spacing").asText("linspace").toUpperCase()),
          cfg.path("steps_offset").asInt(0), cfg.path("use_karras_sigmas").asBoolean(false));
      double[] wantT = DdimSchedulerTest.doubles(c.path("timesteps")), wantS = DdimSchedulerTest.doubles(c.path("sigmas"));
      for (HeunDiscreteScheduler s : new HeunDiscreteScheduler[] {exact, ours}) {
        double[] t = s.setTimesteps(n);
        assertEquals(wantT.length, t.length, name);
        for (int i = 0; i < t.length; i++) assertEquals(wantT[i], t[i], 1e-3, name + " timestep " + i);
        float[] sig = s.sigmas();
        double tol = s == exact ? 1e-6 : 2e-5;
        for (int i = 0; i < sig.length; i++) assertEquals(wantS[i], sig[i], tol * Math.max(1, wantS[i]), name + " sigma " + i);
        assertEquals(c.path("init_noise_sigma").asDouble(), s.initNoiseSigma(), tol * c.path("init_noise_sigma").asDouble());
      }
      long[] shape = {1, 4, 4, 4};
      for (JsonNode st : c.path("steps")) {
        double t = st.path("timestep").asDouble();
        try (Tensor x = Tensor.of(DdimSchedulerTest.floats(st.path("sample")), shape);
            Tensor eps = Tensor.of(DdimSchedulerTest.floats(st.path("model_output")), shape);
            Tensor mine = exact.step(eps, t, x); Tensor approx = ours.step(eps, t, x)) {
          float[] want = DdimSchedulerTest.floats(st.path("prev_sample"));
          DdimSchedulerTest.assertClose(want, mine.toFloatArray(), 1e-6, name + " call " + checked + " (diffusers' table)");
          DdimSchedulerTest.assertClose(want, approx.toFloatArray(), 2e-5, name + " call " + checked + " (our table)");
        }
        checked++;
      }
    }
    assertTrue(checked >= 15, "only " + checked + " calls checked");
  }

  @Test
  void misuseIsRefused() {
    ObjectMapper om = new ObjectMapper();
    assertThrows(InvalidArgumentException.class, () -> HeunDiscreteScheduler.fromConfig(om.createObjectNode().put("clip_sample", true)));
    HeunDiscreteScheduler s = HeunDiscreteScheduler.fromConfig(om.createObjectNode());
    assertThrows(IllegalStateException.class, s::sigmas);
    assertThrows(InvalidArgumentException.class, () -> s.setTimesteps(0));
  }
}
