package io.d2g.nn;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NativeModuleTest {
  @Test
  void stateLoadsAndForwardUsesIt() {
    try (Linear lin = new Linear(3, 2, true); TensorScope s = new TensorScope()) {
      assertEquals(List.of("weight", "bias"), lin.stateNames());
      Map<String, Tensor> state = new LinkedHashMap<>();
      state.put("weight", s.track(Tensor.of(new float[] {1, 0, 0, 0, 1, 0}, 2, 3)));
      state.put("bias", s.track(Tensor.of(new float[] {10, 20})));
      lin.loadState(state, true);
      Tensor y = s.track(lin.forward(s.track(Tensor.of(new float[] {1, 2, 3}, 1, 3))));
      assertArrayEquals(new float[] {11, 22}, y.toFloatArray());
      // state() shares memory with the module
      Map<String, Tensor> live = lin.state();
      live.values().forEach(s::track);
      assertArrayEquals(new float[] {10, 20}, live.get("bias").toFloatArray());
      live.get("bias").copyFrom(new float[] {0, 0});
      assertArrayEquals(new float[] {1, 2}, s.track(lin.forward(s.track(Tensor.of(new float[] {1, 2, 3}, 1, 3)))).toFloatArray());
      lin.to(Device.CPU, DType.F64);
      assertEquals(DType.F64, s.track(lin.state().get("weight")).dtype());
    }
  }

  @Test
  void modulesCreatedWithoutInitDrawNothingAndWorkOnceLoaded() {
    D2g.manualSeed(3);
    try (Linear empty = NativeModule.withoutInit(() -> new Linear(3, 2, true));
        Linear afterEmpty = new Linear(3, 2, true); // outside withoutInit: initialised again
        Linear reference = seeded(3);
        TensorScope s = new TensorScope()) {
      Map<String, Tensor> ref = reference.state();
      ref.values().forEach(s::track);
      Map<String, Tensor> after = afterEmpty.state();
      after.values().forEach(s::track);
      assertArrayEquals(ref.get("weight").toFloatArray(), after.get("weight").toFloatArray(),
          "an empty module draws nothing from the generator");
      assertArrayEquals(ref.get("bias").toFloatArray(), after.get("bias").toFloatArray());
      assertEquals(List.of("weight", "bias"), empty.stateNames());
      empty.loadState(ref, true);
      Tensor x = s.track(Tensor.of(new float[] {1, -2, 0.5f}, 1, 3));
      assertArrayEquals(s.track(reference.forward(x)).toFloatArray(), s.track(empty.forward(x)).toFloatArray());
    }
  }

  private static Linear seeded(long seed) {
    D2g.manualSeed(seed);
    return new Linear(3, 2, true);
  }

  @Test
  void strictLoadingReportsEveryProblemAtOnce() {
    try (Linear lin = new Linear(3, 2, true); TensorScope s = new TensorScope()) {
      Map<String, Tensor> bad = new LinkedHashMap<>();
      bad.put("weight", s.track(Tensor.of(new float[4], 2, 2)));
      bad.put("extra", s.track(Tensor.of(new float[1])));
      var e = assertThrows(InvalidArgumentException.class, () -> lin.loadState(bad, true));
      assertTrue(e.getMessage().contains("missing keys (1): bias"), e.getMessage());
      assertTrue(e.getMessage().contains("unexpected keys (1): extra"), e.getMessage());
      assertTrue(e.getMessage().contains("shape mismatches (1): weight"), e.getMessage());
      // non-strict still refuses shape mismatches
      assertThrows(InvalidArgumentException.class, () -> lin.loadState(Map.of("weight", bad.get("weight")), false));
      lin.loadState(Map.of("bias", s.track(Tensor.of(new float[] {1, 1}))), false);
    }
  }

  @Test
  void channelsLastKeepsValues() {
    try (TensorScope s = new TensorScope()) {
      NativeModule m = NativeModule.create("autoencoder_kl", ModuleConfig.of(Map.of(
          "block_out_channels", List.of(8), "down_block_types", List.of("DownEncoderBlock2D"),
          "up_block_types", List.of("UpDecoderBlock2D"), "norm_num_groups", 4, "layers_per_block", 1)));
      Tensor w = s.track(m.state().get("encoder.conv_in.weight"));
      float[] before = w.toFloatArray();
      m.channelsLast(true);
      Tensor w2 = s.track(m.state().get("encoder.conv_in.weight"));
      assertFalse(w2.isContiguous(), "stored NHWC");
      assertArrayEquals(before, s.track(w2.contiguous()).toFloatArray());
      m.channelsLast(false);
      assertTrue(s.track(m.state().get("encoder.conv_in.weight")).isContiguous());
      m.close();
    }
  }

  @Test
  void badKindsAndConfigsAreClearErrors() {
    var e = assertThrows(InvalidArgumentException.class, () -> NativeModule.create("nope", new ModuleConfig()));
    assertTrue(e.getMessage().contains("unknown module kind 'nope'"), e.getMessage());
    var e2 = assertThrows(InvalidArgumentException.class,
        () -> NativeModule.create("linear", ModuleConfig.of(Map.of("in_features", 3))));
    assertTrue(e2.getMessage().contains("out_features"), e2.getMessage());
    Linear lin = new Linear(2, 2, false);
    lin.close();
    lin.close();
    assertThrows(IllegalStateException.class, lin::stateNames);
  }

  @Test
  void configsHoldOnlyWhatTheNativeTextCanCarry() {
    ModuleConfig c = new ModuleConfig().set("a", 1).set("b", List.of(1, 2, 3)).set("c", "CrossAttnDownBlock2D")
        .set("e", true).setNested("t", List.of(List.of(1, 2), List.of(3)));
    assertEquals("a=1\nb=1,2,3\nc=CrossAttnDownBlock2D\ne=true\nt=1,2;3\n", c.toNative());
    // no key can be smuggled in through a key or a value
    for (String key : new String[] {"a=b", "x\ny", "", "Upper", "a b"})
      assertThrows(InvalidArgumentException.class, () -> new ModuleConfig().set(key, 1), key);
    for (Object value : new Object[] {"1\nout_features=9", "x=y", "a,b", "a;b", "\u0000", "é", "x".repeat(300)})
      assertThrows(InvalidArgumentException.class, () -> new ModuleConfig().set("in_features", value), value.toString());
    assertThrows(InvalidArgumentException.class, () -> new ModuleConfig().set("k", new Object()));
    // and the native side refuses what gets past: an unknown key, a key given twice
    var e = assertThrows(InvalidArgumentException.class, () -> NativeModule.create("linear",
        ModuleConfig.of(Map.of("in_features", 3, "out_features", 2, "biass", true))));
    assertTrue(e.getMessage().contains("unknown config key 'biass'"), e.getMessage());
  }
}
