package io.d2g.train;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.Autograd;
import io.d2g.DType;
import io.d2g.Generator;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.models.UNet2DConditionConfig;
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
