package io.d2g.train;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.Autograd;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Generator;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.ClipTextConfig;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionModel;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The native denoising step against the same step written in Java with autograd (loss and updated
 * weights), for each prediction type; that it learns; the precisions it accepts.
 */
class DenoiseStepTest {
  private static final UNet2DConditionConfig CONFIG = UNet2DConditionConfig.builder()
      .blocks(List.of("CrossAttnDownBlock2D", "DownBlock2D"), List.of("UpBlock2D", "CrossAttnUpBlock2D"), List.of(16, 32))
      .layersPerBlock(1).crossAttentionDim(16).attentionHeads(2).normNumGroups(8).build();

  private static NoiseSchedule schedule(String prediction) throws Exception {
    return NoiseSchedule.fromConfig(new ObjectMapper().readTree("{\"num_train_timesteps\": 1000, \"beta_schedule\": "
        + "\"scaled_linear\", \"beta_start\": 0.00085, \"beta_end\": 0.012, \"prediction_type\": \"" + prediction + "\"}"));
  }

  private record Batch(Tensor x0, Tensor ctx, Tensor t, Tensor noise, long[] steps) {}

  private static Batch batch(TensorScope s, long seed) {
    try (Generator g = Generator.cpu(seed)) {
      long[] t = {10, 400, 999};
      return new Batch(s.track(Tensor.randn(g, DType.F32, 3, 4, 8, 8)), s.track(Tensor.randn(g, DType.F32, 3, 5, 16)),
          s.track(Tensor.of(t, 3)), s.track(Tensor.randn(g, DType.F32, 3, 4, 8, 8)), t);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"epsilon", "v_prediction", "sample"})
  void matchesTheSameStepWrittenInJava(String prediction) throws Exception {
    NoiseSchedule schedule = schedule(prediction);
    try (TensorScope s = new TensorScope();
        UNet2DConditionModel a = new UNet2DConditionModel(CONFIG); UNet2DConditionModel b = new UNet2DConditionModel(CONFIG)) {
      Map<String, Tensor> init = a.state();
      init.values().forEach(s::track);
      b.loadState(init, true);
      a.train(true);
      b.train(true);
      Batch x = batch(s, 1);
      double nativeLoss, javaLoss;
      try (Optimizer opt = Optimizer.create(OptimizerConfig.Sgd.lr(0.1), a);
          DenoiseStep step = DenoiseStep.create(a, opt, null, null, schedule, DenoiseStep.Options.DEFAULT.withMaxGradNorm(0))) {
        nativeLoss = step.run(x.x0, x.ctx, x.t, x.noise).loss();
      }
      // The same in Java: x_t, the target for the prediction type, MSE, backward, SGD.
      float[] sa = new float[3], sb = new float[3];
      for (int i = 0; i < 3; i++) {
        sa[i] = (float) Math.sqrt(schedule.alphaBar((int) x.steps[i]));
        sb[i] = (float) Math.sqrt(1 - schedule.alphaBar((int) x.steps[i]));
      }
      Tensor ta = s.track(Tensor.of(sa, 3, 1, 1, 1)), tb = s.track(Tensor.of(sb, 3, 1, 1, 1));
      Tensor xt = s.track(s.track(x.x0.mul(ta)).add(s.track(x.noise.mul(tb))));
      Tensor target = switch (prediction) {
        case "epsilon" -> x.noise;
        case "v_prediction" -> s.track(s.track(x.noise.mul(ta)).sub(s.track(x.x0.mul(tb))));
        default -> x.x0;
      };
      try (Optimizer opt = Optimizer.create(OptimizerConfig.Sgd.lr(0.1), b)) {
        try (var rec = Autograd.record()) {
          Tensor loss = s.track(s.track(s.track(s.track(b.forward(xt, x.t, x.ctx)).sub(target)).square()).mean());
          javaLoss = loss.item();
          loss.backward();
        }
        opt.step();
      }
      assertEquals(javaLoss, nativeLoss, 1e-6 * javaLoss, prediction + " loss");
      Map<String, Tensor> pa = a.parameters(), pb = b.parameters();
      pa.values().forEach(s::track);
      pb.values().forEach(s::track);
      double diff = 0, norm = 0;
      for (String k : pa.keySet()) {
        float[] u = pa.get(k).toFloatArray(), v = pb.get(k).toFloatArray();
        for (int i = 0; i < u.length; i++) {
          diff += Math.pow((double) u[i] - v[i], 2);
          norm += (double) v[i] * v[i];
        }
      }
      assertTrue(Math.sqrt(diff / norm) < 1e-6, prediction + ": weights after the step differ by " + Math.sqrt(diff / norm));
    }
  }

