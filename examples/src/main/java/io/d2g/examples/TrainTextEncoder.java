package io.d2g.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.cli.Commands;
import io.d2g.data.emoji.EmojiDataset;
import io.d2g.data.emoji.EmojiRecord;
import io.d2g.data.emoji.SceneComposer;
import io.d2g.data.emoji.SpriteAtlas;
import io.d2g.eval.Embeddings;
import io.d2g.eval.Estimate;
import io.d2g.eval.JudgeMetrics;
import io.d2g.eval.JudgeValidation;
import io.d2g.hub.ClipBpeTrainer;
import io.d2g.hub.ClipTokenizer;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.Outputs;
import io.d2g.models.ClipModel;
import io.d2g.models.ClipModelConfig;
import io.d2g.models.ClipTextConfig;
import io.d2g.models.ClipTextModel;
import io.d2g.train.Checkpoints;
import io.d2g.train.ContrastiveStep;
import io.d2g.train.LrSchedule;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.ParamGroup;
import io.d2g.train.Prefetcher;
import io.d2g.train.TrainingLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.BiFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Pretrains the teacher's text encoder contrastively, as Stable Diffusion's own (OpenAI's CLIP) was
 * made before any UNet saw it: a {@link ClipModel} — the teacher's CLIP text encoder (same vocabulary,
 * learnt from the caption corpus as {@link TrainTeacher} learns it, same width and depth) with a
 * projection, and a small convolutional image tower — learns CLIP's symmetric contrastive loss over
 * composed scenes and their captions ({@link ContrastiveStep}). Checkpoints (kill it and run the same
 * command again to resume), metrics as JSON lines and their curve. At the end {@code text_encoder/}
 * (the text encoder alone, f32, a transformers CLIPTextModel folder) and {@code tokenizer/}, which
 * {@code train-teacher --text-encoder RUN [--freeze-text-encoder]} starts from, and
 * {@code text-encoder-validation.json}: image-to-caption retrieval on scenes the training never drew.
 *
 * <pre>
 * ./d2g example pretrain-text-encoder --out runs/text --device cuda
 * ./d2g example train-teacher --vae runs/vae/vae --text-encoder runs/text --freeze-text-encoder --out runs/teacher-clip --device cuda
 * </pre>
 */
@Command(name = "pretrain-text-encoder", mixinStandardHelpOptions = true,
    description = "Pretrain the teacher's text encoder contrastively (CLIP-style) on composed emoji scenes; resumes after a kill.")
public final class TrainTextEncoder implements Callable<Integer> {
  @Option(names = "--data", defaultValue = "data/emoji-64", description = "The emoji dataset (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--out", required = true, description = "Run folder: checkpoints, metrics.jsonl, text_encoder/, tokenizer/.")
  Path out;

  @Option(names = "--steps", defaultValue = "2000", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
  long steps;

  @Option(names = "--batch", defaultValue = "256", description = "Pairs per step (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--lr", defaultValue = "1e-3", description = "AdamW learning rate (default: ${DEFAULT-VALUE}).")
  double lr;

  @Option(names = "--text-width", defaultValue = "128", description = "Text encoder width, as train-teacher's (default: ${DEFAULT-VALUE}).")
  int textWidth;

  @Option(names = "--text-layers", defaultValue = "4", description = "Text encoder layers, as train-teacher's (default: ${DEFAULT-VALUE}).")
  int textLayers;

  @Option(names = "--vocab", defaultValue = "4096", description = "Most tokens in the learnt vocabulary, as train-teacher's (default: ${DEFAULT-VALUE}).")
  int vocab;

  @Option(names = "--image-widths", split = ",", defaultValue = "32,64,128,256",
      description = "Widths of the image tower's stages (default: ${DEFAULT-VALUE}).")
  List<Integer> imageWidths;

  @Option(names = "--seed", defaultValue = "21", description = "Seed of the weights and the scenes (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--checkpoint-every", defaultValue = "250", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
  long checkpointEvery;

  @Option(names = "--log-every", defaultValue = "50", description = "Steps between log lines (default: ${DEFAULT-VALUE}).")
  long logEvery;

  @Option(names = "--eval-scenes", defaultValue = "1024", description = "Held-out scenes of the final retrieval check (default: ${DEFAULT-VALUE}).")
  int evalScenes;

  @Mixin ComputeOptions compute;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new TrainTextEncoder(), args);
  }

