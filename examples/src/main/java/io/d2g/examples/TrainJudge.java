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
import io.d2g.eval.JudgeValidation;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.Outputs;
import io.d2g.models.ImageTextJudge;
import io.d2g.models.ImageTextJudgeConfig;
import io.d2g.train.Checkpoints;
import io.d2g.train.ContrastiveStep;
import io.d2g.train.LrSchedule;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.ParamGroup;
import io.d2g.train.TrainingLog;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Trains the evaluation suite's judge ({@link ImageTextJudge}) on the emoji corpus, top to bottom:
 * scenes composed from the training split's pictures ({@link SceneComposer}: one to three emoji of
 * one style, tints, backgrounds, spatial relations, and the caption that says exactly that; a single
 * emoji on white has the dataset's caption "{@code <label>, <style> style}") — the distribution the
 * teacher learns and the models to be graded draw — with CLIP's contrastive loss through
 * {@link ContrastiveStep}, AdamW with warm-up and cosine decay. Step s uses scenes s·batch ..
 * (s+1)·batch - 1 of the seed, so any step's batch can be rebuilt. At the end it validates the judge
 * ({@link JudgeValidation}: retrieval on held-out pictures and concepts, style, relation and colour
 * retrieval, FD between halves of the real data under distortions) and writes {@code judge/} (a
 * diffusers-layout folder, f16 weights) and {@code judge-validation.json} (of those weights).
 *
 * <p>Like every training example it resumes: kill it and run the same command again.
 *
 * <pre>
 * ./d2g data emoji
 * ./d2g example train-judge --data data/emoji-64 --out runs/judge            (--help lists the options)
 * </pre>
 */
@Command(name = "train-judge", mixinStandardHelpOptions = true,
    description = "Train the image-text judge of the evaluation suite on the emoji corpus; resumes after a kill.")
public final class TrainJudge implements Callable<Integer> {
  @Option(names = "--data", defaultValue = "data/emoji-64", description = "The emoji dataset (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--out", required = true, description = "Run folder: checkpoints, judge/ and judge-validation.json.")
  Path out;

  @Option(names = "--steps", defaultValue = "2000", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
  long steps;

  @Option(names = "--batch", defaultValue = "128", description = "Pairs per step (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--lr", defaultValue = "2e-3", description = "AdamW learning rate (default: ${DEFAULT-VALUE}).")
  double lr;

  @Option(names = "--widths", split = ",", defaultValue = "32,64,128,256",
      description = "Widths of the image tower's stages (default: ${DEFAULT-VALUE}).")
  List<Integer> widths;

  @Option(names = "--text-width", defaultValue = "128", description = "Width of the text tower (default: ${DEFAULT-VALUE}).")
  int textWidth;

  @Option(names = "--embed-dim", defaultValue = "128", description = "Embedding width (default: ${DEFAULT-VALUE}).")
  int embedDim;

  @Option(names = "--seed", defaultValue = "1234", description = "Seed of the weights, the order and the backgrounds "
      + "(default: ${DEFAULT-VALUE}; the teacher's runs use others).")
  long seed;

  @Option(names = "--checkpoint-every", defaultValue = "100", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
  long checkpointEvery;

  @Mixin ComputeOptions compute;

  @Option(names = "--log-every", defaultValue = "20", description = "Steps between log lines (default: ${DEFAULT-VALUE}).")
  long logEvery;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new TrainJudge(), args);
  }

