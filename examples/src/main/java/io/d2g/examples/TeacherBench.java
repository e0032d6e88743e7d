package io.d2g.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.cli.Commands;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.hub.ClipTokenizer;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.Outputs;
import io.d2g.models.ClipTextModel;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.pipelines.MultiStepTextToImage;
import io.d2g.train.DenoiseStep;
import io.d2g.train.Ema;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.ParamGroup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * The teacher's two speeds, next to PyTorch's on the same machine: a training step (text encoder and
 * UNet trained together, f32 weights with TF32, the folder's prediction type, MSE, backward, clipping
 * at 1.0, AdamW, EMA: one native {@link DenoiseStep} call) in milliseconds, and sampling throughput
 * (DDIM with classifier-free guidance, text encoding and decoding included) in images per second.
 * PyTorch's side is {@code scripts/gpu/teacher_reference.py} on the same folder (diffusers'
 * UNet2DConditionModel and StableDiffusionPipeline, transformers' CLIPTextModel), run just before.
 *
 * <pre>
 * python3 scripts/gpu/teacher_reference.py runs/teacher/teacher /tmp/ref.json
 * ./d2g example teacher-bench --model runs/teacher/teacher --reference /tmp/ref.json --device cuda --out $OUT
 * </pre>
 */
@Command(name = "teacher-bench", mixinStandardHelpOptions = true,
    description = "The teacher's training step and sampling throughput against PyTorch's (teacher_reference.py).")
