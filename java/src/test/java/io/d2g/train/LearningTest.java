package io.d2g.train;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.Autograd;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real learning test: a tiny text-conditional UNet, trained with AdamW on one fixed batch (noisy
 * latents, a timestep, text states -> a fixed target), drives its mean squared error down by more
 * than 100x; and its EMA follows the weights.
 */
class LearningTest {
  private static final Logger LOG = LoggerFactory.getLogger(LearningTest.class);

  @Test
  void aTinyUNetFitsAFixedBatch() {
    UNet2DConditionConfig config = UNet2DConditionConfig.builder()
        .blocks(List.of("CrossAttnDownBlock2D", "DownBlock2D"), List.of("UpBlock2D", "CrossAttnUpBlock2D"),
            List.of(16, 32))
        .layersPerBlock(1).crossAttentionDim(16).attentionHeads(2).normNumGroups(8).build();
    try (Generator gen = Generator.create(Device.CPU, 7); TensorScope s = new TensorScope();
        UNet2DConditionModel unet = new UNet2DConditionModel(config)) {
      Tensor x = s.track(Tensor.randn(gen, DType.F32, 2, 4, 8, 8));
      Tensor ctx = s.track(Tensor.randn(gen, DType.F32, 2, 5, 16));
      Tensor target = s.track(Tensor.randn(gen, DType.F32, 2, 4, 8, 8));
      unet.train(true);
      double first = 0, last = 0;
      try (Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(3e-3).withWeightDecay(0), unet);
          Ema ema = Ema.of(unet)) {
        LrSchedule schedule = LrSchedule.warmup(10);
        for (int step = 0; step < 150; step++) {
          opt.zeroGrad();
          try (TensorScope it = new TensorScope(); var rec = Autograd.record()) {
            Tensor loss = it.track(it.track(it.track(unet.forward(x, 500, ctx)).sub(target)).square()).mean();
            it.track(loss);
            if (step == 0) first = loss.item();
            last = loss.item();
            loss.backward();
          }
          opt.clipGradNorm(1.0);
          opt.setLrFactor(schedule.factor(step));
          opt.step();
          ema.update(0.9);
        }
        LOG.info("tiny UNet on a fixed batch: mse {} -> {} after 150 AdamW steps", first, last);
        assertTrue(last < first / 100, "loss went from " + first + " to " + last + ", not down 100x");
        // the average trails the weights but has learned too
        ema.copyToModule();
        try (Tensor out = unet.forward(x, 500, ctx); Tensor d = out.sub(target); Tensor sq = d.square();
            Tensor m = sq.mean()) {
          assertTrue(m.item() < first / 10, "EMA weights: mse " + m.item());
        }
      }
    }
  }
}
