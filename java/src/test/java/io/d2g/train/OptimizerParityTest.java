package io.d2g.train;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.Autograd;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * AdamW and SGD steps, parameter groups, per-step learning rates and gradient clipping against
 * torch.optim's trajectories (test/fixtures/train/optim, scripts/fixtures/make_optim_fixtures.py):
 * every parameter after every step, the clipping norm, and the final optimizer state, ≤ 1e-6
 * relative. Gradients are set through autograd: backward of sum(p * g) gives p exactly g.
 */
class OptimizerParityTest {
  private static final double TOLERANCE = 1e-6;

  private static Path dir() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path d = p.resolve("test/fixtures/train/optim");
      if (Files.isDirectory(d)) return d;
    }
    throw new IllegalStateException("test/fixtures/train/optim not found");
  }

  @ParameterizedTest
  @ValueSource(strings = {"adamw", "adamw_clip", "sgd", "sgd_plain"})
  void trajectoryMatchesTorchOptim(String name) throws Exception {
    JsonNode all = new ObjectMapper().readTree(dir().resolve("cases.json").toFile());
    JsonNode c = null;
    for (JsonNode k : all.get("cases")) if (k.get("name").asText().equals(name)) c = k;
    assertNotNull(c);
    int steps = all.get("K").asInt();
    JsonNode groups = c.get("groups");
    JsonNode g0 = groups.get(0);
    JsonNode h = c.get("hyper");
    OptimizerConfig config = c.get("optimizer").asText().equals("AdamW")
        ? new OptimizerConfig.AdamW(g0.get("lr_base").asDouble(), h.get("betas").get(0).asDouble(),
            h.get("betas").get(1).asDouble(), h.get("eps").asDouble(), g0.get("weight_decay").asDouble())
        : new OptimizerConfig.Sgd(g0.get("lr_base").asDouble(), h.get("momentum").asDouble(),
            h.get("dampening").asDouble(), h.get("nesterov").asBoolean(), g0.get("weight_decay").asDouble());
    ParamGroup[] rules = new ParamGroup[groups.size() - 1];
    for (int g = 1; g < groups.size(); g++) {
      Set<String> members = new HashSet<>();
      groups.get(g).get("params").forEach(p -> members.add(p.asText()));
      rules[g - 1] = new ParamGroup("group" + g, members::contains, groups.get(g).get("lr_base").asDouble(),
          groups.get(g).get("weight_decay").asDouble());
    }
    List<String> names = List.of("p0", "p1", "p2");
    try (SafetensorsFile f = Safetensors.open(dir().resolve(c.get("file").asText())); TensorScope s = new TensorScope()) {
      Map<String, Tensor> ref = f.tensors();
      ref.values().forEach(s::track);
      Map<String, Tensor> params = new LinkedHashMap<>();
      for (String p : names) params.put(p, s.track(ref.get("init." + p).detach()).requiresGrad(true));
      try (Optimizer opt = Optimizer.create(config, params, rules)) {
        assertEquals(names, opt.parameterNames());
        for (int k = 0; k < steps; k++) {
          opt.zeroGrad();
          try (var rec = Autograd.record()) {
            for (String p : names) s.track(s.track(params.get(p).mul(ref.get("grad." + k + "." + p))).sum()).backward();
          }
          if (!c.get("clip").isNull()) {
            double total = opt.clipGradNorm(c.get("clip").get("max_norm").asDouble());
            assertEquals(ref.get("total_norm." + k).item(), total, 1e-6 * total, "clip norm at step " + k);
          }
          for (int g = 0; g < groups.size(); g++) opt.setLr(g, groups.get(g).get("lr").get(k).asDouble());
          opt.step();
          for (String p : names) assertClose(params.get(p), ref.get("param." + k + "." + p), name + " " + p + " after step " + k);
        }
        Map<String, Tensor> state = opt.state();
        state.values().forEach(s::track);
        int checked = 0;
        for (String key : ref.keySet()) {
          if (!key.startsWith("state.")) continue;
          String[] parts = key.split("\\.");
          String ours = parts[1] + "." + names.indexOf(parts[2]);
          assertTrue(state.containsKey(ours), name + ": no state " + ours + " (have " + state.keySet() + ")");
          assertClose(state.get(ours), ref.get(key), name + " " + key);
          checked++;
        }
        assertEquals(checked, state.size(), name + ": state entries " + state.keySet());
      }
    }
  }

  @Test
  void stateRoundTripsAndContinuesIdentically() {
    try (TensorScope s = new TensorScope()) {
      Tensor a = s.track(Tensor.of(new float[] {1, -2, 3}, 3)).requiresGrad(true);
      Tensor b = s.track(Tensor.of(new float[] {1, -2, 3}, 3)).requiresGrad(true);
      Tensor g = s.track(Tensor.of(new float[] {0.5f, 0.25f, -1}, 3));
      try (Optimizer first = Optimizer.create(OptimizerConfig.AdamW.lr(0.1), Map.of("x", a));
          Optimizer second = Optimizer.create(OptimizerConfig.AdamW.lr(0.1), Map.of("x", b))) {
        for (int i = 0; i < 3; i++) {
          stepWith(first, a, g, s);
          stepWith(second, b, g, s);
        }
        // a third optimizer takes over b's run from its state: the next steps are identical
        Map<String, Tensor> state = second.state();
        state.values().forEach(s::track);
        try (Optimizer resumed = Optimizer.create(OptimizerConfig.AdamW.lr(0.1), Map.of("x", b))) {
          resumed.loadState(state);
          for (int i = 0; i < 2; i++) {
            stepWith(first, a, g, s);
            stepWith(resumed, b, g, s);
          }
        }
        assertArrayEquals(a.toFloatArray(), b.toFloatArray());
        Map<String, Tensor> bad = Map.of("exp_avg.7", g);
        assertThrows(InvalidArgumentException.class, () -> first.loadState(bad));
        assertThrows(InvalidArgumentException.class, () -> first.loadState(Map.of("exp_avg.0", g)),
            "exp_avg without exp_avg_sq and step");
      }
    }
  }

  @Test
  void badSettingsAreRefused() {
    try (TensorScope s = new TensorScope()) {
      Tensor frozen = s.track(Tensor.of(new float[] {1}, 1));
      assertThrows(InvalidArgumentException.class, () -> Optimizer.create(OptimizerConfig.Sgd.lr(0.1), Map.of("x", frozen)));
      assertThrows(InvalidArgumentException.class, () -> OptimizerConfig.AdamW.lr(-1));
      assertThrows(InvalidArgumentException.class, () -> OptimizerConfig.AdamW.lr(1).withBetas(1, 0.9));
      assertThrows(InvalidArgumentException.class, () -> OptimizerConfig.Sgd.lr(1).withMomentum(0, true));
      Tensor x = s.track(Tensor.of(new float[] {1}, 1)).requiresGrad(true);
      try (Optimizer opt = Optimizer.create(OptimizerConfig.Sgd.lr(0.1), Map.of("x", x))) {
        assertThrows(InvalidArgumentException.class, () -> opt.clipGradNorm(0));
        assertThrows(InvalidArgumentException.class, () -> opt.setLr(3, 0.1));
        assertThrows(InvalidArgumentException.class, () -> opt.setLrFactor(Double.NaN));
        opt.step(); // no gradient: nothing moves
        assertArrayEquals(new float[] {1}, x.toFloatArray());
      }
    }
  }

  private static void stepWith(Optimizer opt, Tensor p, Tensor g, TensorScope s) {
    opt.zeroGrad();
    try (var rec = Autograd.record()) {
      s.track(s.track(p.mul(g)).sum()).backward();
    }
    opt.step();
  }

  private static void assertClose(Tensor actual, Tensor expected, String what) {
    assertArrayEquals(expected.shape(), actual.shape(), what);
    float[] a = actual.toFloatArray(), e = expected.toFloatArray();
    double diff = 0, norm = 0;
    for (int i = 0; i < a.length; i++) {
      diff += Math.pow((double) a[i] - e[i], 2);
      norm += (double) e[i] * e[i];
    }
    double err = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
    assertTrue(err <= TOLERANCE, what + ": relative error " + err);
  }
}
