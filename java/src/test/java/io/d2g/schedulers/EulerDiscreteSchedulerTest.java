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
 * Euler against diffusers' EulerDiscreteScheduler (the fixtures of DdimSchedulerTest): timesteps
 * (Karras's fractional ones within 1e-3), σ's and the initial noise scale within 1e-6 relative, and
 * every step — the scaled input and the output — within 1e-6 on diffusers' float32 table, 2e-5 on ours.
 */
class EulerDiscreteSchedulerTest {
  @Test
  void timestepsSigmasAndStepsMatchDiffusers() throws IOException {
    int checked = 0;
    for (JsonNode c : DdimSchedulerTest.cases()) {
      if (!c.path("scheduler").asText().equals("EulerDiscreteScheduler")) continue;
      String name = c.path("name").asText();
      JsonNode cfg = c.path("config");
      int n = c.path("num_inference_steps").asInt();
      EulerDiscreteScheduler ours = EulerDiscreteScheduler.fromConfig(cfg);
      EulerDiscreteScheduler exact = new EulerDiscreteScheduler(
          NoiseSchedule.ofAlphasCumprod(array(c.path("alphas_cumprod")), Prediction.parse(cfg.path("prediction_type").asText())),
          TimestepSpacing.valueOf(cfg.path("timestep_spacing").asText("linspace").toUpperCase()),
          cfg.path("steps_offset").asInt(0), cfg.path("use_karras_sigmas").asBoolean(false),
          cfg.path("final_sigmas_type").asText("zero").equals("sigma_min"));
      double[] wantT = array(c.path("timesteps")), wantS = array(c.path("sigmas"));
      for (EulerDiscreteScheduler s : new EulerDiscreteScheduler[] {exact, ours}) {
        double[] t = s.setTimesteps(n);
        float[] sig = s.sigmas();
        for (int i = 0; i < n; i++) assertEquals(wantT[i], t[i], 1e-3, name + " timestep " + i);
        double tol = s == exact ? 1e-6 : 2e-5;
        for (int i = 0; i <= n; i++) assertEquals(wantS[i], sig[i], tol * Math.max(1, wantS[i]), name + " sigma " + i);
        assertEquals(c.path("init_noise_sigma").asDouble(), s.initNoiseSigma(), tol * c.path("init_noise_sigma").asDouble(), name);
      }
      long[] shape = {1, 4, 4, 4};
      for (JsonNode st : c.path("steps")) {
        double t = st.path("timestep").asDouble();
        try (Tensor x = Tensor.of(floats(st.path("sample")), shape); Tensor eps = Tensor.of(floats(st.path("model_output")), shape);
            Tensor mine = exact.step(eps, t, x); Tensor approx = ours.step(eps, t, x)) {
          String where = name + " at t=" + t;
          DdimSchedulerTest.assertClose(floats(st.path("prev_sample")), mine.toFloatArray(), 1e-6, where + " (diffusers' table)");
          DdimSchedulerTest.assertClose(floats(st.path("prev_sample")), approx.toFloatArray(), 2e-5, where + " (our table)");
        }
        checked++;
      }
    }
    assertTrue(checked >= 25, "only " + checked + " steps checked");
  }

  @Test
  void unsupportedOptionsAndMisuseAreRefused() {
    ObjectMapper om = new ObjectMapper();
    for (String[] kv : new String[][] {{"use_beta_sigmas", "true"}, {"interpolation_type", "log_linear"},
        {"timestep_type", "continuous"}, {"final_sigmas_type", "sigma_max"}, {"timestep_spacing", "cosine"}}) {
      var cfg = om.createObjectNode();
      if (kv[1].equals("true")) cfg.put(kv[0], true);
      else cfg.put(kv[0], kv[1]);
      assertThrows(InvalidArgumentException.class, () -> EulerDiscreteScheduler.fromConfig(cfg), kv[0]);
    }
    EulerDiscreteScheduler s = EulerDiscreteScheduler.fromConfig(om.createObjectNode());
    assertThrows(IllegalStateException.class, s::initNoiseSigma);
    s.setTimesteps(4);
    try (Tensor x = Tensor.of(new float[4], 4)) {
      assertThrows(InvalidArgumentException.class, () -> s.step(x, 123.5, x));
    }
  }

  private static double[] array(JsonNode a) {
    double[] o = new double[a.size()];
    for (int i = 0; i < o.length; i++) o[i] = a.get(i).asDouble();
    return o;
  }

  private static float[] floats(JsonNode a) {
    float[] o = new float[a.size()];
    for (int i = 0; i < o.length; i++) o[i] = (float) a.get(i).asDouble();
    return o;
  }
}