  /** The text encoder trained with the UNet inside the step, against the same written in Java. */
  @Test
  void trainsTheTextEncoderWithTheUNetLikeTheJavaStep() throws Exception {
    NoiseSchedule schedule = schedule("epsilon");
    ClipTextConfig tc = new ClipTextConfig(50, 16, 32, 1, 2, 77, "quick_gelu", 1e-5, 0, 0, 49, 49, 16, false);
    try (TensorScope s = new TensorScope(); UNet2DConditionModel ua = new UNet2DConditionModel(CONFIG);
        UNet2DConditionModel ub = new UNet2DConditionModel(CONFIG); ClipTextModel ta = new ClipTextModel(tc);
        ClipTextModel tb = new ClipTextModel(tc)) {
      Map<String, Tensor> u0 = ua.state(), t0 = ta.state();
      u0.values().forEach(s::track);
      t0.values().forEach(s::track);
      ub.loadState(u0, true);
      tb.loadState(t0, true);
      Map<String, float[]> before = new java.util.HashMap<>(); // state() shares the live weights: copy them
      u0.forEach((k, v) -> before.put("unet." + k, v.toFloatArray()));
      t0.forEach((k, v) -> before.put("text_encoder." + k, v.toFloatArray()));
      for (var m : List.of(ua, ub, ta, tb)) m.train(true);
      Batch x = batch(s, 2);
      Tensor ids = s.track(Tensor.of(new long[] {0, 5, 7, 49, 49, 0, 9, 49, 49, 49, 0, 3, 3, 3, 49}, 3, 5));
      double nativeLoss, javaLoss;
      try (Optimizer opt = Optimizer.create(OptimizerConfig.Sgd.lr(0.1), both(s, ua, ta));
          DenoiseStep step = DenoiseStep.create(ua, opt, null, null, schedule, DenoiseStep.Options.DEFAULT.withMaxGradNorm(0))
              .withTextEncoder(ta)) {
        nativeLoss = step.run(x.x0, ids, x.t, x.noise).loss();
      }
      float[] sa = new float[3], sb = new float[3];
      for (int i = 0; i < 3; i++) {
        sa[i] = (float) Math.sqrt(schedule.alphaBar((int) x.steps[i]));
        sb[i] = (float) Math.sqrt(1 - schedule.alphaBar((int) x.steps[i]));
      }
      Tensor xt = s.track(s.track(x.x0.mul(s.track(Tensor.of(sa, 3, 1, 1, 1)))).add(s.track(x.noise.mul(
          s.track(Tensor.of(sb, 3, 1, 1, 1))))));
      try (Optimizer opt = Optimizer.create(OptimizerConfig.Sgd.lr(0.1), both(s, ub, tb))) {
        try (var rec = Autograd.record()) {
          Tensor ctx = s.track(tb.lastHiddenState(ids));
          Tensor loss = s.track(s.track(s.track(s.track(ub.forward(xt, x.t, ctx)).sub(x.noise)).square()).mean());
          javaLoss = loss.item();
          loss.backward();
        }
        opt.step();
      }
      assertEquals(javaLoss, nativeLoss, 1e-6 * javaLoss, "loss");
      for (var pair : List.of(List.of(ua, ub), List.of(ta, tb))) {
        Map<String, Tensor> pa = pair.get(0).parameters(), pb = pair.get(1).parameters();
        pa.values().forEach(s::track);
        pb.values().forEach(s::track);
        double diff = 0, norm = 0, moved = 0;
        for (String k : pa.keySet()) {
          float[] u = pa.get(k).toFloatArray(), v = pb.get(k).toFloatArray();
          float[] w0 = before.get((pair.get(0) == ua ? "unet." : "text_encoder.") + k);
          for (int i = 0; i < u.length; i++) {
            diff += Math.pow((double) u[i] - v[i], 2);
            norm += (double) v[i] * v[i];
            moved += Math.abs(u[i] - w0[i]);
          }
        }
        assertTrue(Math.sqrt(diff / norm) < 1e-6, pair.get(0).kind() + " weights differ by " + Math.sqrt(diff / norm));
        assertTrue(moved > 0, pair.get(0).kind() + " was trained");
      }
    }
  }

  /** The parameters of a UNet and a text encoder under "unet." and "text_encoder.". */
  private static Map<String, Tensor> both(TensorScope s, UNet2DConditionModel unet, ClipTextModel text) {
    Map<String, Tensor> all = new java.util.LinkedHashMap<>();
    unet.parameters().forEach((k, v) -> all.put("unet." + k, s.track(v)));
    text.parameters().forEach((k, v) -> all.put("text_encoder." + k, s.track(v)));
    return all;
  }

