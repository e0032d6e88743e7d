package io.d2g.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.cli.Commands;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.io.Outputs;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.train.DataParallel;
import io.d2g.train.DenoiseStep;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.ProcessGroup;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Milliseconds per training step of the full-size SD1.5 UNet through d2g's native {@link
 * DenoiseStep} (64x64x4 latents, 77x768 text states, f32 weights, bf16 autocast, epsilon MSE,
 * backward, clipping at 1.0, AdamW), next to PyTorch eager's same step from
 * {@code scripts/gpu/train_step_reference.py} run just before on the same GPU. Under {@code ./d2g
 * launch --nproc N} the step is data parallel (NCCL) and the figure is the throughput of N GPUs.
 *
 * <pre>
 * python3 scripts/gpu/train_step_reference.py /tmp/ref.json
 * ./d2g example train-step-bench --reference /tmp/ref.json --out $OUT
 * ./d2g launch --nproc 2 -- ./d2g example train-step-bench --batches 8 --out $OUT/ddp
 * </pre>
 */
@Command(name = "train-step-bench", mixinStandardHelpOptions = true,
    description = "SD1.5 UNet training step (bf16 autocast, AdamW) against PyTorch eager's, on a GPU.")
public final class TrainStepBench implements Callable<Integer> {
  @Option(names = "--reference", description = "PyTorch's figures (scripts/gpu/train_step_reference.py), if any.")
  Path reference;

  @Option(names = "--out", defaultValue = "target/results", description = "Folder for train-step.json (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--batches", split = ",", defaultValue = "8,32", description = "Batch sizes per GPU (default: ${DEFAULT-VALUE}).")
  List<Integer> batches;

  @Option(names = "--warmup", defaultValue = "5", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--steps", defaultValue = "20", description = "Timed steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--channels-last", defaultValue = "true", negatable = true,
      description = "Convolution weights and activations in NHWC (default: ${DEFAULT-VALUE}).")
  boolean channelsLast;

  @Option(names = "--cuda-graphs", description = "Capture the step as a CUDA graph after two warm-up steps (CUDA, f32/bf16, one GPU).")
  boolean cudaGraphs;

  @Option(names = "--unet-config", description = "Another UNet config.json than SD1.5's (e.g. a small one for --device cpu).")
  Path unetConfig;

  @Option(names = "--device", description = "cuda[:N] (default) or cpu: the CPU runs the same step, e.g. to count operators "
      + "with D2G_OP_COUNTS against train_step_reference.py --op-counts.")
  String deviceName;

  @Option(names = "--precision", defaultValue = "bf16", description = "bf16 (autocast), f16 or f32 (default: ${DEFAULT-VALUE}).")
  String precision;

  @Option(names = "--trace", description = "Also record one more step per batch as a Chrome trace (LibTorch's profiler, "
      + "CPU and CUDA) into this folder, ours_b<batch>.json; scripts/gpu/trace_summary.py sums the kernels.")
  Path trace;

