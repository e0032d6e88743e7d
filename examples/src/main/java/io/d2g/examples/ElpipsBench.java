package io.d2g.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.Autocast;
import io.d2g.Autograd;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.ThreadScope;
import io.d2g.cli.Commands;
import io.d2g.io.Outputs;
import io.d2g.models.LatentAugment;
import io.d2g.models.LatentLpips;
import io.d2g.models.LatentLpipsConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * E-LatentLPIPS's speed against the official code's, same GPU, same run: forward + backward with respect
 * to the first input of SD1.5-sized latents ([B, 4, 64, 64]), LatentLPIPS at SD's widths with random
 * weights, a fresh augmentation draw of {@code --preset} per iteration, in fp32 and under bf16 autocast —
 * the official side is {@code scripts/gpu/elatentlpips_reference.py} run just before (its figures, and
 * the pixel-LPIPS route's, come in with {@code --reference}). Median milliseconds over {@code --iters}
 * after {@code --warmup}, synchronised each iteration; the extra memory of one iteration at batch 8 (peak
 * allocated minus what was allocated before it). Writes {@code elatentlpips.json} with the figures as
 * {@code {ours, official, ratio}} (ratio = our time ÷ the official code's).
 *
 * <pre>
 * python3 scripts/gpu/elatentlpips_reference.py /tmp/elpips-ref.json
 * ./d2g example elpips-bench --device cuda --reference /tmp/elpips-ref.json --out $OUT
 * </pre>
 */
@Command(name = "elpips-bench", mixinStandardHelpOptions = true,
    description = "E-LatentLPIPS forward + backward at SD1.5 size against the official code (elatentlpips_reference.py).")
public final class ElpipsBench implements Callable<Integer> {
  @Option(names = "--reference", description = "The official code's figures (scripts/gpu/elatentlpips_reference.py), if any.")
  Path reference;

  @Option(names = "--out", defaultValue = "target/results", description = "Folder for elatentlpips.json (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--device", defaultValue = "cuda", description = "cuda[:N] or cpu (default: ${DEFAULT-VALUE}).")
  String deviceName;

  @Option(names = "--batches", split = ",", defaultValue = "8,32", description = "Batch sizes (default: ${DEFAULT-VALUE}).")
  List<Integer> batches;

  @Option(names = "--side", defaultValue = "64", description = "Latent side (SD1.5 at 512 px: 64; default: ${DEFAULT-VALUE}).")
  int side;

  @Option(names = "--preset", defaultValue = "bg",
      description = "Augmentation preset, or none for plain LatentLPIPS (default: ${DEFAULT-VALUE}).")
  String preset;

  @Option(names = "--warmup", defaultValue = "10", description = "Iterations before timing (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--iters", defaultValue = "50", description = "Timed iterations (default: ${DEFAULT-VALUE}).")
  int iters;

  @Option(names = "--channels-last", defaultValue = "true", negatable = true,
      description = "On CUDA, store the trunk's convolutions channels-last (default: ${DEFAULT-VALUE}).")
  boolean channelsLast;

  @Option(names = "--lean-backward", defaultValue = "false", negatable = true,
      description = "The lean backward (ReLU masks, not activations; LatentLpipsConfig) (default: ${DEFAULT-VALUE}).")
  boolean leanBackward;

  @Option(names = "--fixed-augment-padding", defaultValue = "false", negatable = true,
      description = "Pad by the most any draw can need (what a CUDA graph capture needs; LatentLpipsConfig) (default: ${DEFAULT-VALUE}).")
  boolean fixedPadding;

  @Option(names = "--one-call", defaultValue = "false",
      description = "Each iteration one native call for the distances and their gradient (LatentLpips.distanceAndGrad) "
          + "instead of the distance recorded by Autograd and its backward.")
  boolean oneCall;

  @Option(names = "--cuda-graph", defaultValue = "false",
      description = "As --one-call, with the forward and backward as one CUDA graph (captured during the warm-up; "
          + "its memory pool is then held, so the extra memory figure does not count it).")
  boolean cudaGraph;

  @Option(names = "--cudnn-benchmark", defaultValue = "false", negatable = true,
      description = "Let cuDNN time its algorithms per shape and keep the fastest (default: ${DEFAULT-VALUE}, as PyTorch's).")
  boolean cudnnBenchmark;

  @Option(names = "--trace", description = "Also record a kernel trace of 3 iterations at the first batch size, per "
      + "precision, into trace-<precision>.json in --out (LibTorch 2.x with Kineto).")
  boolean trace;

  @Option(names = "--force", description = "Overwrite an existing elatentlpips.json.")
  boolean force;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new ElpipsBench(), args);
  }

  @Override
  public Integer call() throws Exception {
    require(!batches.isEmpty() && batches.stream().allMatch(b -> b >= 1 && b <= 1024), "--batches must be 1 to 1024");
    require(side >= 4 && side % 4 == 0 && side <= 512, "--side must be a multiple of 4, 4 to 512");
    boolean plain = preset.equals("none");
    require(plain || LatentAugment.PRESETS.contains(preset), "--preset must be none or one of " + LatentAugment.PRESETS);
    require(warmup >= 0 && iters >= 1, "--warmup must be >= 0 and --iters >= 1");
    require(reference == null || Files.isRegularFile(reference), "--reference " + reference + " is not a file");
    Device device = Device.parse(deviceName);
    JsonNode ref = reference == null ? null : new ObjectMapper().readTree(reference.toFile());
    ObjectNode json = new ObjectMapper().createObjectNode();
    ObjectNode figures = json.putObject("figures"), details = json.putObject("details");
    D2g.manualSeed(0);
    if (device.isCuda()) D2g.setCudnnBenchmark(cudnnBenchmark);
    double ours8 = Double.NaN, oursMemory8 = Double.NaN;
    try (LatentLpips lpips = new LatentLpips(LatentLpipsConfig.SD.withLeanBackward(leanBackward).withFixedAugmentPadding(fixedPadding)); Generator gen = Generator.create(device, 1)) {
      lpips.to(device);
      if (device.isCuda()) lpips.channelsLast(channelsLast);
      for (String precision : List.of("f32", "bf16")) {
        for (int b : batches) {
          try (TensorScope s = new TensorScope(); Generator g = Generator.create(device, 2)) {
            Tensor base = s.track(Tensor.randn(g, DType.F32, b, 4, side, side));
            Tensor x1 = s.track(Tensor.randn(g, DType.F32, b, 4, side, side));
            Runnable step = oneCall || cudaGraph ? () -> {
              try (ThreadScope amp = autocast(precision);
                  LatentLpips.DistanceAndGrad r = lpips.distanceAndGrad(base, x1, preset, gen, cudaGraph)) {
                r.grad().shape();
              }
            } : () -> {
              try (TensorScope t = new TensorScope()) {
                Tensor x0 = t.track(base.detach()).requiresGrad(true);
                Tensor loss;
                try (ThreadScope amp = autocast(precision);
                    ThreadScope rec = Autograd.record()) {
                  Tensor d = plain ? lpips.distance(x0, x1) : lpips.distance(x0, x1, preset, gen);
                  loss = t.track(t.track(d).mean());
                }
                loss.backward();
              }
            };
            double median = Timing.median(Timing.sortedMillis(step, warmup, iters, device));
            if (trace && b == batches.get(0)) {
              D2g.synchronize(device);
              D2g.startTrace();
              for (int i = 0; i < 3; i++) step.run();
              D2g.synchronize(device);
              D2g.stopTrace(out.resolve("trace-" + precision + ".json"));
            }
            String key = "sd15_fwd_bwd_b" + b + (precision.equals("f32") ? "" : "_" + precision) + "_ms";
            ObjectNode f = figures.putObject(key).put("ours", Provenance.round(median));
            double official = ref == null ? Double.NaN : ref.path("fwd_bwd_ms").path(precision).path(String.valueOf(b)).asDouble(Double.NaN);
            if (!Double.isNaN(official)) f.put("official", Provenance.round(official)).put("ratio", Provenance.round(median / official));
            if (b == 8 && precision.equals("f32")) ours8 = median;
            if (device.isCuda()) {
              double gb = extraMemoryGb(step, device);
              if (b == 8 && precision.equals("f32")) oursMemory8 = gb;
              ObjectNode m = figures.putObject("extra_memory_b" + b + (precision.equals("f32") ? "" : "_" + precision) + "_gb")
                  .put("ours", Provenance.round(gb));
              double o = ref == null || b != 8 ? Double.NaN : ref.path("extra_memory_b8_gb").path(precision).asDouble(Double.NaN);
              if (!Double.isNaN(o)) m.put("official", Provenance.round(o));
            }
            System.out.printf("%s batch %d: %.2f ms%s%n", precision, b, median,
                Double.isNaN(official) ? "" : String.format(", official %.2f ms, ratio %.2f", official, median / official));
          }
        }
      }
    }
    JsonNode pixel = ref == null ? null : ref.get("pixel_route");
    if (pixel != null && !Double.isNaN(ours8)) {
      ObjectNode p = figures.putObject("pixel_lpips_route").put("ours_ratio_time", Provenance.round(pixel.path("ms").asDouble() / ours8));
      if (!Double.isNaN(oursMemory8) && oursMemory8 > 0)
        p.put("ours_ratio_memory", Provenance.round(pixel.path("extra_memory_gb").asDouble() / oursMemory8));
      p.put("paper", "9.7x the time and 25x the memory of E-LatentLPIPS (A100, the paper's Table 1)");
    }
    details.put("method", "forward + backward with respect to the first input, latents [B, 4, " + side + ", " + side + "], "
        + "LatentLPIPS at SD widths (64, 128, 256, 512, 512) with random weights" + (device.isCuda() && channelsLast
            ? " (convolutions channels-last)" : "") + (plain ? ", no augmentation (plain LatentLPIPS)" : ", a fresh '"
            + preset + "' draw per iteration applied alike to both inputs") + ", the L1 term off"
        + (leanBackward ? ", the lean backward" : ", LibTorch's autograd throughout (no lean backward)")
        + (fixedPadding && !plain ? ", the augmentation's fixed padding" : "")
        + (cudaGraph && device.isCuda() ? ", each iteration one CUDA graph replay of the forward and backward (LatentLpips.distanceAndGrad; the "
            + "draws made before it; the graph's memory pool, held since its capture in the warm-up, is not in the extra memory)"
            : oneCall || cudaGraph ? ", each iteration one native call for the distances and their gradient (LatentLpips.distanceAndGrad)" : "")
        + (device.isCuda() ? ", cuDNN benchmark mode " + (cudnnBenchmark ? "on" : "off") : "") + "; median of " + iters + " iterations after " + warmup
        + ", host clock, synchronised each iteration; extra memory: peak allocated during one iteration minus what was "
        + "allocated before it (the official side's at batch 8 only). official: scripts/gpu/elatentlpips_reference.py in the same call. pixel_lpips_route: "
        + "the reference's pixel route time (and extra memory) divided by ours at batch 8, fp32");
    details.put("machine", D2g.machine()).put("date", java.time.Instant.now().toString());
    if (ref != null) details.set("official", ref);
    Path file = Outputs.writeResults(out.resolve("elatentlpips.json"), "d2g ElpipsBench", force, json);
    System.out.println("wrote " + file);
    return 0;
  }

  /** Autocast for the run's precision ("bf16": bf16 autocast; else off), for the length of a step. */
  private static ThreadScope autocast(String precision) {
    return precision.equals("bf16") ? Autocast.bf16() : Autocast.off();
  }

  private static double extraMemoryGb(Runnable step, Device device) {
    D2g.synchronize(device);
    D2g.cudaMemoryPeak(device, true);
    long base = D2g.cudaMemoryPeak(device, false); // right after a reset the peak is what is allocated now
    step.run();
    D2g.synchronize(device);
    return (D2g.cudaMemoryPeak(device, false) - base) / Math.pow(2, 30);
  }


  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }
}