  @Test
  void learnsAFixedBatchAndKeepsAnAverage() throws Exception {
    try (TensorScope s = new TensorScope(); UNet2DConditionModel unet = new UNet2DConditionModel(CONFIG);
        Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(3e-3).withWeightDecay(0), unet);
        Ema ema = Ema.of(unet);
        DenoiseStep step = DenoiseStep.create(unet, opt, ema, null, schedule("sample"),
            DenoiseStep.Options.DEFAULT.withPrecision(DenoiseStep.Precision.BF16).withEmaDecay(0.9))) {
      unet.train(true);
      Batch x = batch(s, 2);
      double first = 0, last = 0;
      for (int i = 0; i < 120; i++) {
        DenoiseStep.Metrics m = step.run(x.x0, x.ctx, x.t, x.noise);
        assertTrue(m.stepped() && m.gradNorm() > 0 && m.lossScale() == 1, m.toString());
        if (i == 0) first = m.loss();
        last = m.loss();
      }
      assertTrue(last < first / 20, "bf16: loss " + first + " -> " + last);
      Map<String, Tensor> avg = ema.state(), w = unet.parameters();
      avg.values().forEach(s::track);
      w.values().forEach(s::track);
      assertFalse(Arrays.equals(avg.get("conv_in.weight").toFloatArray(), w.get("conv_in.weight").toFloatArray()),
          "the average trails the weights");
    }
  }

  /** cuda_graphs is accepted everywhere and changes nothing off CUDA: the same steps, bit for bit. */
  @Test
  void cudaGraphsAreIgnoredOnTheCpu() throws Exception {
    float[][] weights = new float[2][];
    double[][] losses = new double[2][3];
    for (int v = 0; v < 2; v++) {
      D2g.manualSeed(3);
      try (TensorScope s = new TensorScope(); UNet2DConditionModel unet = new UNet2DConditionModel(CONFIG);
          Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-3).withWeightDecay(0), unet);
          DenoiseStep step = DenoiseStep.create(unet, opt, null, null, schedule("epsilon"),
              DenoiseStep.Options.DEFAULT.withCudaGraphs(v == 1))) {
        unet.train(true);
        Batch x = batch(s, 2);
        for (int i = 0; i < 3; i++) losses[v][i] = step.run(x.x0, x.ctx, x.t, x.noise).loss();
        weights[v] = s.track(unet.parameters().get("conv_in.weight")).toFloatArray();
        unet.parameters().values().forEach(s::track);
      }
    }
    assertArrayEquals(losses[0], losses[1]);
    assertArrayEquals(weights[0], weights[1]);
  }

  @Test
  void refusesWhatItCannotDo() throws Exception {
    try (TensorScope s = new TensorScope(); UNet2DConditionModel unet = new UNet2DConditionModel(CONFIG);
        Optimizer opt = Optimizer.create(OptimizerConfig.Sgd.lr(0.1), unet)) {
      var e = assertThrows(InvalidArgumentException.class, () -> DenoiseStep.create(unet, opt, null, null,
          schedule("epsilon"), DenoiseStep.Options.DEFAULT.withPrecision(DenoiseStep.Precision.F16)));
      assertTrue(e.getMessage().contains("CUDA"), e.getMessage());
      try (DenoiseStep step = DenoiseStep.create(unet, opt, null, null, schedule("epsilon"), DenoiseStep.Options.DEFAULT)) {
        Batch x = batch(s, 3);
        Tensor late = s.track(Tensor.of(new long[] {1, 2, 1000}, 3));
        assertThrows(InvalidArgumentException.class, () -> step.run(x.x0, x.ctx, late, x.noise));
        Tensor floats = s.track(Tensor.of(new float[] {1, 2, 3}, 3));
        assertThrows(InvalidArgumentException.class, () -> step.run(x.x0, x.ctx, floats, x.noise));
        assertThrows(InvalidArgumentException.class, () -> step.run(x.x0, x.ctx, x.t, x.ctx));
        // a non-finite loss (NaN in the batch) skips the update and says so; the weights stay
        float[] before = s.track(unet.parameters().get("conv_in.weight")).toFloatArray();
        Tensor nan = s.track(x.x0.mul(Double.NaN));
        assertFalse(step.run(nan, x.ctx, x.t, x.noise).stepped());
        assertArrayEquals(before, s.track(unet.parameters().get("conv_in.weight")).toFloatArray());
        assertTrue(step.run(x.x0, x.ctx, x.t, x.noise).stepped());
      }
    }
  }
}
