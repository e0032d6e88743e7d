package io.d2g.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.cli.Commands;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.diffusion.Prediction;
import io.d2g.hub.DiffusersFolder;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.nn.NativeModule;
import io.d2g.pipelines.OneStepPipeline;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * Full-size SD1.5 on the GPU: parity of our text encoder, UNet and VAE decoder with the reference
 * implementations (weights and reference outputs from scripts/gpu/sd15_reference.py), then the speed
 * of the one-step pipeline (text → UNet → VAE decode → u8) with CUDA graphs in f16.
 *
 * <pre>
 * ./d2g example sd15-bench REF_DIR OUT_DIR [options]   (--help lists them)
 * java --enable-native-access=ALL-UNNAMED -cp ... io.d2g.examples.Sd15Bench REF_DIR OUT_DIR [options]
 * </pre>
 * writes OUT_DIR/sd15-parity.json and OUT_DIR/sd15-onestep.json. Options: {@code --device cpu} (f32
 * parity only, a check before a GPU run); {@code --variants a,b,...} (speed configurations, in that
 * order; the first one's first image is the cold one); {@code --no-parity}; {@code --name NAME}
 * (writes OUT_DIR/NAME.json instead of sd15-onestep.json); {@code --trace} (after the timings, Kineto
 * traces of 3 batch-1 runs, channels_last with fused kernels, replayed graphs and eager:
 * OUT_DIR/trace-graphs-b1.json, OUT_DIR/trace-eager-b1.json; summarise with scripts/dev/trace_summary.py).
 */
@Command(name = "sd15-bench", mixinStandardHelpOptions = true,
    description = "Full-size SD1.5 parity with diffusers/transformers, then the one-step pipeline's speed.")
public final class Sd15Bench implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PRODUCER = "d2g Sd15Bench";
  private static final Set<String> VARIANTS = Set.of("graphs_nhwc", "graphs", "graphs_nhwc_unfused", "graphs_unfused",
      "eager_nhwc", "eager", "eager_nhwc_unfused", "eager_unfused", "graphs_nhwc_benchmark", "graphs_benchmark");

  @Parameters(index = "0", paramLabel = "REF_DIR", description = "Weights and reference outputs from scripts/gpu/sd15_reference.py.")
  Path ref;

  @Parameters(index = "1", paramLabel = "OUT_DIR", description = "Folder for the results files (created if missing; "
      + "an existing results file there is replaced only when Sd15Bench wrote it).")
  Path out;

  @Option(names = "--device", defaultValue = "cuda:0", description = "cuda:N, or cpu for an f32 parity check only "
      + "(default: ${DEFAULT-VALUE}).")
  String deviceName;

  @Option(names = "--variants", split = ",", defaultValue = "graphs_nhwc,graphs,graphs_nhwc_unfused,graphs_unfused",
      description = "Speed configurations, in this order (default: ${DEFAULT-VALUE}); the first one's first image is the cold one.")
  List<String> variantList;

  @Option(names = "--no-parity", description = "Skip the parity checks.")
  boolean noParity;

  @Option(names = "--name", defaultValue = "sd15-onestep", description = "Speed results go to OUT_DIR/NAME.json (default: ${DEFAULT-VALUE}).")
  String name;

  @Option(names = "--trace", description = "After the timings, Kineto traces of 3 batch-1 runs (graphs and eager) "
      + "to OUT_DIR/trace-*-b1.json.")
  boolean trace;

  @Option(names = "--force", description = "Replace older results files in OUT_DIR that do not name their producer.")
  boolean force;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new Sd15Bench(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (!Files.isDirectory(ref)) throw new ParameterException(spec.commandLine(), "REF_DIR " + ref + " is not a folder");
    if (!name.matches("[A-Za-z0-9_.-]{1,64}")) throw new ParameterException(spec.commandLine(), "--name must be a plain file name");
    for (String v : variantList)
      if (!VARIANTS.contains(v)) throw new ParameterException(spec.commandLine(), "unknown variant " + v + "; known: " + new TreeSet<>(VARIANTS));
    Device gpu;
    try {
      gpu = Device.parse(deviceName);
    } catch (RuntimeException e) {
      throw new ParameterException(spec.commandLine(), "--device: " + e.getMessage());
    }
    String[] variants = variantList.toArray(String[]::new);
    boolean checkParity = !noParity;
    Path outDir = Outputs.prepareFolder(out, RESULTS_FOLDER, false);
    String card = gpu.isCuda() ? D2g.cudaDeviceName(gpu.index()) : "cpu";
    System.out.printf("%s, LibTorch %s%n", card, D2g.torchVersion());
    ObjectNode parity = JSON.createObjectNode();
    ObjectNode speed = JSON.createObjectNode();

    long t0 = System.nanoTime();
    ClipTextModel text = DiffusersFolder.load(ref.resolve("text_encoder"), ClipTextModel.FAMILY,
        DiffusersFolder.LoadOptions.DEFAULT.on(gpu, DType.F32));
    UNet2DConditionModel unet = DiffusersFolder.load(ref.resolve("unet"), UNet2DConditionModel.FAMILY,
        DiffusersFolder.LoadOptions.DEFAULT.on(gpu, DType.F32));
    AutoencoderKL vae = DiffusersFolder.load(ref.resolve("vae"), AutoencoderKL.FAMILY,
        DiffusersFolder.LoadOptions.DEFAULT.on(gpu, DType.F32));
    for (NativeModule m : new NativeModule[] {text, unet, vae}) m.eval();
    System.out.printf("loaded f32 weights in %.1f s%n", (System.nanoTime() - t0) / 1e9);

    D2g.setAllowTf32(false);
    if (checkParity) parity.set("f32", compare(text, unet, vae, ref.resolve("io_f32.safetensors"), DType.F32, gpu));
    for (NativeModule m : new NativeModule[] {text, unet, vae}) m.to(gpu, DType.F16);
    if (checkParity && gpu.isCuda())
      parity.set("f16", compare(text, unet, vae, ref.resolve("io_f16.safetensors"), DType.F16, gpu));
    if (checkParity) {
      System.out.println("parity " + parity);
      write(outDir.resolve("sd15-parity.json"), card, parity);
    }
    if (!gpu.isCuda()) return 0; // the CPU run checks parity only

    // ---- speed: f16, CUDA graphs ----
    D2g.setAllowTf32(true);
    double sf = vae.scalingFactor();
    NoiseSchedule schedule = NoiseSchedule.read(Path.of("java/src/main/resources/io/d2g/models/presets/sd15/scheduler.json"));
    long t = 999;
    double abar = schedule.alphaBar((int) t);
    D2g.synchronize(gpu);
    D2g.cudaMemoryPeak(gpu, true);
    // graphs_nhwc: channels_last, fused kernels (the default); graphs: NCHW; *_unfused: the same with
    // the hand-written kernels off (LibTorch's GroupNorm and SiLU), the A/B of those kernels;
    // *_benchmark: cuDNN benchmarking instead of its heuristics (run it in a process of its own: the
    // plans of the first configuration are cached per shape whatever the mode).
    boolean kernels = D2g.setFusedKernels(true);
    speed.put("fused_kernels_compiled", kernels);
    for (String variant : variants) {
      boolean graphs = variant.startsWith("graphs");
      boolean nhwc = variant.contains("nhwc");
      D2g.setFusedKernels(!variant.contains("unfused"));
      D2g.setCudnnBenchmark(variant.endsWith("benchmark"));
      unet.channelsLast(nhwc);
      vae.channelsLast(nhwc);
      for (int b : new int[] {1, 4}) {
        try (TensorScope s = new TensorScope();
            OneStepPipeline p = new OneStepPipeline(text, unet, vae, Prediction.EPSILON, sf, graphs)) {
          long[] ids = new long[b * 77];
          for (int i = 0; i < ids.length; i++) ids[i] = i % 77 == 0 ? 49406 : i % 77 < 12 ? 320 + i % 77 : 49407;
          Tensor idCpu = s.track(Tensor.of(ids, b, 77));
          D2g.manualSeed(0);
          Tensor noise = s.track(Tensor.randn(DType.F16, gpu, b, 4, 64, 64));
          long f0 = System.nanoTime();
          try (Tensor img = p.run(idCpu, noise, t, abar)) {
            img.toByteArray();
          }
          double first = (System.nanoTime() - f0) / 1e9;
          int reps = 40;
          double[] wall = new double[reps], tx = new double[reps], un = new double[reps], va = new double[reps];
          for (int i = 0; i < 5; i++) p.run(idCpu, noise, t, abar).close();
          for (int i = 0; i < reps; i++) {
            long a = System.nanoTime();
            try (Tensor img = p.run(idCpu, noise, t, abar)) {
              img.toByteArray(); // the images on the host: the whole request, end to end
            }
            wall[i] = (System.nanoTime() - a) / 1e6;
            OneStepPipeline.Timings tm = p.lastTimings();
            tx[i] = tm.textMs();
            un[i] = tm.unetMs();
            va[i] = tm.vaeMs();
          }
          String tag = variant + "_b" + b;
          ObjectNode f = speed.putObject(tag);
          f.put("onestep_ms", median(wall)).put("onestep_ms_min", min(wall)).put("onestep_ms_max", max(wall));
          f.put("text_ms", median(tx)).put("unet_ms", median(un)).put("vae_decode_ms", median(va));
          f.put("first_image_s", first);
          System.out.printf("%-16s onestep %7.2f ms (min %.2f max %.2f)  text %.2f  unet %.2f  vae %.2f  first image %.2f s%n",
              tag, median(wall), min(wall), max(wall), median(tx), median(un), median(va), first);
        }
      }
    }
    long peak = D2g.cudaMemoryPeak(gpu, false);
    if (trace) {
      D2g.setFusedKernels(true);
      D2g.setCudnnBenchmark(false);
      unet.channelsLast(true);
      vae.channelsLast(true);
      for (boolean graphs : new boolean[] {true, false}) {
        try (TensorScope s = new TensorScope();
            OneStepPipeline p = new OneStepPipeline(text, unet, vae, Prediction.EPSILON, sf, graphs)) {
          long[] ids = new long[77];
          for (int i = 0; i < ids.length; i++) ids[i] = i == 0 ? 49406 : i < 12 ? 320 + i : 49407;
          Tensor idCpu = s.track(Tensor.of(ids, 1, 77));
          Tensor noise = s.track(Tensor.randn(DType.F16, gpu, 1, 4, 64, 64));
          for (int i = 0; i < 3; i++) p.run(idCpu, noise, t, abar).close();
          D2g.synchronize(gpu);
          D2g.startTrace();
          for (int i = 0; i < 3; i++) p.run(idCpu, noise, t, abar).close();
          D2g.synchronize(gpu);
          D2g.stopTrace(outDir.resolve(graphs ? "trace-graphs-b1.json" : "trace-eager-b1.json"));
        }
      }
    }
    ObjectNode figs = JSON.createObjectNode();
    String best1 = fastest(speed, "_b1"), best4 = fastest(speed, "_b4");
    figs.put("onestep_b1_ms", speed.get(best1).get("onestep_ms").asDouble());
    figs.put("onestep_b4_ms", speed.get(best4).get("onestep_ms").asDouble());
    figs.put("first_image_s", speed.get(best1).get("first_image_s").asDouble());
    // The very first pipeline of the process (nothing cached yet), whatever its configuration.
    figs.put("first_image_cold_s", speed.get(variants[0] + "_b1").get("first_image_s").asDouble());
    figs.put("first_image_cold_configuration", variants[0] + "_b1");
    figs.put("unet_b1_ms", speed.get(best1).get("unet_ms").asDouble());
    figs.put("vae_decode_b1_ms", speed.get(best1).get("vae_decode_ms").asDouble());
    figs.put("text_b1_ms", speed.get(best1).get("text_ms").asDouble());
    figs.put("configuration_b1", best1);
    figs.put("configuration_b4", best4);
    figs.put("peak_gpu_gb", Math.round(peak / 1e7) / 100.0);
    figs.set("detail", speed);
    figs.put("method", "f16 weights, TF32 allowed; onestep_ms: host clock from run() to the u8 images on the host, "
        + "median of 40 after 5 warm-ups; stage times from CUDA events around each replayed graph; first_image_s: first run of a new pipeline (graph capture and cuDNN autotuning "
        + "included), weights already on the GPU; prompt ids given on the host");
    if (checkParity && Files.exists(ref.resolve("io_bf16.safetensors"))) {
      // bf16 last, from the f16 weights (the reference converts its weights by the same chain):
      // the default configuration (channels_last, fused kernels), then NCHW with the kernels off,
      // which runs the reference's own ATen operations.
      for (NativeModule m : new NativeModule[] {text, unet, vae}) m.to(gpu, DType.BF16);
      D2g.setFusedKernels(true);
      unet.channelsLast(true);
      vae.channelsLast(true);
      parity.set("bf16", compare(text, unet, vae, ref.resolve("io_bf16.safetensors"), DType.BF16, gpu));
      D2g.setFusedKernels(false);
      unet.channelsLast(false);
      vae.channelsLast(false);
      parity.set("bf16_kernels_off_nchw",
          compare(text, unet, vae, ref.resolve("io_bf16.safetensors"), DType.BF16, gpu));
      D2g.setFusedKernels(true);
      Path own = ref.resolve("reference_half_vs_f32.json");
      if (Files.exists(own)) parity.set("reference_half_vs_its_f32", JSON.readTree(own.toFile()));
      System.out.println("parity " + parity);
      write(outDir.resolve("sd15-parity.json"), card, parity);
    }
    Path baseline = ref.resolve("baseline.json");
    if (Files.exists(baseline)) figs.set("pytorch_eager_same_run", JSON.readTree(baseline.toFile()));
    write(outDir.resolve(name + ".json"), card, figs);
    System.out.println("speed " + figs);
    return 0;
  }

  private static ObjectNode compare(ClipTextModel text, UNet2DConditionModel unet, AutoencoderKL vae, Path io, DType dt,
      Device gpu) {
    ObjectNode r = JSON.createObjectNode();
    try (SafetensorsFile f = Safetensors.open(io); TensorScope s = new TensorScope()) {
      Tensor ids = s.track(f.tensor("input_ids").to(gpu));
      Tensor hidden = s.track(text.lastHiddenState(ids));
      r.put("text_hidden", relErr(hidden, s.track(f.tensor("text_hidden"))));
      r.put("text_pooled", relErr(s.track(text.pooled(ids)), s.track(f.tensor("text_pooled"))));
      Tensor lat = s.track(f.tensor("latents").to(gpu, dt));
      Tensor ts = s.track(f.tensor("timestep").to(gpu));
      Tensor ctx = s.track(f.tensor("text_hidden").to(gpu, dt));
      Tensor eps = s.track(unet.forward(lat, ts, ctx));
      Tensor epsRef = s.track(f.tensor("unet_out"));
      r.put("unet_out", relErr(eps, epsRef));
      float[] z = epsRef.toFloatArray();
      for (int i = 0; i < z.length; i++) z[i] /= (float) vae.scalingFactor();
      Tensor zT = s.track(Tensor.of(z, epsRef.shape()).to(gpu, dt));
      r.put("vae_decoded", relErr(s.track(vae.decode(zT)), s.track(f.tensor("vae_decoded"))));
    }
    return r;
  }

  /** ‖a − b‖ / ‖b‖ in double precision on the host; NaN anywhere gives NaN. */
  static double relErr(Tensor a, Tensor b) {
    float[] x, y;
    try (Tensor af = a.to(Device.CPU, DType.F32); Tensor bf = b.to(Device.CPU, DType.F32)) {
      x = af.toFloatArray();
      y = bf.toFloatArray();
    }
    if (x.length != y.length) throw new IllegalStateException("sizes differ: " + x.length + " vs " + y.length);
    double num = 0, den = 0;
    for (int i = 0; i < x.length; i++) {
      double d = x[i] - y[i];
      num += d * d;
      den += (double) y[i] * y[i];
    }
    return Math.sqrt(num / den);
  }

  /** OUT_DIR: a folder of results files (or traces) of this program, or a new or empty one. */
  private static final OutputKind RESULTS_FOLDER = OutputKind.filesFolder("Sd15Bench results folder",
      Set.of("sd15-parity.json", "sd15-onestep.json"), n -> n.endsWith(".json"));

  private void write(Path p, String card, ObjectNode figures) {
    ObjectNode root = JSON.createObjectNode();
    root.put("machine", D2g.machine());
    root.put("date", LocalDate.now().toString());
    root.set("figures", figures);
    Outputs.writeResults(p, PRODUCER, force, root);
  }

  /** The fastest configuration with fused kernels (the library's default) for one batch size. */
  private static String fastest(ObjectNode speed, String batchSuffix) {
    String best = null;
    for (var it = speed.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!k.endsWith(batchSuffix) || k.contains("unfused") || !speed.get(k).has("onestep_ms")) continue;
      if (best == null || speed.get(k).get("onestep_ms").asDouble() < speed.get(best).get("onestep_ms").asDouble()) best = k;
    }
    return best;
  }

  private static double median(double[] a) {
    double[] c = a.clone();
    Arrays.sort(c);
    return Math.round(c[c.length / 2] * 1000) / 1000.0;
  }

  private static double min(double[] a) {
    return Math.round(Arrays.stream(a).min().orElse(0) * 1000) / 1000.0;
  }

  private static double max(double[] a) {
    return Math.round(Arrays.stream(a).max().orElse(0) * 1000) / 1000.0;
  }
}
