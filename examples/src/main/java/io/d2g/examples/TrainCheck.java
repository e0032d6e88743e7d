package io.d2g.examples;

import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.cli.Commands;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.AutoencoderKLConfig;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.nn.NativeModule;
import io.d2g.train.AutoencoderStep;
import io.d2g.train.DenoiseStep;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.ParamGroup;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * One training step of each native step (the autoencoder's, the denoiser's) on the CPU and on a GPU
 * from the same weights and inputs, with the GPU's fused kernels on and off: the losses, gradient norms
 * and updated weights side by side, and the first parameter that differs or is not finite. A check
 * that training on the GPU computes what the CPU tests prove.
 *
 * <pre>
 * ./d2g example train-check --device cuda
 * </pre>
 */
@Command(name = "train-check", mixinStandardHelpOptions = true,
    description = "One step of each native training step on the CPU and on a GPU from the same weights and inputs; "
        + "reports where they differ. Exit code 1 when they do beyond --tolerance.")
public final class TrainCheck implements Callable<Integer> {
  @Option(names = "--device", defaultValue = "cuda", description = "The device checked against the CPU (default: ${DEFAULT-VALUE}).")
  String deviceName;

  @Option(names = "--tolerance", defaultValue = "1e-2", description = "Largest relative difference of the weight change (default: ${DEFAULT-VALUE}).")
  double tolerance;

  public static void main(String[] args) {
    Commands.main(new TrainCheck(), args);
  }

  @Override
  public Integer call() throws Exception {
    Device device = Device.parse(deviceName);
    D2g.setAllowTf32(false);
    boolean ok = true;
    for (boolean fused : new boolean[] {true, false}) {
      D2g.setFusedKernels(fused);
      ok &= check("autoencoder, fused kernels " + (fused ? "on" : "off"), device, this::autoencoderStep);
      ok &= check("denoiser, fused kernels " + (fused ? "on" : "off"), device, this::denoiseStep);
    }
    D2g.setFusedKernels(true);
    return ok ? 0 : 1;
  }

  /** A step on the CPU and on {@code device} from the same seed; compares what each changed. */
  private boolean check(String name, Device device, Function<Device, Result> step) {
    Result cpu = step.apply(Device.CPU), gpu = step.apply(device);
    try (cpu; gpu) {
      System.out.printf("%s: loss %.6g / %.6g, grad norm %.6g / %.6g (cpu / %s)%n", name, cpu.loss, gpu.loss, cpu.gradNorm,
          gpu.gradNorm, device);
      // The whole model's weight change, CPU against GPU: ||dc - dg|| / ||dc||. (One tensor alone can
      // differ a lot where its gradient is pure rounding, e.g. a convolution's bias before a GroupNorm:
      // Adam's first step moves each weight by about lr * sign(g) whatever g's size.)
      double num = 0, den = 0, worst = 0;
      String where = "";
      int nonFinite = 0;
      for (var e : cpu.before.entrySet()) {
        float[] b = e.getValue(), c = cpu.after.get(e.getKey()), g = gpu.after.get(e.getKey());
        double n = 0, d = 0;
        boolean finite = true;
        for (int i = 0; i < b.length; i++) {
          finite &= Float.isFinite(g[i]);
          double dc = c[i] - b[i], dg = g[i] - b[i];
          n += (dc - dg) * (dc - dg);
          d += dc * dc;
        }
        if (!finite && nonFinite++ < 3) System.out.printf("  %s: not finite on %s after the step%n", e.getKey(), device);
        num += n;
        den += d;
        double rel = Math.sqrt(n / Math.max(d, 1e-30));
        if (finite && rel > worst) {
          worst = rel;
          where = e.getKey();
        }
      }
      double rel = nonFinite > 0 ? Double.POSITIVE_INFINITY : Math.sqrt(num / Math.max(den, 1e-30));
      boolean good = rel <= tolerance && Double.isFinite(gpu.loss);
      System.out.printf("  weight change, relative difference: %.3g over the model (tensor most apart: %s, %.3g) %s%n", rel,
          where, worst, good ? "ok" : "DIFFERS");
      return good;
    }
  }

