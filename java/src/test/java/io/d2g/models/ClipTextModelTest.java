package io.d2g.models;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.DType;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.io.Fixtures;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Against transformers' CLIPTextModel on tiny random models (test/fixtures/sd/clip_tiny*). */
public class ClipTextModelTest {
  /** max |got - want| / max |want|. */
  public static double relError(Tensor got, Tensor want) {
    assertArrayEquals(want.shape(), got.shape());
    float[] g = got.toFloatArray(), w = want.toFloatArray();
    double maxDiff = 0, maxRef = 0;
    for (int i = 0; i < g.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(g[i] - w[i]));
      maxRef = Math.max(maxRef, Math.abs(w[i]));
    }
    assertTrue(maxRef > 0.1, "reference is (nearly) zero; the check would be meaningless");
    return maxDiff / maxRef;
  }

  static ClipTextModel load(Path dir) {
    ClipTextModel m = new ClipTextModel(ClipTextConfig.read(dir.resolve("config.json")));
    try (SafetensorsFile f = Safetensors.open(dir.resolve("model.safetensors")); TensorScope s = new TensorScope()) {
      Map<String, Tensor> state = f.tensors();
      state.values().forEach(s::track);
      m.loadState(state, true);
    }
    m.eval();
    return m;
  }

  @ParameterizedTest
  @ValueSource(strings = {"clip_tiny", "clip_tiny_gelu"})
  void matchesTheReference(String name) {
    Path dir = Fixtures.path("sd", name);
    try (ClipTextModel m = load(dir); SafetensorsFile io = Safetensors.open(dir.resolve("io.safetensors"));
        TensorScope s = new TensorScope()) {
      Tensor ids = s.track(io.tensor("input_ids"));
      Map<String, double[]> errors = new LinkedHashMap<>();
      var all = m.forward(ids, -1, true, true);
      s.track(all.hidden());
      s.track(all.pooled());
      double last = relError(all.hidden(), s.track(io.tensor("last_hidden_state")));
      double pooled = relError(all.pooled(), s.track(io.tensor("pooled")));
      double penRaw = relError(s.track(m.forward(ids, -2, false, false).hidden()), s.track(io.tensor("penultimate_raw")));
      double penNorm = relError(s.track(m.promptEmbeds(ids, 1)), s.track(io.tensor("penultimate_final_norm")));
      double emb = relError(s.track(m.forward(ids, 0, false, false).hidden()), s.track(io.tensor("embeddings_raw")));
      double last2 = relError(s.track(m.lastHiddenState(ids)), s.track(io.tensor("last_hidden_state")));
      double pooled2 = relError(s.track(m.pooled(ids)), s.track(io.tensor("pooled")));
      String report = name + ": last " + last + ", pooled " + pooled + ", penultimate raw " + penRaw
          + ", penultimate+final norm " + penNorm + ", embeddings " + emb;
      org.slf4j.LoggerFactory.getLogger(ClipTextModelTest.class).info(report);
      for (double e : new double[] {last, pooled, penRaw, penNorm, emb, last2, pooled2}) assertTrue(e <= 1e-4, report);
    }
  }

  @Test
  void stateNamesAreTheCheckpointKeysAndBothLayoutsLoad() {
    Path dir = Fixtures.path("sd", "clip_tiny");
    try (ClipTextModel m = new ClipTextModel(ClipTextConfig.read(dir.resolve("config.json")));
        SafetensorsFile f = Safetensors.open(dir.resolve("model.safetensors")); TensorScope s = new TensorScope()) {
      List<String> names = m.stateNames();
      assertEquals("text_model.embeddings.token_embedding.weight", names.get(0));
      assertTrue(names.contains("text_model.encoder.layers.2.self_attn.out_proj.bias"));
      assertTrue(names.contains("text_model.final_layer_norm.weight"));
      assertFalse(names.contains(ClipTextModel.POSITION_IDS)); // non-persistent in transformers
      // The fixture (transformers 5) has no prefix; every key maps onto ours one to one.
      assertEquals(names.size(), f.names().size());
      Map<String, Tensor> prefixed = new LinkedHashMap<>();
      for (String k : f.names()) prefixed.put("text_model." + k, s.track(f.tensor(k)));
      // transformers 4.x layout with the old position_ids buffer: loads too
      prefixed.put(ClipTextModel.POSITION_IDS, s.track(Tensor.of(new long[16], 1, 16)));
      m.loadState(prefixed, true);
      // a missing and a misshaped weight are reported together
      prefixed.remove("text_model.final_layer_norm.bias");
      prefixed.put("text_model.final_layer_norm.weight", s.track(Tensor.of(new float[3])));
      var e = assertThrows(InvalidArgumentException.class, () -> m.loadState(prefixed, true));
      assertTrue(e.getMessage().contains("missing keys (1): text_model.final_layer_norm.bias"), e.getMessage());
      assertTrue(e.getMessage().contains("shape mismatches (1): text_model.final_layer_norm.weight"), e.getMessage());
    }
  }

  @Test
  void badInputsAreClearErrors() {
    try (ClipTextModel m = load(Fixtures.path("sd", "clip_tiny_gelu")); TensorScope s = new TensorScope()) {
      var tooLong = assertThrows(InvalidArgumentException.class, () -> m.lastHiddenState(s.track(Tensor.of(new long[13], 1, 13))));
      assertTrue(tooLong.getMessage().contains("more than max_position_embeddings 12"), tooLong.getMessage());
      var range = assertThrows(InvalidArgumentException.class, () -> m.lastHiddenState(s.track(Tensor.of(new long[] {1, 100}, 1, 2))));
      assertTrue(range.getMessage().contains("outside the vocabulary 0..99"), range.getMessage());
      var dtype = assertThrows(InvalidArgumentException.class, () -> m.lastHiddenState(s.track(Tensor.of(new float[2], 1, 2))));
      assertTrue(dtype.getMessage().contains("must be i64"), dtype.getMessage());
      var layer = assertThrows(InvalidArgumentException.class, () -> m.forward(s.track(Tensor.of(new long[2], 1, 2)), 3, true, false));
      assertTrue(layer.getMessage().contains("hidden_layer 3 is out of range for 2 layers"), layer.getMessage());
      assertThrows(InvalidArgumentException.class, () -> m.forward(s.track(Tensor.of(new long[2], 1, 2)), -4, true, false));
      // i32 ids work like i64
      Tensor a = s.track(m.lastHiddenState(s.track(Tensor.of(new int[] {49, 7, 50}, 1, 3))));
      Tensor b = s.track(m.lastHiddenState(s.track(Tensor.of(new long[] {49, 7, 50}, 1, 3))));
      assertArrayEquals(b.toFloatArray(), a.toFloatArray());
      // f64 module: same function, more precision
      m.to(io.d2g.Device.CPU, DType.F64);
      assertEquals(DType.F64, s.track(m.lastHiddenState(s.track(Tensor.of(new long[] {49, 7, 50}, 1, 3)))).dtype());
    }
    var cfg = assertThrows(InvalidArgumentException.class,
        () -> new ClipTextModel(ClipTextConfig.of(Map.of("hidden_size", 30, "num_attention_heads", 4))));
    assertTrue(cfg.getMessage().contains("not divisible"), cfg.getMessage());
    var act = assertThrows(InvalidArgumentException.class,
        () -> new ClipTextModel(ClipTextConfig.of(Map.of("hidden_size", 8, "num_attention_heads", 2, "hidden_act", "swish"))));
    assertTrue(act.getMessage().contains("hidden_act 'swish'"), act.getMessage());
  }
}