  @Override
  public Integer call() throws Exception {
    require(steps >= 1 && batch >= 2 && batch <= 8192, "--steps must be at least 1 and --batch 2 to 8192");
    require(lr > 0 && lr < 1, "--lr must be in (0, 1)");
    require(textWidth >= 8 && textWidth % 8 == 0 && textWidth <= 2048, "--text-width must be a multiple of 8 from 8 to 2048");
    require(checkpointEvery >= 1 && logEvery >= 1, "--checkpoint-every and --log-every must be at least 1");
    require(evalScenes >= 2 && evalScenes <= 65536, "--eval-scenes must be 2 to 65536");
    Device device = compute.apply();
    ClipTokenizer tok = ClipBpeTrainer.train(TrainTeacher.trainingCaptions(data), vocab, 2);
    ClipTextConfig textConfig = TrainTeacher.textConfig(tok, textWidth, textLayers);
    ClipModelConfig config;
    try {
      config = new ClipModelConfig(textConfig, imageWidths, 8);
    } catch (InvalidArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    ObjectNode run = new ObjectMapper().createObjectNode();
    run.put("steps", steps).put("batch", batch).put("lr", lr).put("text_width", textWidth).put("text_layers", textLayers)
        .put("vocab", vocab).put("image_widths", imageWidths.toString()).put("seed", seed).put("device", compute.device)
        .put("data", data.toAbsolutePath().normalize().toString());
    String runConfig = run.toString();
    Checkpoints checkpoints = new Checkpoints(out.resolve("checkpoints"), 2);

    try (EmojiDataset ds = EmojiDataset.open(data)) {
      SceneComposer scenes = new SceneComposer(SpriteAtlas.of(ds, EmojiRecord::isTrain),
          SceneComposer.Options.defaults(ds.manifest().path("size").asInt(64)));
      D2g.manualSeed(seed); // the initial weights
      try (ClipModel model = new ClipModel(config);
          Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(lr).withWeightDecay(0.05), model.to(device, DType.F32),
              ParamGroup.noWeightDecay(ParamGroup.BIASES_AND_NORMS));
          ContrastiveStep step = ContrastiveStep.create(model, opt, null, new ContrastiveStep.Options(false, 1.0))) {
        model.train(true);
        LrSchedule lrs = LrSchedule.warmupCosine(Math.min(200, steps / 10), steps, 0.02);
        long start;
        try {
          start = checkpoints.resume(runConfig, c -> {
            model.loadState(c.section("model"), true);
            opt.loadState(c.section("optimizer"));
          });
        } catch (Checkpoints.OtherSettingsException e) {
          throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (start > 0) System.out.printf("resumed at step %d of %d%n", start, steps);
        Files.createDirectories(out);
        long t0 = System.nanoTime();
        SkippedSteps skips = new SkippedSteps(out.resolve("checkpoints"));
        // Step s's scenes depend on s alone; composed on a background thread while the device runs step s - 1.
        try (Prefetcher<Batch> batches = Prefetcher.of(start, steps, 2, s -> batch(scenes, tok, seed, s * batch, batch))) {
          for (long s = start; s < steps; s++) {
            opt.setLrFactor(lrs.factor(s));
            ContrastiveStep.Metrics m;
            try (Batch b = batches.next(); TensorScope sc = new TensorScope()) {
              m = step.run(sc.track(b.images().to(device)), sc.track(b.ids().to(device)), b.captionIds());
            }
            long done = s + 1;
            if (!skips.updated(m.stepped(), done, "loss " + m.loss())) continue;
            if (done % logEvery == 0 || done == steps) {
              double sps = (System.nanoTime() - t0) / 1e9 / (done - start);
              System.out.printf("step %d/%d loss %.4f batch_acc %.3f scale %.1f lr %.2e (%.3f s/step)%n", done, steps,
                  m.loss(), m.batchAccuracy(), m.logitScale(), lr * lrs.factor(s), sps);
              TrainingLog.append(out.resolve("metrics.jsonl"), new ObjectMapper().createObjectNode().put("step", done)
                  .put("loss", m.loss()).put("batch_accuracy", m.batchAccuracy()).put("logit_scale", m.logitScale())
                  .put("seconds_per_step", sps));
            }
            if (done % checkpointEvery == 0 || done == steps) {
              Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
              sections.put("model", model.state());
              sections.put("optimizer", opt.state());
              checkpoints.saveAndClose(done, runConfig, sections);
            }
          }
        }
        model.eval();
        ObjectNode report = new ObjectMapper().createObjectNode();
        report.set("retrieval", retrieval(model, scenes, tok, device));
        report.put("what", "image-to-caption retrieval: each of " + evalScenes + " scenes the training never drew (another "
            + "seed's stream) against the distinct captions among them; top-k with 95 % bootstrap intervals");
        report.set("training", new ObjectMapper().readTree(runConfig));
        report.put("machine", D2g.machine()).put("date", java.time.Instant.now().toString());
        try (ClipTextModel text = model.textEncoder(textConfig)) {
          DiffusersFolder.save(out.resolve("text_encoder"), text);
        }
        tok.save(out.resolve("tokenizer"));
        Outputs.writeResults(out.resolve("text-encoder-validation.json"), "pretrain-text-encoder", false, report);
        boolean curve = TrainingLog.plotIfPossible(out.resolve("metrics.jsonl"), List.of("loss"),
            "text encoder: contrastive loss", out.resolve("loss.png"));
        System.out.println(report.toPrettyString());
        System.out.println("wrote " + out.resolve("text_encoder") + ", tokenizer/" + (curve ? " and loss.png" : ""));
      }
    }
    return 0;
  }

  /** One step's pairs, made on the CPU: scenes [B, 3, H, W], their captions' token ids [B, 77], caption ids [B]. */
  record Batch(Tensor images, Tensor ids, Tensor captionIds) implements AutoCloseable {
    @Override
    public void close() {
      images.close();
      ids.close();
      captionIds.close();
    }
  }

  /** Scenes first .. first + n - 1 of the seed's stream; equal captions share an id (no negatives of each other). */
  private static Batch batch(SceneComposer scenes, ClipTokenizer tok, long seed, long first, int n) {
    String[] captions = new String[n];
    Tensor images = JudgeValidation.scenes(scenes, seed, first, n, captions);
    return new Batch(images, tok.encodeBatch(List.of(captions)), ContrastiveStep.captionIds(captions));
  }

  /**
   * Image-to-caption retrieval over {@code --eval-scenes} scenes of another seed's stream: each picture
   * against the distinct captions among them; top-1 and top-5 with 95 % bootstrap intervals.
   */
  private ObjectNode retrieval(ClipModel model, SceneComposer scenes, ClipTokenizer tok, Device device) {
    String[] captions = new String[evalScenes];
    try (TensorScope sc = new TensorScope()) {
      Tensor images = sc.track(JudgeValidation.scenes(scenes, seed ^ 0x5eed5eedL, 0, evalScenes, captions));
      List<String> distinct = new ArrayList<>(new LinkedHashSet<>(List.of(captions)));
      Map<String, Integer> index = new HashMap<>();
      for (int i = 0; i < distinct.size(); i++) index.put(distinct.get(i), i);
      int[] truth = new int[evalScenes];
      for (int i = 0; i < evalScenes; i++) truth[i] = index.get(captions[i]);
      int dim = model.config().embedDim();
      Embeddings img = embed(evalScenes, dim, (i, n) -> model.encodeImage(sc.track(sc.track(images.narrow(0, i, n)).to(device))));
      Embeddings txt = embed(distinct.size(), dim, (i, n) -> {
        try (Tensor ids = tok.encodeBatch(distinct.subList(i, i + n))) {
          return model.encodeText(sc.track(ids.to(device)));
        }
      });
      ObjectNode r = new ObjectMapper().createObjectNode();
      for (int k : new int[] {1, 5}) {
        Estimate e = JudgeMetrics.retrievalAccuracy(img, txt, truth, Math.min(k, distinct.size()), JudgeMetrics.Interval.DEFAULT);
        r.putObject("top" + k).put("value", e.value()).put("low", e.low()).put("high", e.high());
      }
      r.put("scenes", evalScenes).put("distinct_captions", distinct.size());
      return r;
    }
  }

  /** Rows 0 .. n-1 of an encoder, 256 rows a call ({@code encode.apply(first, count)}), as embeddings on the CPU. */
  private static Embeddings embed(int n, int dim, BiFunction<Integer, Integer, Tensor> encode) {
    float[] data = new float[n * dim];
    for (int i = 0; i < n; i += 256) {
      int count = Math.min(256, n - i);
      try (Tensor e = encode.apply(i, count); Tensor cpu = e.to(Device.CPU)) {
        System.arraycopy(cpu.toFloatArray(), 0, data, i * dim, count * dim);
      }
    }
    return Embeddings.of(n, dim, data);
  }

  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }
}
