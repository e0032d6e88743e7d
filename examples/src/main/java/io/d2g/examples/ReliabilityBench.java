package io.d2g.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.cli.Commands;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.Outputs;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.pipelines.TextToImage;
import io.d2g.train.DenoiseStep;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Leaks and load (issue 15): the process's resident memory over {@code --calls} runs of the one-step
 * pipeline (prompt to picture) and over as many training steps, sampled every twentieth of the run after
 * a warm-up (growth = last sample - first; on CUDA also each window's peak GPU memory), and
 * {@code --threads} threads running the pipeline at once against the same calls made one after another
 * (every picture must be the same, pixel for pixel).
 * Writes reliability-load.json.
 *
 * <pre>
 * ./d2g example reliability-bench --model test/fixtures/sd-pipeline-tiny --calls 10000 --out target/results
 * </pre>
 */
@Command(name = "reliability-bench", mixinStandardHelpOptions = true,
    description = "Leaks and load: memory over many pipeline runs and training steps; concurrent runs against sequential ones.")
public final class ReliabilityBench implements Callable<Integer> {
  private static final List<String> PROMPTS = List.of("a red car, noto style", "a cat, twemoji style", "a cat face",
      "a red car");

  @Option(names = "--model", defaultValue = "test/fixtures/sd-pipeline-tiny",
      description = "A diffusers pipeline folder (default: ${DEFAULT-VALUE}, a tiny random one).")
  Path model;

  @Option(names = "--calls", defaultValue = "10000", description = "Pipeline runs and training steps (default: ${DEFAULT-VALUE}).")
  int calls;

  @Option(names = "--train-steps", description = "Training steps (default: as many as --calls).")
  Integer trainSteps;

  @Option(names = "--concurrent", defaultValue = "16", description = "Threads running the pipeline at once (default: ${DEFAULT-VALUE}).")
  int threads;

  @Option(names = "--out", defaultValue = "target/results", description = "Folder for reliability-load.json (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--force", description = "Replace an older results file that does not name its producer.")
  boolean force;

  @Mixin ComputeOptions compute;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new ReliabilityBench(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (calls < 100 || threads < 1) throw new ParameterException(spec.commandLine(), "--calls must be >= 100 and --concurrent >= 1");
    if (!Files.isRegularFile(model.resolve("model_index.json")))
      throw new ParameterException(spec.commandLine(), "--model " + model + " is not a diffusers pipeline folder");
    Device device = compute.apply();
    Map<String, Object> figures = new LinkedHashMap<>(), detail = new LinkedHashMap<>();
    try (TextToImage pipe = TextToImage.load(model, TextToImage.Options.on(device, DType.F32))) {
      List<Double> gpu = new ArrayList<>();
      detail.put("pipeline_rss_mb", memoryOver(calls, i -> pipe.generate(PROMPTS.get(i % PROMPTS.size()), i), device, gpu));
      figures.put("pipeline_rss_growth_mb", growth(detail.get("pipeline_rss_mb")));
      if (!gpu.isEmpty()) {
        detail.put("pipeline_gpu_peak_mb", gpu);
        figures.put("pipeline_gpu_peak_growth_mb", growth(gpu));
      }
      figures.put("concurrent_pictures_equal_sequential", concurrentMatchesSequential(pipe, detail));
    }
    detail.put("java_heap_committed_mb", Provenance.round(Runtime.getRuntime().totalMemory() / 1048576.0));
    List<Double> gpu = new ArrayList<>();
    detail.put("train_step_rss_mb", trainMemory(device, gpu));
    figures.put("train_step_rss_growth_mb", growth(detail.get("train_step_rss_mb")));
    if (!gpu.isEmpty()) {
      detail.put("train_step_gpu_peak_mb", gpu);
      figures.put("train_step_gpu_peak_growth_mb", growth(gpu));
    }
    Map<String, Object> json = Provenance.header();
    json.put("model", model.toString());
    json.put("method", calls + " one-step pipeline runs (one prompt to one picture) and " + (trainSteps == null ? calls : trainSteps)
        + " training steps (the "
        + "folder's UNet, AdamW, batch 2) on " + device + "; resident set size (VmRSS) sampled every " + calls / 20
        + " after " + warmup() + " warm-up calls; on CUDA also the peak GPU memory held by the caching "
        + "allocator in each sampling window (MB); growth = last sample - first. Concurrency: " + threads + " threads each "
        + "making the pictures of its own prompts and seeds at once, compared pixel for pixel with the same calls made one "
        + "after another. The resident set includes the Java heap: run with a fixed, pre-touched heap (-Xms = -Xmx, "
        + "-XX:+AlwaysPreTouch) so that its growth is the native side's.");
    json.put("figures", figures);
    json.put("detail", detail);
    Path file = Outputs.writeResults(out.resolve("reliability-load.json"), "d2g ReliabilityBench", force, json);
    System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(figures));
    System.out.println("wrote " + file);
    return 0;
  }

  private int warmup() {
    return Math.min(500, calls / 10);
  }

  /**
   * RSS samples (MB) over {@code n} calls of {@code body}, after the warm-up; on a CUDA device also the
   * peak GPU memory (MB held by the caching allocator) of each sampling window, into {@code gpuPeaks}.
   */
  private List<Double> memoryOver(int n, IntConsumer body, Device device, List<Double> gpuPeaks) throws IOException {
    for (int i = 0; i < warmup(); i++) body.accept(i);
    D2g.synchronize(device);
    List<Double> samples = new ArrayList<>();
    samples.add(rssMb());
    if (device.isCuda()) gpuPeaks.add(gpuPeakMb(device));
    int every = Math.max(1, n / 20);
    for (int i = 0; i < n; i++) {
      body.accept(i);
      if ((i + 1) % every == 0) {
        D2g.synchronize(device);
        samples.add(rssMb());
        if (device.isCuda()) gpuPeaks.add(gpuPeakMb(device));
      }
    }
    return samples;
  }

  /** The GPU memory peak (MB) since the last call, and a new window started. */
  private static double gpuPeakMb(Device device) {
    return Provenance.round(D2g.cudaMemoryPeak(device, true) / 1048576.0);
  }

  @SuppressWarnings("unchecked")
  private static double growth(Object samples) {
    List<Double> s = (List<Double>) samples;
    return Provenance.round(s.get(s.size() - 1) - s.get(0));
  }

  private List<Double> trainMemory(Device device, List<Double> gpuPeaks) throws IOException {
    NoiseSchedule schedule = NoiseSchedule.read(model.resolve("scheduler/scheduler_config.json"));
    try (UNet2DConditionModel unet = DiffusersFolder.load(model.resolve("unet"), UNet2DConditionModel.FAMILY,
            DiffusersFolder.LoadOptions.DEFAULT.on(device, DType.F32));
        Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-4), unet);
        DenoiseStep step = DenoiseStep.create(unet, opt, null, null, schedule, DenoiseStep.Options.DEFAULT);
        Generator g = Generator.create(Device.CPU, 1);
        TensorScope s = new TensorScope()) {
      unet.train(true);
      long c = unet.config().inChannels(), side = unet.config().sampleSize() == null ? 8 : unet.config().sampleSize();
      long ctxLen = 5, ctxDim = unet.config().crossAttentionDim().get(0);
      Tensor x0 = s.track(s.track(Tensor.randn(g, DType.F32, 2, c, side, side)).to(device));
      Tensor noise = s.track(s.track(Tensor.randn(g, DType.F32, 2, c, side, side)).to(device));
      Tensor ctx = s.track(s.track(Tensor.randn(g, DType.F32, 2, ctxLen, ctxDim)).to(device));
      Tensor t = s.track(Tensor.of(new long[] {10, 700}, 2));
      return memoryOver(trainSteps == null ? calls : trainSteps, i -> step.run(x0, ctx, t, noise), device, gpuPeaks);
    }
  }

  /**
   * Every thread's pictures equal the same calls made one after another. When they do not, two controls
   * tell a race from a difference of determinism: the sequential calls made again on this thread, and
   * made one at a time on another thread.
   */
  private boolean concurrentMatchesSequential(TextToImage pipe, Map<String, Object> detail) throws Exception {
    int perThread = 4, n = threads * perThread;
    IntFunction<int[]> call = k -> pixels(pipe.generate(PROMPTS.get(k % PROMPTS.size()), 1000 + k));
    int[][] want = new int[n][];
    for (int k = 0; k < n; k++) want[k] = call.apply(k);
    int[][] got = new int[n][];
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int th = 0; th < threads; th++) {
        int first = th * perThread;
        futures.add(pool.submit(() -> {
          for (int j = 0; j < perThread; j++) got[first + j] = call.apply(first + j);
        }));
      }
      for (Future<?> f : futures) f.get();
    } finally {
      pool.shutdownNow();
    }
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("threads", threads);
    c.put("pictures", n);
    c.put("mismatches", mismatches(want, got));
    c.put("max_channel_difference", maxDifference(want, got));
    if ((int) c.get("mismatches") > 0) { // the controls
      int[][] again = new int[n][], other = new int[n][];
      for (int k = 0; k < n; k++) again[k] = call.apply(k);
      ExecutorService one = Executors.newSingleThreadExecutor();
      try {
        one.submit(() -> {
          for (int k = 0; k < n; k++) other[k] = call.apply(k);
        }).get();
      } finally {
        one.shutdownNow();
      }
      c.put("sequential_again_mismatches", mismatches(want, again));
      c.put("sequential_on_another_thread_mismatches", mismatches(want, other));
      c.put("sequential_on_another_thread_max_channel_difference", maxDifference(want, other));
    }
    detail.put("concurrency", c);
    return (int) c.get("mismatches") == 0;
  }

  private static int mismatches(int[][] a, int[][] b) {
    int m = 0;
    for (int i = 0; i < a.length; i++) if (!Arrays.equals(a[i], b[i])) m++;
    return m;
  }

  /** The largest difference of one colour channel (0..255) between the two sets of pictures. */
  private static int maxDifference(int[][] a, int[][] b) {
    int d = 0;
    for (int i = 0; i < a.length; i++)
      for (int p = 0; p < a[i].length; p++)
        for (int sh = 0; sh <= 16; sh += 8) d = Math.max(d, Math.abs((a[i][p] >> sh & 0xff) - (b[i][p] >> sh & 0xff)));
    return d;
  }

  private static int[] pixels(BufferedImage img) {
    return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
  }

  private static double rssMb() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status")))
      if (line.startsWith("VmRSS:")) return Provenance.round(Long.parseLong(line.replaceAll("\\D+", "")) / 1024.0);
    return Double.NaN;
  }
}
