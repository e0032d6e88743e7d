package io.d2g.models;

import static io.d2g.models.SdFixture.assertClose;
import static org.junit.jupiter.api.Assertions.*;

import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class AutoencoderKLTest {
  private static final Path DIR = SdFixture.dir("vae_tiny");

  private static AutoencoderKL loaded() {
    AutoencoderKL vae = new AutoencoderKL(AutoencoderKLConfig.read(DIR.resolve("config.json")));
    SdFixture.loadWeights(vae, DIR);
    return vae;
  }

  @Test
  void encodeAndDecodeMatchDiffusers() {
    Map<String, Tensor> io = SdFixture.io(DIR);
    try (AutoencoderKL vae = loaded(); TensorScope s = new TensorScope()) {
      io.values().forEach(s::track);
      AutoencoderKL.Posterior p = vae.encode(io.get("x"));
      s.track(p.mean());
      s.track(p.logvar());
      assertClose(p.mean(), io.get("mean"), 1e-4, "vae_tiny mean");
      assertClose(p.logvar(), io.get("logvar"), 1e-4, "vae_tiny logvar");
      assertSame(p.mean(), p.mode());
      assertClose(s.track(vae.decode(io.get("z"))), io.get("decoded"), 1e-4, "vae_tiny decoded");
    }
  }

  @Test
  void stateNamesAreTheDiffusersKeys() {
    try (AutoencoderKL vae = new AutoencoderKL(AutoencoderKLConfig.read(DIR.resolve("config.json")));
        SafetensorsFile f = Safetensors.open(DIR.resolve("diffusion_pytorch_model.safetensors"))) {
      assertEquals(new TreeSet<>(f.names()), new TreeSet<>(vae.stateNames()));
      assertTrue(vae.stateNames().contains("encoder.mid_block.attentions.0.to_out.0.weight"));
      assertEquals(0.18215, vae.scalingFactor(), 1e-12);
    }
  }

  @Test
  void legacyAttentionKeysAreRenamed() {
    Map<String, Tensor> io = SdFixture.io(DIR);
    try (AutoencoderKL vae = new AutoencoderKL(AutoencoderKLConfig.read(DIR.resolve("config.json")));
        SafetensorsFile f = Safetensors.open(DIR.resolve("diffusion_pytorch_model.safetensors"));
        TensorScope s = new TensorScope()) {
      io.values().forEach(s::track);
      Map<String, Tensor> legacy = new LinkedHashMap<>();
      for (var e : f.tensors().entrySet()) {
        String k = e.getKey().replace(".attentions.0.to_q.", ".attentions.0.query.")
            .replace(".attentions.0.to_k.", ".attentions.0.key.")
            .replace(".attentions.0.to_v.", ".attentions.0.value.")
            .replace(".attentions.0.to_out.0.", ".attentions.0.proj_attn.");
        legacy.put(k, s.track(e.getValue()));
      }
      assertTrue(legacy.containsKey("decoder.mid_block.attentions.0.proj_attn.bias"));
      assertThrows(InvalidArgumentException.class, () -> vae.loadState(legacy, true));
      vae.loadState(AutoencoderKL.renameLegacyKeys(legacy), true);
      vae.eval();
      assertClose(s.track(vae.decode(io.get("z"))), io.get("decoded"), 1e-4, "vae_tiny decoded (legacy keys)");
    }
  }

  @Test
  void sampleDrawsFromThePosterior() {
    try (TensorScope s = new TensorScope()) {
      int n = 20000;
      D2g.manualSeed(7);
      Tensor mean = s.track(Tensor.of(new float[n], 2, n / 2));
      Tensor logvar = s.track(Tensor.of(filled(n, (float) Math.log(4.0)), 2, n / 2));
      AutoencoderKL.Posterior p = new AutoencoderKL.Posterior(mean, logvar);
      float[] x = s.track(p.sample()).toFloatArray();
      double m = 0, v = 0;
      for (float f : x) m += f;
      m /= n;
      for (float f : x) v += (f - m) * (f - m);
      double std = Math.sqrt(v / (n - 1));
      assertEquals(0.0, m, 0.05, "sample mean");
      assertEquals(2.0, std, 0.05, "sample std (exp(log 4 / 2) = 2)");
      // a narrow posterior gives back its mean
      Tensor narrow = s.track(Tensor.of(filled(n, -30f), 2, n / 2));
      Tensor five = s.track(Tensor.of(filled(n, 5f), 2, n / 2));
      for (float f : s.track(new AutoencoderKL.Posterior(five, narrow).sample()).toFloatArray()) assertEquals(5f, f, 1e-4f);
      // seeded: the same seed gives the same sample
      D2g.manualSeed(11);
      float[] a = s.track(p.sample()).toFloatArray();
      D2g.manualSeed(11);
      assertArrayEquals(a, s.track(p.sample()).toFloatArray());
      var e = assertThrows(InvalidArgumentException.class,
          () -> new AutoencoderKL.Posterior(mean, s.track(Tensor.of(new float[4], 2, 2))).sample());
      assertTrue(e.getMessage().contains("same shape"), e.getMessage());
    }
  }

  @Test
  void badInputsAreClearErrors() {
    try (AutoencoderKL vae = loaded(); TensorScope s = new TensorScope()) {
      var e = assertThrows(InvalidArgumentException.class,
          () -> vae.encode(s.track(Tensor.randn(DType.F32, Device.CPU, 1, 4, 16, 16))));
      assertTrue(e.getMessage().contains("3 (in_channels)"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class, () -> vae.encode(s.track(Tensor.randn(DType.F32, Device.CPU, 3, 16, 16))));
      assertTrue(e.getMessage().contains("expected [batch, 3 (in_channels), height, width]"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class,
          () -> vae.decode(s.track(Tensor.randn(DType.F64, Device.CPU, 1, 4, 8, 8))));
      assertTrue(e.getMessage().contains("module's weights are Float"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class, () -> vae.decode(s.track(Tensor.randn(DType.F32, Device.CPU, 1, 3, 8, 8))));
      assertTrue(e.getMessage().contains("4 (latent_channels)"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class, () -> vae.decode(s.track(Tensor.of(new long[16], 1, 4, 2, 2))));
      assertTrue(e.getMessage().contains("floating"), e.getMessage());
    }
  }

  @Test
  void badCheckpointsAreReportedTogether() {
    try (AutoencoderKL vae = new AutoencoderKL(AutoencoderKLConfig.read(DIR.resolve("config.json")));
        SafetensorsFile f = Safetensors.open(DIR.resolve("diffusion_pytorch_model.safetensors"));
        TensorScope s = new TensorScope()) {
      Map<String, Tensor> state = new LinkedHashMap<>(f.tensors());
      state.values().forEach(s::track);
      state.remove("decoder.conv_out.bias");
      state.put("encoder.conv_in.weight", s.track(Tensor.of(new float[8 * 3 * 3], 8, 3, 3, 1)));
      var e = assertThrows(InvalidArgumentException.class, () -> vae.loadState(state, true));
      assertTrue(e.getMessage().contains("missing keys (1): decoder.conv_out.bias"), e.getMessage());
      assertTrue(e.getMessage().contains("shape mismatches (1): encoder.conv_in.weight"), e.getMessage());
    }
  }

  @Test
  void badConfigsAreClearErrors() throws Exception {
    var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
    var base = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(Files.readString(DIR.resolve("config.json")));
    Map<String, Object> bad = new java.util.LinkedHashMap<>();
    bad.put("down_block_types", List.of("DownEncoderBlock2D", "AttnDownEncoderBlock2D"));
    bad.put("norm_num_groups", 3);
    bad.put("block_out_channels", List.of(8));
    bad.put("act_fn", "tanh");
    bad.put("layers_per_block", 1 << 30);
    Map<String, String> expected = Map.of(
        "down_block_types", "down block type 'AttnDownEncoderBlock2D' is not supported",
        "norm_num_groups", "cannot be split into 3 groups",
        "block_out_channels", "must have the same length",
        "act_fn", "unknown activation 'tanh'",
        "layers_per_block", "'layers_per_block' must be 1 to 64");
    bad.forEach((key, value) -> {
      var json = base.deepCopy().set(key, mapper.valueToTree(value));
      var e = assertThrows(InvalidArgumentException.class,
          () -> new AutoencoderKL(AutoencoderKLConfig.fromJson(json)).close(), key);
      assertTrue(e.getMessage().contains(expected.get(key)), e.getMessage());
    });
  }

  private static float[] filled(int n, float v) {
    float[] a = new float[n];
    java.util.Arrays.fill(a, v);
    return a;
  }
}
