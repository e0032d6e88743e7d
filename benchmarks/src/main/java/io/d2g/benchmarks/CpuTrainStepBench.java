package io.d2g.benchmarks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.Autograd;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.io.Outputs;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CPU floor of training: milliseconds per step of a tiny text-conditional UNet (the size of
 * {@code ./d2g example train-denoiser}'s default: widths 32/64, 8x8 latents, batch 16, forward,
 * MSE, backward, AdamW) and of a 1024² f32 matrix product, with Debian's reference BLAS and with
 * OpenBLAS, on one thread and on every core. Each configuration runs in a child JVM whose {@code
 * LD_LIBRARY_PATH} puts that BLAS's {@code libblas.so.3} first (the library LibTorch's matrix
 * products call). Writes {@code cpu-train-step.json} into {@code -Dd2g.bench.results} (default
 * target/results; {@code -Dbench.results=results} with Maven records it).
 *
 * <pre>
 * mvn -B -q install -DskipTests && mvn -B -pl benchmarks package exec:exec@cpu-train-step
 * </pre>
 */
public final class CpuTrainStepBench {
  private CpuTrainStepBench() {}

  private static final String LIBDIR = "/usr/lib/x86_64-linux-gnu/";
  private static final Map<String, String> BLAS = Map.of(
      "reference", LIBDIR + "blas", "openblas", LIBDIR + "openblas-pthread");
  private static final int WARMUP = 5, STEPS = 20;

  public static void main(String[] args) throws Exception {
    if (args.length == 3 && args[0].equals("--child")) {
      child(Integer.parseInt(args[2]));
      return;
    }
    if (args.length > 0) {
      System.err.println("usage: CpuTrainStepBench, settings as system properties: -Dd2g.bench.results=DIR "
          + "(default target/results), -Dd2g.bench.force=true (replace an older cpu-train-step.json)");
      System.exit(2);
    }
    int cores = Runtime.getRuntime().availableProcessors();
    Map<String, Object> figures = new LinkedHashMap<>();
    System.out.println("| BLAS | threads | train step (ms) | matmul 1024² (ms) | library |");
    System.out.println("|---|---:|---:|---:|---|");
    for (String blas : List.of("reference", "openblas")) {
      Path dir = Path.of(BLAS.get(blas));
      if (!Files.isRegularFile(dir.resolve("libblas.so.3"))) {
        System.out.printf("| %s | – | – | – | not installed (%s) |%n", blas, dir);
        continue;
      }
      for (int threads : cores > 1 ? new int[] {1, cores} : new int[] {1}) {
        JsonNode r = runChild(blas, dir, threads);
        System.out.printf("| %s | %d | %.1f | %.1f | %s |%n", blas, threads, r.get("step_ms").asDouble(),
            r.get("matmul_ms").asDouble(), r.get("blas").asText());
        figures.put(blas + "_threads_" + threads, r);
      }
    }
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("machine", D2g.machine());
    json.put("date", ZonedDateTime.now(ZoneOffset.UTC).toString());
    json.put("method", "tiny UNet2DConditionModel (block_out_channels 32,64; cross-attention dim 32; 8x8x4 latents; "
        + "batch 16; 5 text tokens): forward, MSE, backward, AdamW step, median of " + STEPS + " after " + WARMUP
        + " warm-ups; matmul: Tensor.matmul of two 1024x1024 f32 tensors, best of 7; each configuration in a "
        + "child JVM with that BLAS's folder first on LD_LIBRARY_PATH and D2g.setCpuThreads(threads)");
    json.put("figures", figures);
    Path out = Outputs.writeResults(Path.of(System.getProperty("d2g.bench.results", "target/results"))
        .resolve("cpu-train-step.json"), "d2g CpuTrainStepBench", Boolean.getBoolean("d2g.bench.force"), json);
    System.out.println("wrote " + out);
  }

  private static JsonNode runChild(String blas, Path dir, int threads) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path")));
    String lib = System.getProperty("d2g.library");
    if (lib != null) cmd.add("-Dd2g.library=" + lib);
    cmd.addAll(List.of(CpuTrainStepBench.class.getName(), "--child", blas, Integer.toString(threads)));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    String old = System.getenv("LD_LIBRARY_PATH");
    pb.environment().put("LD_LIBRARY_PATH", dir + (old == null || old.isEmpty() ? "" : ":" + old));
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) throw new IOException("the " + blas + " child failed:\n" + out);
    String last = out.strip().lines().reduce((a, b) -> b).orElseThrow();
    return new ObjectMapper().readTree(last);
  }

  private static void child(int threads) throws Exception {
    D2g.setCpuThreads(threads);
    D2g.manualSeed(0);
    double matmul = Double.MAX_VALUE;
    try (Tensor a = Tensor.randn(DType.F32, Device.CPU, 1024, 1024); Tensor b = Tensor.randn(DType.F32, Device.CPU, 1024, 1024)) {
      for (int i = 0; i < 7; i++) {
        long t0 = System.nanoTime();
        a.matmul(b).close();
        matmul = Math.min(matmul, (System.nanoTime() - t0) / 1e6);
      }
    }
    UNet2DConditionConfig config = UNet2DConditionConfig.builder()
        .blocks(List.of("CrossAttnDownBlock2D", "DownBlock2D"), List.of("UpBlock2D", "CrossAttnUpBlock2D"), List.of(32, 64))
        .layersPerBlock(1).crossAttentionDim(32).attentionHeads(4).normNumGroups(8).build();
    double[] ms = new double[STEPS];
    try (Generator g = Generator.cpu(1); UNet2DConditionModel unet = new UNet2DConditionModel(config);
        Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-3), unet);
        Tensor x = Tensor.randn(g, DType.F32, 16, 4, 8, 8); Tensor ctx = Tensor.randn(g, DType.F32, 16, 5, 32);
        Tensor target = Tensor.randn(g, DType.F32, 16, 4, 8, 8)) {
      unet.train(true);
      for (int i = 0; i < WARMUP + STEPS; i++) {
        long t0 = System.nanoTime();
        opt.zeroGrad();
        try (TensorScope s = new TensorScope(); var rec = Autograd.record()) {
          s.track(s.track(s.track(s.track(unet.forward(x, 500, ctx)).sub(target)).square()).mean()).backward();
        }
        opt.step();
        if (i >= WARMUP) ms[i - WARMUP] = (System.nanoTime() - t0) / 1e6;
      }
    }
    Arrays.sort(ms);
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("step_ms", Math.round(ms[STEPS / 2] * 10) / 10.0);
    r.put("matmul_ms", Math.round(matmul * 10) / 10.0);
    r.put("threads", D2g.cpuThreads());
    r.put("blas", D2g.blasLibrary());
    System.out.println(new ObjectMapper().writeValueAsString(r));
  }
}
