package io.d2g.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.Autograd;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.ThreadScope;
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.hub.DiffusersFolder;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The LatentLPIPS weights shipped in {@code models/emoji-latent-lpips} work as a regression loss in
 * the emoji teacher's latent space (their use in distillation): a latent optimised from noise against
 * a held-out scene's latent under the distance alone decodes to a picture close to the scene. Heads
 * that are blind to the fine layers (as the calibrated heads of the first GPU run were; lpips-recon.json)
 * or a trunk that no longer matches the autoencoder stop far short.
 */
class ShippedLatentLpipsTest {
  @Test
  void aLatentOptimisedUnderTheShippedDistanceDecodesToItsTarget() throws IOException {
    Path root = Path.of(System.getProperty("d2g.header")).toAbsolutePath().getParent().getParent().getParent();
    RgbaImage scene = ImageCodec.decode(Files.readAllBytes(
        root.resolve("java/src/test/resources/io/d2g/eval/judge-fixture/00000.png")));
    try (AutoencoderKL ae = DiffusersFolder.load(root.resolve("models/emoji-teacher/vae"), AutoencoderKL.FAMILY);
        LatentLpips lpips = DiffusersFolder.load(root.resolve("models/emoji-latent-lpips"), LatentLpips.FAMILY);
        TensorScope s = new TensorScope()) {
      Tensor pixels = s.track(RgbaImage.toTensorOverWhite(List.of(scene)));
      Tensor target;
      try (AutoencoderKL.Posterior p = ae.encode(pixels)) {
        target = s.track(p.mean().mul(ae.scalingFactor()));
      }
      float[] want = pixels.toFloatArray();
      double before, after;
      try (Generator g = Generator.create(Device.CPU, 5);
          Tensor z = Tensor.randn(g, DType.F32, target.shape()).requiresGrad(true);
          Optimizer adam = Optimizer.create(OptimizerConfig.AdamW.lr(1e-2).withWeightDecay(0), Map.of("latent", z))) {
        before = psnr(ae, z, want);
        for (int step = 0; step < 300; step++) {
          adam.zeroGrad();
          try (TensorScope t = new TensorScope()) {
            Tensor loss;
            try (ThreadScope rec = Autograd.record()) {
              loss = t.track(t.track(lpips.distance(target, z)).mean());
            }
            loss.backward();
          }
          adam.step();
        }
        after = psnr(ae, z, want);
      }
      assertTrue(after >= 18 && after >= before + 5,
          "decoded PSNR " + before + " dB from noise, " + after + " dB after 300 steps under the shipped LatentLPIPS");
    }
  }

  private static double psnr(AutoencoderKL ae, Tensor z, float[] want) {
    try (ThreadScope noGrad = Autograd.noGrad(); TensorScope t = new TensorScope()) {
      float[] got = t.track(ae.decode(t.track(z.div(ae.scalingFactor())))).toFloatArray();
      double se = 0;
      for (int i = 0; i < want.length; i++) {
        double d = (Math.max(-1, Math.min(1, got[i])) - want[i]) / 2;
        se += d * d;
      }
      return 10 * Math.log10(want.length / se);
    }
  }
}