  @Override
  public Integer call() throws Exception {
    require(steps >= 1, "--steps must be at least 1");
    require(batch >= 2 && batch <= 8192, "--batch must be 2 to 8192");
    require(lr > 0 && lr < 1, "--lr must be in (0, 1)");
    require(checkpointEvery >= 1 && logEvery >= 1, "--checkpoint-every and --log-every must be at least 1");
    Device device = compute.apply();
    ImageTextJudgeConfig judgeConfig;
    try {
      judgeConfig = new ImageTextJudgeConfig(widths, 8, textWidth, 4, 96, embedDim);
    } catch (InvalidArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    String config = configJson(judgeConfig);
    Checkpoints checkpoints = new Checkpoints(out.resolve("checkpoints"), 2);

    try (EmojiDataset ds = EmojiDataset.open(data)) {
      SceneComposer composer = new SceneComposer(SpriteAtlas.of(ds, EmojiRecord::isTrain),
          SceneComposer.Options.defaults(ds.manifest().path("size").asInt(64)));
      System.out.printf("%d training pictures, %d steps of %d scenes%n", ds.records(EmojiRecord::isTrain).size(), steps,
          batch);

      D2g.manualSeed(seed); // the judge's initial weights
      try (ImageTextJudge judge = new ImageTextJudge(judgeConfig);
          Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(lr).withWeightDecay(0.05), judge.to(device),
              ParamGroup.noWeightDecay(ParamGroup.BIASES_AND_NORMS));
          ContrastiveStep step = ContrastiveStep.create(judge, opt, null, new ContrastiveStep.Options(false, 1.0))) {
        judge.train(true);
        LrSchedule schedule = LrSchedule.warmupCosine(Math.min(200, steps / 10), steps, 0.02);
        long start;
        try {
          start = checkpoints.resume(config, c -> {
            judge.loadState(c.section("model"), true);
            opt.loadState(c.section("optimizer"));
          });
        } catch (Checkpoints.OtherSettingsException e) {
          throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (start > 0) System.out.printf("resumed at step %d of %d%n", start, steps);

        java.nio.file.Files.createDirectories(out); // for metrics.jsonl before the first checkpoint
        long t0 = System.nanoTime();
        SkippedSteps skips = new SkippedSteps(out.resolve("checkpoints"));
        for (long s = start; s < steps; s++) {
          opt.setLrFactor(schedule.factor(s));
          ContrastiveStep.Metrics m;
          try (TensorScope sc = new TensorScope()) {
            String[] captions = new String[batch];
            Tensor images = sc.track(sc.track(JudgeValidation.scenes(composer, seed, s * batch, batch, captions))
                .to(device));
            m = step.run(images, sc.track(ImageTextJudge.textBytes(List.of(captions), judgeConfig.textMaxBytes())),
                sc.track(ContrastiveStep.captionIds(captions)));
          }
          long done = s + 1;
          if (!skips.updated(m.stepped(), done, "loss " + m.loss())) continue;
          if (done % logEvery == 0 || done == steps)
            System.out.printf("step %d/%d loss %.4f batch_acc %.3f scale %.1f lr %.2e (%.2f s/step)%n", done, steps,
                m.loss(), m.batchAccuracy(), m.logitScale(), lr * schedule.factor(s),
                (System.nanoTime() - t0) / 1e9 / (done - start));
          if (done % logEvery == 0 || done == steps)
            TrainingLog.append(out.resolve("metrics.jsonl"), new ObjectMapper().createObjectNode().put("step", done)
                .put("loss", m.loss()).put("batch_accuracy", m.batchAccuracy()).put("logit_scale", m.logitScale()));
          if (done % checkpointEvery == 0 || done == steps) {
            Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
            sections.put("model", judge.state());
            sections.put("optimizer", opt.state());
            checkpoints.saveAndClose(done, config, sections);
          }
        }

        // Shipped in f16 (config.json + diffusion_pytorch_model.safetensors); what is validated is what
        // ships: the saved weights, loaded back (into f32).
        judge.eval().to(Device.CPU, DType.F16);
        DiffusersFolder.save(out.resolve("judge"), judge);
        ObjectNode report;
        try (ImageTextJudge shipped = DiffusersFolder.load(out.resolve("judge"), ImageTextJudge.FAMILY)) {
          report = JudgeValidation.run(shipped, ds, seed);
        }
        report.set("training", new ObjectMapper().readTree(config));
        report.put("machine", D2g.machine()).put("date", java.time.Instant.now().toString());
        Outputs.writeResults(out.resolve("judge-validation.json"), "train-judge", false, report);
        System.out.println(report.toPrettyString());
        boolean curve = TrainingLog.plotIfPossible(out.resolve("metrics.jsonl"), List.of("loss"), "judge: contrastive loss",
            out.resolve("loss.png"));
        System.out.println("wrote " + out.resolve("judge") + ", judge-validation.json" + (curve ? " and loss.png" : ""));
      }
    }
    return 0;
  }

  private String configJson(ImageTextJudgeConfig judge) {
    ObjectNode c = new ObjectMapper().createObjectNode();
    c.set("judge", judge.toJson());
    c.put("steps", steps).put("batch", batch).put("lr", lr).put("seed", seed).put("device", compute.device)
        .put("data", data.toAbsolutePath().normalize().toString());
    if (compute.threads != null) c.put("threads", compute.threads);
    return c.toString();
  }

  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }
}
