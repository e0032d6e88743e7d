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
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class UNet2DConditionModelTest {
  private static UNet2DConditionModel loaded(Path dir) {
    UNet2DConditionModel unet = new UNet2DConditionModel(UNet2DConditionConfig.read(dir.resolve("config.json")));
    SdFixture.loadWeights(unet, dir);
    return unet;
  }

  /** unet_tiny_conv: int attention_head_dim, conv projections, 2 resnets per block, [B] int64 timesteps.
   *  unet_tiny_linear: per-block heads, linear projections, 2 transformer layers, 0-dim float timestep,
   *  a sample size that is not a multiple of the upsampling factor. */
  @ParameterizedTest
  @ValueSource(strings = {"unet_tiny_conv", "unet_tiny_linear"})
  void forwardAndFeaturesMatchDiffusers(String name) {
    Path dir = SdFixture.dir(name);
    Map<String, Tensor> io = SdFixture.io(dir);
    try (UNet2DConditionModel unet = loaded(dir); TensorScope s = new TensorScope()) {
      io.values().forEach(s::track);
      Tensor sample = io.get("sample"), t = io.get("timestep"), ehs = io.get("encoder_hidden_states");
      assertClose(s.track(unet.forward(sample, t, ehs)), io.get("out"), 1e-4, name + " out");

      assertEquals(7, unet.featureCount());
      try (UNet2DConditionModel.Output o = unet.forwardWithFeatures(sample, t, ehs)) {
        assertClose(o.sample(), io.get("out"), 1e-4, name + " out (with features)");
        assertEquals(3, o.down().size());
        assertEquals(3, o.up().size());
        for (int i = 0; i < 3; i++) {
          assertClose(o.down().get(i), io.get("feature.down." + i), 1e-4, name + " feature.down." + i);
          assertClose(o.up().get(i), io.get("feature.up." + i), 1e-4, name + " feature.up." + i);
        }
        assertClose(o.mid(), io.get("feature.mid"), 1e-4, name + " feature.mid");
        assertEquals(7, o.features().size());
      }
    }
  }

  /** The fused-kernel switch: either way the output matches the reference (on CPU both are LibTorch). */
  @Test
  void fusedKernelSwitchKeepsTheReferenceOutput() {
    Path dir = SdFixture.dir("unet_tiny_conv");
    Map<String, Tensor> io = SdFixture.io(dir);
    try (UNet2DConditionModel unet = loaded(dir); TensorScope s = new TensorScope()) {
      io.values().forEach(s::track);
      Tensor sample = io.get("sample"), t = io.get("timestep"), ehs = io.get("encoder_hidden_states");
      boolean compiled = D2g.setFusedKernels(false);
      try {
        assertClose(s.track(unet.forward(sample, t, ehs)), io.get("out"), 1e-4, "fused kernels off");
      } finally {
        assertEquals(compiled, D2g.setFusedKernels(true));
      }
      assertClose(s.track(unet.forward(sample, t, ehs)), io.get("out"), 1e-4, "fused kernels on");
      if (!D2g.cudaCompiled()) assertFalse(compiled, "a CPU-only build has no CUDA kernels");
    }
  }

  @Test
  void scalarTimestepsBroadcastOverTheBatch() {
    Path dir = SdFixture.dir("unet_tiny_conv");
    Map<String, Tensor> io = SdFixture.io(dir);
    try (UNet2DConditionModel unet = loaded(dir); TensorScope s = new TensorScope()) {
      io.values().forEach(s::track);
      Tensor sample = io.get("sample"), ehs = io.get("encoder_hidden_states");
      // the same timestep as a [B] tensor, a [1] tensor, a 0-dim f32 tensor and a long
      Tensor perSample = s.track(unet.forward(sample, s.track(Tensor.of(new long[] {500, 500})), ehs));
      Tensor one = s.track(unet.forward(sample, 500L, ehs));
      Tensor scalar = s.track(unet.forward(sample, s.track(Tensor.of(new float[] {500f}).reshape()), ehs));
      assertArrayEquals(perSample.toFloatArray(), one.toFloatArray(), 1e-6f);
      assertArrayEquals(perSample.toFloatArray(), scalar.toFloatArray(), 1e-6f);
      // and the timestep matters
      Tensor other = s.track(unet.forward(sample, 10L, ehs));
      assertTrue(SdFixture.relativeError(other, perSample) > 1e-3);
    }
  }

  @Test
  void stateNamesAreTheDiffusersKeys() {
    for (String name : List.of("unet_tiny_conv", "unet_tiny_linear")) {
      Path dir = SdFixture.dir(name);
      try (UNet2DConditionModel unet = new UNet2DConditionModel(UNet2DConditionConfig.read(dir.resolve("config.json")));
          SafetensorsFile f = Safetensors.open(dir.resolve("diffusion_pytorch_model.safetensors"))) {
        assertEquals(new TreeSet<>(f.names()), new TreeSet<>(unet.stateNames()), name);
      }
    }
  }

  @Test
  void badInputsAreClearErrors() {
    Path dir = SdFixture.dir("unet_tiny_conv");
    try (UNet2DConditionModel unet = loaded(dir); TensorScope s = new TensorScope()) {
      Tensor sample = s.track(Tensor.randn(DType.F32, Device.CPU, 2, 4, 8, 8));
      Tensor ehs = s.track(Tensor.randn(DType.F32, Device.CPU, 2, 5, 6));
      Tensor t = s.track(Tensor.of(new long[] {1, 2}));
      unet.forward(sample, t, ehs).close();

      var e = assertThrows(InvalidArgumentException.class,
          () -> unet.forward(s.track(Tensor.randn(DType.F32, Device.CPU, 2, 3, 8, 8)), t, ehs));
      assertTrue(e.getMessage().contains("expected [batch, 4 (in_channels), height, width]"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class,
          () -> unet.forward(sample, t, s.track(Tensor.randn(DType.F32, Device.CPU, 2, 5, 7))));
      assertTrue(e.getMessage().contains("6 (cross_attention_dim)"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class,
          () -> unet.forward(sample, t, s.track(Tensor.randn(DType.F32, Device.CPU, 1, 5, 6))));
      assertTrue(e.getMessage().contains("the sample's batch"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class,
          () -> unet.forward(sample, s.track(Tensor.of(new long[] {1, 2, 3})), ehs));
      assertTrue(e.getMessage().contains("timestep is Long[3] on cpu, expected a 0-dim tensor, [1] or [2]"), e.getMessage());
      e = assertThrows(InvalidArgumentException.class,
          () -> unet.forward(s.track(Tensor.randn(DType.F64, Device.CPU, 2, 4, 8, 8)), t, ehs));
      assertTrue(e.getMessage().contains("module's weights are Float"), e.getMessage());
    }
  }

  @Test
  void badCheckpointsAreReportedTogether() {
    Path dir = SdFixture.dir("unet_tiny_linear");
    try (UNet2DConditionModel unet = new UNet2DConditionModel(UNet2DConditionConfig.read(dir.resolve("config.json")));
        SafetensorsFile f = Safetensors.open(dir.resolve("diffusion_pytorch_model.safetensors"));
        TensorScope s = new TensorScope()) {
      Map<String, Tensor> state = new LinkedHashMap<>(f.tensors());
      state.values().forEach(s::track);
      String attn = "down_blocks.0.attentions.0.transformer_blocks.1.attn2.to_k.weight";
      assertNotNull(state.remove(attn));
      // a conv-shaped proj_in in a linear-projection checkpoint
      state.put("down_blocks.0.attentions.0.proj_in.weight", s.track(Tensor.of(new float[16], 4, 4, 1, 1)));
      var e = assertThrows(InvalidArgumentException.class, () -> unet.loadState(state, true));
      assertTrue(e.getMessage().contains("missing keys (1): " + attn), e.getMessage());
      assertTrue(e.getMessage().contains("shape mismatches (1): down_blocks.0.attentions.0.proj_in.weight"), e.getMessage());
    }
  }

  @Test
  void badConfigsAreClearErrors() {
    Path json = SdFixture.dir("unet_tiny_conv").resolve("config.json");
    Map<String, Object> bad = new LinkedHashMap<>();
    bad.put("down_block_types", new String[] {"CrossAttnDownBlock2D", "AttnDownBlock2D", "DownBlock2D"});
    bad.put("mid_block_type", "UNetMidBlock2DSimpleCrossAttn");
    bad.put("addition_embed_type", "text_time");
    bad.put("attention_head_dim", new int[] {2, 2});
    bad.put("norm_num_groups", 3);
    Map<String, String> expected = Map.of(
        "down_block_types", "down block type 'AttnDownBlock2D' is not supported",
        "mid_block_type", "mid_block_type 'UNetMidBlock2DSimpleCrossAttn' is not supported",
        "addition_embed_type", "config key 'addition_embed_type' (= text_time) is not supported",
        "attention_head_dim", "'attention_head_dim' has 2 values, expected 1 or 3",
        "norm_num_groups", "cannot be split into 3 groups");
    var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
    var base = assertDoesNotThrow(() -> (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(
        java.nio.file.Files.readString(json)));
    bad.forEach((key, value) -> {
      var c = base.deepCopy().set(key, mapper.valueToTree(value));
      var e = assertThrows(InvalidArgumentException.class,
          () -> new UNet2DConditionModel(UNet2DConditionConfig.fromJson(c)).close(), key);
      assertTrue(e.getMessage().contains(expected.get(key)), e.getMessage());
    });
  }
}