  /** Weights before and after one step, on the CPU, and the step's figures. */
  private record Result(Map<String, float[]> before, Map<String, float[]> after, double loss, double gradNorm, TensorScope scope)
      implements AutoCloseable {
    @Override
    public void close() {
      scope.close();
    }
  }

  /** Copies of the module's parameters (on the CPU the parameters themselves change in place). */
  private static Map<String, float[]> copy(NativeModule m, TensorScope s) {
    Map<String, float[]> out = new java.util.TreeMap<>();
    m.parameters().forEach((k, v) -> out.put(k, s.track(s.track(v).to(Device.CPU, DType.F32)).toFloatArray()));
    return out;
  }

  private Result autoencoderStep(Device device) {
    TensorScope s = new TensorScope();
    D2g.manualSeed(3);
    AutoencoderKLConfig config = new AutoencoderKLConfig(3, 3, List.of(32, 64, 64), 1, "silu", 4, 32, 32, 1.0, null,
        false, true, true, true);
    try (AutoencoderKL vae = new AutoencoderKL(config); Generator g = Generator.cpu(5)) {
      Map<String, float[]> before = copy(vae, s);
      vae.to(device).train(true);
      Tensor images = s.track(s.track(Tensor.randn(g, DType.F32, 4, 3, 32, 32)).mul(0.5));
      Tensor noise = s.track(Tensor.randn(g, DType.F32, 4, 4, 8, 8));
      try (Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-3).withWeightDecay(0.01), vae,
              ParamGroup.noWeightDecay(ParamGroup.BIASES_AND_NORMS));
          AutoencoderStep step = AutoencoderStep.create(vae, opt, null, new AutoencoderStep.Options(1e-6, false, 1.0))) {
        AutoencoderStep.Metrics m = step.run(s.track(images.to(device)), s.track(noise.to(device)));
        return new Result(before, copy(vae, s), m.loss(), m.gradNorm(), s);
      }
    }
  }

  private Result denoiseStep(Device device) {
    TensorScope s = new TensorScope();
    D2g.manualSeed(4);
    UNet2DConditionConfig config = UNet2DConditionConfig.builder()
        .blocks(List.of("CrossAttnDownBlock2D", "DownBlock2D"), List.of("UpBlock2D", "CrossAttnUpBlock2D"), List.of(32, 64))
        .layersPerBlock(1).crossAttentionDim(32).attentionHeads(2).normNumGroups(32).sampleSize(8).build();
    try (UNet2DConditionModel unet = new UNet2DConditionModel(config); Generator g = Generator.cpu(6)) {
      Map<String, float[]> before = copy(unet, s);
      unet.to(device).train(true);
      NoiseSchedule schedule = NoiseSchedule.fromConfig(new ObjectMapper().readTree(
          "{\"num_train_timesteps\": 1000, \"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"beta_end\": 0.012}"));
      Tensor x0 = s.track(Tensor.randn(g, DType.F32, 4, 4, 8, 8)), ctx = s.track(Tensor.randn(g, DType.F32, 4, 7, 32));
      Tensor noise = s.track(Tensor.randn(g, DType.F32, 4, 4, 8, 8)), t = s.track(Tensor.of(new long[] {1, 250, 500, 999}, 4));
      try (Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-3).withWeightDecay(0.01), unet);
          DenoiseStep step = DenoiseStep.create(unet, opt, null, null, schedule, DenoiseStep.Options.DEFAULT)) {
        DenoiseStep.Metrics m = step.run(s.track(x0.to(device)), s.track(ctx.to(device)), s.track(t.to(device)),
            s.track(noise.to(device)));
        return new Result(before, copy(unet, s), m.loss(), m.gradNorm(), s);
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