  @Option(names = "--force", description = "Replace an older results file that does not name its producer.")
  boolean force;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new TrainStepBench(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (warmup < 0 || steps < 1) throw new ParameterException(spec.commandLine(), "--warmup >= 0 and --steps >= 1");
    for (int b : batches) if (b < 1 || b > 1024) throw new ParameterException(spec.commandLine(), "batches must be 1 to 1024");
    if (reference != null && !Files.isRegularFile(reference))
      throw new ParameterException(spec.commandLine(), "--reference " + reference + " is not a file");
    Device device = deviceName != null ? Device.parse(deviceName)
        : System.getenv("LOCAL_RANK") != null ? ProcessGroup.localCudaDevice() : Device.cuda(0);
    if (device.isCuda() && !D2g.cudaAvailable()) throw new ParameterException(spec.commandLine(), "no CUDA GPU here (--device cpu?)");
    D2g.setAllowTf32(true);
    UNet2DConditionConfig config;
    if (unetConfig != null) {
      config = UNet2DConditionConfig.read(unetConfig);
    } else {
      try (InputStream in = UNet2DConditionConfig.class.getResourceAsStream("/io/d2g/models/presets/sd15/unet.json")) {
        config = UNet2DConditionConfig.fromJson(new ObjectMapper().readTree(in));
      }
    }
    long side = config.sampleSize() == null ? 64 : config.sampleSize(), dim = config.crossAttentionDim().get(0);
    NoiseSchedule schedule = NoiseSchedule.fromConfig(new ObjectMapper().readTree(
        "{\"num_train_timesteps\": 1000, \"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"beta_end\": 0.012}"));
    JsonNode ref = reference == null ? null : new ObjectMapper().readTree(reference.toFile());
    Map<String, Object> figures = new LinkedHashMap<>();
    Map<String, Object> detail = new LinkedHashMap<>();
    ProcessGroup group = ProcessGroup.fromEnvironment(device).orElse(null);
    int world = group == null ? 1 : group.worldSize();
    try (group) {
      for (int b : batches) {
        D2g.manualSeed(0);
        try (UNet2DConditionModel unet = new UNet2DConditionModel(config)) {
          unet.to(device, DType.F32).channelsLast(channelsLast).train(true);
          try (DataParallel ddp = group == null ? null : DataParallel.of(group, unet);
              Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-5).withWeightDecay(1e-2), unet);
              DenoiseStep step = DenoiseStep.create(unet, opt, null, ddp, schedule,
                  DenoiseStep.Options.DEFAULT.withPrecision(DenoiseStep.Precision.valueOf(precision.toUpperCase())).withMaxGradNorm(1.0)
                      .withCudaGraphs(cudaGraphs));
              Generator g = Generator.create(device, 1);
              Tensor x0 = Tensor.randn(g, DType.F32, b, 4, side, side); Tensor ctx = Tensor.randn(g, DType.F32, b, 77, dim);
              Tensor noise = Tensor.randn(g, DType.F32, b, 4, side, side);
              Tensor tHost = Tensor.of(new SplittableRandom(2).ints(b, 0, 1000).asLongStream().toArray(), b);
              Tensor t = tHost.to(device)) {
            if (device.isCuda()) D2g.cudaMemoryPeak(device, true);
            // each run returns once the loss is on the host
            double[] ms = Timing.sortedMillis(() -> step.run(x0, ctx, t, noise), warmup, steps, device);
            double median = Provenance.round(Timing.median(ms));
            if (trace != null) { // one more step, traced, after the timing (its figures are the untraced ones)
              java.nio.file.Files.createDirectories(trace);
              D2g.startTrace();
              step.run(x0, ctx, t, noise);
              D2g.synchronize(device);
              D2g.stopTrace(trace.resolve("ours_b" + b + ".json"));
            }
            double peak = device.isCuda() ? Provenance.round(D2g.cudaMemoryPeak(device, false) / Math.pow(2, 30)) : Double.NaN;
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("ms", median);
            d.put("min_ms", Provenance.round(ms[0]));
            d.put("peak_gb", peak);
            d.put("images_per_s", Provenance.round(1000.0 * b * world / median));
            detail.put("ours_b" + b, d);
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("ours", median);
            if (ref != null) {
              double nchw = ref.path("nchw_b" + b).path("ms").asDouble(Double.NaN);
              double cl = ref.path("channels_last_b" + b).path("ms").asDouble(Double.NaN);
              double best = Double.isNaN(cl) || nchw < cl ? nchw : cl;
              f.put("pytorch", best);
              f.put("ratio", Provenance.round(median / best));
              detail.put("pytorch_b" + b, Map.of("nchw", ref.path("nchw_b" + b), "channels_last", ref.path("channels_last_b" + b)));
            }
            figures.put("sd15_unet_train_step_b" + b + "_ms", f);
            if (group == null || group.rank() == 0)
              System.out.printf("batch %d%s: %.1f ms (min %.1f), peak %.2f GB%s%n", b, world > 1 ? " per GPU x " + world : "",
                  median, ms[0], peak, f.containsKey("ratio") ? ", PyTorch " + f.get("pytorch") + " ms, ratio " + f.get("ratio") : "");
          }
        }
      }
      if (group != null && group.rank() != 0) return 0;
    }
    Map<String, Object> json = Provenance.header(D2g.machine() + (world > 1 ? "; " + world + " processes, one GPU each" : ""));
    json.put("method", "SD1.5 UNet (presets/sd15/unet.json), random weights, f32 weights, " + precision + " autocast, "
        + (channelsLast ? "channels_last, " : "") + "x_t from scaled_linear abar, epsilon MSE, backward, "
        + (world > 1 ? "gradients averaged across " + world + " GPUs (NCCL, overlapped), " : "")
        + "clip_grad_norm 1.0, AdamW (fused); d2g's DenoiseStep (one native call per step); host clock per step "
        + "until the loss is on the host, median of " + steps + " after " + warmup + " warm-ups; pytorch: "
        + "scripts/gpu/train_step_reference.py just before on the same GPU, the faster of NCHW and channels_last; "
        + "ratio = ours / pytorch");
    json.put("figures", figures);
    json.put("detail", detail);
    if (ref != null) json.put("pytorch", ref.path("torch").asText());
    Path file = Outputs.writeResults(out.resolve(world > 1 ? "train-step-ddp.json" : "train-step.json"),
        "d2g TrainStepBench", force, json);
    System.out.println("wrote " + file);
    return 0;
  }

}
