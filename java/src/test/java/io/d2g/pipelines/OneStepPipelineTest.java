package io.d2g.pipelines;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.diffusion.Prediction;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.AutoencoderKLConfig;
import io.d2g.models.ClipTextConfig;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.nn.NativeModule;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The one-step pipeline equals its stages run one by one (text → UNet → x0 → VAE → u8). */
class OneStepPipelineTest {
  static ClipTextModel text;
  static UNet2DConditionModel unet;
  static AutoencoderKL vae;

  @BeforeAll
  static void tinyModels() {
    D2g.manualSeed(3);
    text = new ClipTextModel(ClipTextConfig.of(Map.of("vocab_size", 100, "hidden_size", 32, "intermediate_size", 64,
        "num_hidden_layers", 2, "num_attention_heads", 2, "max_position_embeddings", 16, "hidden_act", "quick_gelu",
        "eos_token_id", 2, "layer_norm_eps", 1e-5)));
    unet = new UNet2DConditionModel(UNet2DConditionConfig.of(Map.ofEntries(
        Map.entry("block_out_channels", List.of(32, 64)),
        Map.entry("down_block_types", List.of("CrossAttnDownBlock2D", "DownBlock2D")),
        Map.entry("up_block_types", List.of("UpBlock2D", "CrossAttnUpBlock2D")),
        Map.entry("layers_per_block", 1), Map.entry("cross_attention_dim", 32), Map.entry("attention_head_dim", 8),
        Map.entry("norm_num_groups", 8), Map.entry("in_channels", 4), Map.entry("out_channels", 4),
        Map.entry("sample_size", 8))));
    vae = new AutoencoderKL(AutoencoderKLConfig.of(Map.of("block_out_channels", List.of(16, 32),
        "down_block_types", List.of("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types", List.of("UpDecoderBlock2D", "UpDecoderBlock2D"), "latent_channels", 4,
        "norm_num_groups", 8, "layers_per_block", 1, "scaling_factor", 0.5)));
    for (NativeModule m : List.of(text, unet, vae)) m.eval();
  }

  @AfterAll
  static void close() {
    text.close();
    unet.close();
    vae.close();
  }

  /** The pipeline's arithmetic, done step by step in Java on the stages' outputs. */
  private static byte[] reference(Tensor ids, Tensor noise, long t, double abar, Prediction pred,
      TensorScope s) {
    Tensor hidden = s.track(text.lastHiddenState(ids));
    Tensor out = s.track(unet.forward(noise, s.track(Tensor.of(new long[] {t, t})), hidden));
    float[] x = noise.toFloatArray(), e = out.toFloatArray(), z = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      double x0 = switch (pred) {
        case EPSILON -> (x[i] - Math.sqrt(1 - abar) * e[i]) / Math.sqrt(abar);
        case V_PREDICTION -> Math.sqrt(abar) * x[i] - Math.sqrt(1 - abar) * e[i];
        case SAMPLE -> e[i];
      };
      z[i] = (float) (x0 / vae.scalingFactor());
    }
    Tensor img = s.track(vae.decode(s.track(Tensor.of(z, noise.shape()))));
    long[] sh = img.shape(); // [B, 3, H, W]
    float[] v = img.toFloatArray();
    int b = (int) sh[0], c = (int) sh[1], h = (int) sh[2], w = (int) sh[3];
    byte[] u8 = new byte[v.length];
    for (int n = 0; n < b; n++)
      for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++)
          for (int xx = 0; xx < w; xx++) {
            double p = Math.min(1, Math.max(0, v[((n * c + ch) * h + y) * w + xx] / 2 + 0.5));
            u8[((n * h + y) * w + xx) * c + ch] = (byte) Math.round(p * 255);
          }
    return u8;
  }

  @Test
  void pipelineEqualsItsStagesForEachPredictionType() {
    NoiseSchedule schedule = NoiseSchedule.fromConfig(new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode()
        .put("beta_schedule", "scaled_linear").put("beta_start", 0.00085).put("beta_end", 0.012));
    Random r = new Random(5);
    long[] idv = new long[2 * 10];
    for (int i = 0; i < idv.length; i++) idv[i] = r.nextInt(100);
    for (Prediction pred : Prediction.values()) {
      try (TensorScope s = new TensorScope();
          OneStepPipeline p = new OneStepPipeline(text, unet, vae, pred, vae.scalingFactor(), true)) {
        Tensor ids = s.track(Tensor.of(idv, 2, 10));
        Tensor noise = s.track(Tensor.randn(DType.F32, Device.CPU, 2, 4, 8, 8));
        long t = 500;
        double abar = schedule.alphaBar((int) t);
        Tensor images = s.track(p.run(ids, noise, t, abar));
        assertArrayEquals(new long[] {2, 16, 16, 3}, images.shape());
        assertEquals(DType.U8, images.dtype());
        byte[] got = images.toByteArray(), want = reference(ids, noise, t, abar, pred, s);
        int off = 0;
        for (int i = 0; i < got.length; i++) {
          int d = Math.abs((got[i] & 0xff) - (want[i] & 0xff));
          assertTrue(d <= 1, pred + ": pixel " + i + " differs by " + d);
          if (d != 0) off++;
        }
        assertTrue(off < got.length / 50, pred + ": " + off + " of " + got.length + " pixels off by one");
        // a second run of the same shape reuses the buffers and still gives fresh results
        Tensor noise2 = s.track(Tensor.randn(DType.F32, Device.CPU, 2, 4, 8, 8));
        assertFalse(java.util.Arrays.equals(got, s.track(p.run(ids, noise2, t, abar)).toByteArray()));
        BufferedImage[] imgs = OneStepPipeline.toImages(images);
        assertEquals(2, imgs.length);
        assertEquals(16, imgs[0].getWidth());
        assertTrue(p.lastTimings().totalMs() > 0);
      }
    }
  }

  @Test
  void wrongInputsAreClearErrors() {
    try (TensorScope s = new TensorScope();
        OneStepPipeline p = new OneStepPipeline(text, unet, vae, Prediction.EPSILON, 0.5, false)) {
      Tensor ids = s.track(Tensor.of(new long[] {1, 2, 3}, 1, 3));
      Tensor noise = s.track(Tensor.randn(DType.F32, Device.CPU, 2, 4, 8, 8));
      var batch = assertThrows(InvalidArgumentException.class, () -> p.run(ids, noise, 10, 0.5));
      assertTrue(batch.getMessage().contains("batch"), batch.getMessage());
      Tensor noise1 = s.track(Tensor.randn(DType.F32, Device.CPU, 1, 4, 8, 8));
      assertThrows(InvalidArgumentException.class, () -> p.run(ids, noise1, 10, 0));
      var vocab = assertThrows(InvalidArgumentException.class,
          () -> p.run(s.track(Tensor.of(new long[] {1, 150, 3}, 1, 3)), noise1, 10, 0.5));
      assertTrue(vocab.getMessage().contains("vocabulary 0..99"), vocab.getMessage());
      assertThrows(InvalidArgumentException.class, () -> p.run(s.track(Tensor.of(new float[] {1, 2, 3}, 1, 3)), noise1, 10, 0.5));
    }
  }
}
