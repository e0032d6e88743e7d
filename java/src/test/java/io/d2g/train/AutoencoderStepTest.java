package io.d2g.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.AutoencoderKLConfig;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A tiny autoencoder learns four pictures through its sampled latents; bad batches get clear errors. */
class AutoencoderStepTest {
  private static final Logger LOG = LoggerFactory.getLogger(AutoencoderStepTest.class);
  static final AutoencoderKLConfig TINY = new AutoencoderKLConfig(3, 3, List.of(8, 16, 16), 1, "silu", 4, 4, 16, 1.0,
      null, false, true, true, false);

  @Test
  void aTinyAutoencoderLearnsToReconstruct() {
    float[] px = new float[4 * 3 * 16 * 16];
    for (int n = 0; n < 4; n++) // four pictures: a coloured square in a different corner each
      for (int c = 0; c < 3; c++)
        for (int y = 0; y < 16; y++)
          for (int x = 0; x < 16; x++)
            px[((n * 3 + c) * 16 + y) * 16 + x] = (y < 8) == (n < 2) && (x < 8) == (n % 2 == 0) ? (c == n % 3 ? 1f : -0.5f) : -1f;
    try (AutoencoderKL vae = new AutoencoderKL(TINY); TensorScope s = new TensorScope();
        Generator g = Generator.create(Device.CPU, 5);
        Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(3e-3).withWeightDecay(0), vae);
        AutoencoderStep step = AutoencoderStep.create(vae, opt, null, AutoencoderStep.Options.DEFAULT)) {
      vae.train(true);
      Tensor images = s.track(Tensor.of(px, 4, 3, 16, 16));
      AutoencoderStep.Metrics first = null, last = null;
      for (int i = 0; i < 200; i++) {
        try (Tensor noise = Tensor.randn(g, DType.F32, 4, 4, 4, 4)) {
          last = step.run(images, noise);
        }
        if (first == null) first = last;
      }
      LOG.info("tiny autoencoder: mse {} -> {}, kl {} -> {}", first.reconstructionMse(), last.reconstructionMse(), first.kl(),
          last.kl());
      assertTrue(last.reconstructionMse() < first.reconstructionMse() / 10,
          "reconstruction error " + first.reconstructionMse() + " -> " + last.reconstructionMse());
      assertTrue(last.stepped());
      // a batch with a NaN: the update is skipped and reported, the weights stay as they were
      float[] before = s.track(vae.state().get("decoder.conv_out.weight")).toFloatArray();
      float[] bad = px.clone();
      bad[7] = Float.NaN;
      try (Tensor nan = Tensor.of(bad, 4, 3, 16, 16); Tensor noise = Tensor.randn(g, DType.F32, 4, 4, 4, 4)) {
        assertFalse(step.run(nan, noise).stepped());
      }
      assertArrayEquals(before, s.track(vae.state().get("decoder.conv_out.weight")).toFloatArray());
      Tensor wrongNoise = s.track(Tensor.randn(g, DType.F32, 4, 4, 8, 8));
      var e = assertThrows(InvalidArgumentException.class, () -> step.run(images, wrongNoise));
      assertTrue(e.getMessage().contains("noise must be [4, 4, 4, 4]"), e.getMessage());
      Tensor odd = s.track(Tensor.of(new float[3 * 15 * 15], 1, 3, 15, 15));
      e = assertThrows(InvalidArgumentException.class, () -> step.run(odd, wrongNoise));
      assertTrue(e.getMessage().contains("multiples of 4"), e.getMessage());
    }
  }
}