public final class TeacherBench implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "The teacher: a diffusers Stable Diffusion folder.")
  Path model;

  @Option(names = "--reference", description = "PyTorch's figures (scripts/gpu/teacher_reference.py), if any.")
  Path reference;

  @Option(names = "--device", defaultValue = "cuda", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE}).")
  String deviceName;

  @Option(names = "--batch", defaultValue = "64", description = "Training batch (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--sample-batch", defaultValue = "256", description = "Images per sampling run (default: ${DEFAULT-VALUE}).")
  int sampleBatch;

  @Option(names = "--sample-steps", defaultValue = "50", description = "DDIM steps (default: ${DEFAULT-VALUE}).")
  int sampleSteps;

  @Option(names = "--cfg", defaultValue = "5", description = "Guidance scale (default: ${DEFAULT-VALUE}).")
  double cfg;

  @Option(names = "--warmup", defaultValue = "5", description = "Untimed training steps first (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--steps", defaultValue = "30", description = "Timed training steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--sample-runs", defaultValue = "3", description = "Timed sampling runs after one untimed (default: ${DEFAULT-VALUE}).")
  int sampleRuns;

  @Option(names = "--out", defaultValue = "target/results", description = "Folder for teacher-speed.json (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--force", description = "Replace an older results file that does not name its producer.")
  boolean force;

  @Spec CommandSpec spec;

  /** The prompts both sides use, cycled: single emoji and scenes of the corpus's kinds. */
  static final List<String> PROMPTS = List.of("cat face, noto style", "a red car on a blue background, twemoji style",
      "a dog to the left of a tree, fluent 3d style", "hot springs, emojione style", "", "grinning face, noto style",
      "a purple hammer and pick on a green background, fluent 3d style", "top hat, twemoji style");

  public static void main(String[] args) {
    Commands.main(new TeacherBench(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (batch < 1 || sampleBatch < 1 || sampleSteps < 1 || steps < 1 || warmup < 0 || sampleRuns < 1)
      throw new ParameterException(spec.commandLine(), "counts must be positive (--warmup may be 0)");
    if (!Files.isRegularFile(model.resolve("model_index.json")))
      throw new ParameterException(spec.commandLine(), "--model " + model + " is not a diffusers pipeline folder");
    JsonNode ref = reference == null ? null : new ObjectMapper().readTree(reference.toFile());
    Device device = Device.parse(deviceName);
    D2g.setAllowTf32(true);
    Map<String, Object> figures = new LinkedHashMap<>(), detail = new LinkedHashMap<>();

    // Training: the folder's weights in f32, one joint step per call; eagerly, and (on CUDA) with the
    // step captured as a CUDA graph. Both start from the folder's weights and see the same batch, so
    // their losses step by step and their final weights show that the graph computes the same step.
    NoiseSchedule schedule = NoiseSchedule.fromConfig(new ObjectMapper().readTree(
        model.resolve("scheduler/scheduler_config.json").toFile()));
    List<Double> eagerLosses = new ArrayList<>(), graphLosses = new ArrayList<>();
    float[][] finalWeights = new float[2][];
    double eagerMs = trainMillis(device, schedule, false, eagerLosses, finalWeights, 0);
    detail.put("ours_train_eager", Map.of("ms", Provenance.round(eagerMs), "batch", batch));
    double trainMs = eagerMs;
    if (device.isCuda()) {
      trainMs = trainMillis(device, schedule, true, graphLosses, finalWeights, 1);
      double lossDiff = 0;
      for (int i = 0; i < eagerLosses.size(); i++)
        lossDiff = Math.max(lossDiff, Math.abs(eagerLosses.get(i) - graphLosses.get(i)) / Math.abs(eagerLosses.get(i)));
      double num = 0, den = 0;
      for (int i = 0; i < finalWeights[0].length; i++) {
        double d = finalWeights[0][i] - finalWeights[1][i];
        num += d * d;
        den += (double) finalWeights[0][i] * finalWeights[0][i];
      }
      detail.put("ours_train_cuda_graphs", Map.of("ms", Provenance.round(trainMs), "batch", batch,
          "steps_compared", eagerLosses.size(), "max_loss_relative_difference_vs_eager", lossDiff,
          "final_unet_weights_relative_l2_vs_eager", Math.sqrt(num / den)));
      figures.put("teacher_train_step_eager_ms", compare(eagerMs, ref, "train", "ms", false));
    }
    figures.put("teacher_train_step_ms", compare(trainMs, ref, "train", "ms", false));

    // Sampling: the pipeline as a user runs it, prompts to pictures.
    try (MultiStepTextToImage pipe = MultiStepTextToImage.load(model, device, MultiStepTextToImage.Sampler.DDIM)) {
      List<String> prompts = new ArrayList<>();
      for (int i = 0; i < sampleBatch; i++) prompts.add(PROMPTS.get(i % PROMPTS.size()).isEmpty() ? "smiling face, noto style"
          : PROMPTS.get(i % PROMPTS.size()));
      double seconds = Timing.median(Timing.sortedMillis(() -> pipe.generate(prompts, sampleSteps, cfg, 0), 1, sampleRuns,
          device)) / 1e3;
      double ips = sampleBatch / seconds;
      detail.put("ours_sample", Map.of("seconds", Provenance.round(seconds), "batch", sampleBatch, "steps", sampleSteps, "cfg", cfg));
      figures.put("teacher_sampling_images_per_s", compare(ips, ref, "sample", "images_per_s", true));
    }

    Map<String, Object> json = Provenance.header();
    json.put("model", model.toAbsolutePath().normalize().toString());
    json.put("method", "training: text encoder + UNet from the folder in f32 (TF32 on), batch " + batch + ", the folder's "
        + "prediction type, MSE, backward, clip_grad_norm 1.0, AdamW (no decay on biases and norms), EMA 0.999 of the UNet; "
        + "median of " + steps + " steps after " + warmup + ", host clock until the loss is on the host. sampling: "
        + sampleBatch + " prompts, DDIM " + sampleSteps + " steps, guidance " + cfg + " (two UNet passes per step), text "
        + "encoding and decoding to 8-bit pictures included; median of " + sampleRuns + " runs after one. pytorch: "
        + "scripts/gpu/teacher_reference.py on the same folder just before (diffusers UNet2DConditionModel and "
        + "StableDiffusionPipeline, transformers CLIPTextModel, torch.optim.AdamW fused, torch._foreach_lerp_ EMA). ratio: "
        + "our time / PyTorch's (for throughput: PyTorch's images/s / ours)");
    json.put("figures", figures);
    json.put("detail", detail);
    if (ref != null) json.put("pytorch", ref);
    Path file = Outputs.writeResults(out.resolve("teacher-speed.json"), "d2g TeacherBench", force, json);
    System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(figures));
    System.out.println("wrote " + file);
    return 0;
  }

  /** {ours, pytorch, ratio}; the ratio is always ours' time over PyTorch's. */
  /**
   * Median milliseconds of one joint training step (text encoder + UNet from the folder), with or
   * without CUDA graphs; every step's loss goes to {@code losses} and the UNet's final weights to
   * {@code weights[slot]}.
   */
  private double trainMillis(Device device, NoiseSchedule schedule, boolean graphs, List<Double> losses, float[][] weights,
      int slot) {
    ClipTokenizer tok = ClipTokenizer.load(model.resolve("tokenizer"));
    var opts = DiffusersFolder.LoadOptions.DEFAULT.on(device, DType.F32);
    try (ClipTextModel text = DiffusersFolder.load(model.resolve("text_encoder"), ClipTextModel.FAMILY, opts);
        UNet2DConditionModel unet = DiffusersFolder.load(model.resolve("unet"), UNet2DConditionModel.FAMILY, opts);
        TensorScope s = new TensorScope()) {
      text.train(true);
      unet.train(true);
      Map<String, Tensor> all = new LinkedHashMap<>();
      unet.parameters().forEach((k, v) -> all.put("unet." + k, s.track(v)));
      text.parameters().forEach((k, v) -> all.put("text_encoder." + k, s.track(v)));
      long c = unet.config().inChannels(), side = unet.config().sampleSize() == null ? 64 : unet.config().sampleSize();
      List<String> prompts = new ArrayList<>();
      for (int i = 0; i < batch; i++) prompts.add(PROMPTS.get(i % PROMPTS.size()));
      try (Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-4).withWeightDecay(0.01), all,
              ParamGroup.noWeightDecay(ParamGroup.BIASES_AND_NORMS));
          Ema ema = Ema.of(unet);
          DenoiseStep step = DenoiseStep.create(unet, opt, ema, null, schedule,
              new DenoiseStep.Options(DenoiseStep.Precision.F32, 1.0, 0.999).withCudaGraphs(graphs)).withTextEncoder(text);
          Generator g = Generator.create(Device.CPU, 1)) {
        Tensor x0 = s.track(s.track(Tensor.randn(g, DType.F32, batch, c, side, side)).to(device));
        Tensor noise = s.track(s.track(Tensor.randn(g, DType.F32, batch, c, side, side)).to(device));
        Tensor ids = s.track(s.track(tok.encodeBatch(prompts)).to(device));
        Tensor t = s.track(s.track(Tensor.of(new SplittableRandom(2).longs(batch, 0, schedule.numTrainTimesteps()).toArray(),
            batch)).to(device));
        // each run returns with the loss on the host
        double[] ms = Timing.sortedMillis(() -> losses.add(step.run(x0, ids, t, noise).loss()), warmup, steps, device);
        weights[slot] = s.track(s.track(Tensor.cat(unet.parameters().values().stream()
            .map(p -> s.track(s.track(s.track(p).reshape(-1)).to(Device.CPU))).toList(), 0))).toFloatArray();
        return Timing.median(ms);
      }
    }
  }

  private static Map<String, Object> compare(double ours, JsonNode ref, String part, String key, boolean throughput) {
    Map<String, Object> f = new LinkedHashMap<>();
    f.put("ours", Provenance.round(ours));
    if (ref != null && ref.path(part).path(key).isNumber()) {
      double theirs = ref.path(part).path(key).asDouble();
      f.put("pytorch", Provenance.round(theirs));
      f.put("ratio", Provenance.round(throughput ? theirs / ours : ours / theirs));
    }
    return f;
  }

}
