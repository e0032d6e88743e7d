package io.d2g.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.cli.Commands;
import io.d2g.data.emoji.EmojiDataset;
import io.d2g.data.emoji.EmojiRecord;
import io.d2g.eval.JudgeValidation;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.Outputs;
import io.d2g.models.ImageTextJudge;
import io.d2g.models.ImageTextJudgeConfig;
import io.d2g.train.Checkpoint;
import io.d2g.train.Checkpoints;
import io.d2g.train.ContrastiveStep;
import io.d2g.train.LrSchedule;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.ParamGroup;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
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
 * Trains the evaluation suite's judge ({@link ImageTextJudge}) on the emoji corpus, top to bottom:
 * every training-split picture with its caption ("{@code <label>, <style> style}"), composited over a
 * background drawn per picture and step (white half the time, else a random colour: the judge must
 * grade pictures on any background), CLIP's contrastive loss through {@link ContrastiveStep}, AdamW
 * with warm-up and cosine decay. At the end it validates the judge ({@link JudgeValidation}: retrieval
 * on held-out pictures and concepts, style retrieval, FD between halves of the real data under
 * distortions) and writes {@code judge/} (a diffusers-layout folder) and {@code judge-validation.json}.
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

  @Option(names = "--epochs", defaultValue = "20", description = "Passes over the training pictures (default: ${DEFAULT-VALUE}).")
  int epochs;

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

  @Option(names = "--threads", description = "CPU threads for LibTorch (default: one per core).")
  Integer threads;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE}).")
  String deviceName;

  @Option(names = "--log-every", defaultValue = "20", description = "Steps between log lines (default: ${DEFAULT-VALUE}).")
  long logEvery;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new TrainJudge(), args);
  }

  @Override
  public Integer call() throws Exception {
    require(epochs >= 1 && epochs <= 10_000, "--epochs must be 1 to 10000");
    require(batch >= 2 && batch <= 8192, "--batch must be 2 to 8192");
    require(lr > 0 && lr < 1, "--lr must be in (0, 1)");
    require(checkpointEvery >= 1 && logEvery >= 1, "--checkpoint-every and --log-every must be at least 1");
    Device device = Device.parse(deviceName);
    if (threads != null) D2g.setCpuThreads(threads);
    ImageTextJudgeConfig judgeConfig;
    try {
      judgeConfig = new ImageTextJudgeConfig(widths, 8, textWidth, 4, 96, embedDim);
    } catch (InvalidArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    String config = configJson(judgeConfig);
    Checkpoints checkpoints = new Checkpoints(out.resolve("checkpoints"), 2);

    try (EmojiDataset ds = EmojiDataset.open(data)) {
      List<EmojiRecord> train = ds.records(EmojiRecord::isTrain);
      Map<String, Integer> captionIds = new HashMap<>();
      for (EmojiRecord r : train) captionIds.putIfAbsent(r.caption(), captionIds.size());
      long stepsPerEpoch = train.size() / batch, steps = stepsPerEpoch * epochs;
      require(stepsPerEpoch >= 1, "--batch " + batch + " is larger than the " + train.size() + " training pictures");
      System.out.printf("%d training pictures, %d captions, %d steps of %d%n", train.size(), captionIds.size(), steps, batch);

      D2g.manualSeed(seed); // the judge's initial weights
      try (ImageTextJudge judge = new ImageTextJudge(judgeConfig);
          Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(lr).withWeightDecay(0.05), judge.to(device),
              ParamGroup.noWeightDecay(ParamGroup.BIASES_AND_NORMS));
          ContrastiveStep step = ContrastiveStep.create(judge, opt, null, new ContrastiveStep.Options(false, 1.0))) {
        judge.train(true);
        LrSchedule schedule = LrSchedule.warmupCosine(Math.min(200, steps / 10), steps, 0.02);
        long start = 0;
        var resumed = checkpoints.latest();
        if (resumed.isPresent()) {
          try (Checkpoint c = resumed.get()) {
            if (!c.config().equals(config))
              throw new ParameterException(spec.commandLine(), "the run in " + out + " was started with other settings ("
                  + c.config() + "); use another --out or the same options");
            judge.loadState(c.section("model"), true);
            opt.loadState(c.section("optimizer"));
            start = c.step();
          }
          System.out.printf("resumed at step %d of %d%n", start, steps);
        }

        long t0 = System.nanoTime();
        for (long s = start; s < steps; s++) {
          // The step's pairs: epoch e's order is a shuffle seeded by (seed, e), so any step can be rebuilt.
          List<EmojiRecord> order = order(train, seed, s / stepsPerEpoch);
          int from = (int) (s % stepsPerEpoch) * batch;
          List<EmojiRecord> pairs = order.subList(from, from + batch);
          opt.setLrFactor(schedule.factor(s));
          ContrastiveStep.Metrics m;
          try (TensorScope sc = new TensorScope()) {
            Tensor images = sc.track(sc.track(JudgeValidation.images(ds, pairs, new SplittableRandom(Generator.mix(seed, s))))
                .to(device));
            long[] ids = pairs.stream().mapToLong(r -> captionIds.get(r.caption())).toArray();
            m = step.run(images, sc.track(ImageTextJudge.textBytes(pairs.stream().map(EmojiRecord::caption).toList(),
                judgeConfig.textMaxBytes())), sc.track(Tensor.of(ids, ids.length)));
          }
          long done = s + 1;
          if (done % logEvery == 0 || done == steps)
            System.out.printf("step %d/%d loss %.4f batch_acc %.3f scale %.1f lr %.2e (%.2f s/step)%n", done, steps,
                m.loss(), m.batchAccuracy(), m.logitScale(), lr * schedule.factor(s),
                (System.nanoTime() - t0) / 1e9 / (done - start));
          if (done % checkpointEvery == 0 || done == steps) {
            try (TensorScope sc = new TensorScope()) {
              Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
              Map<String, Tensor> model = judge.state(), optim = opt.state();
              model.values().forEach(sc::track);
              optim.values().forEach(sc::track);
              sections.put("model", model);
              sections.put("optimizer", optim);
              checkpoints.save(done, config, sections);
            }
          }
        }

        judge.eval();
        DiffusersFolder.save(out.resolve("judge"), judge);
        ObjectNode report = JudgeValidation.run(judge, ds, seed);
        report.set("training", new ObjectMapper().readTree(config));
        Outputs.writeResults(out.resolve("judge-validation.json"), "train-judge", false, report);
        System.out.println(report.toPrettyString());
        System.out.println("wrote " + out.resolve("judge") + " and " + out.resolve("judge-validation.json"));
      }
    }
    return 0;
  }

  /** Epoch e's order of the training pictures. */
  static List<EmojiRecord> order(List<EmojiRecord> train, long seed, long epoch) {
    List<EmojiRecord> o = new ArrayList<>(train);
    SplittableRandom r = new SplittableRandom(Generator.mix(seed, -1 - epoch));
    for (int i = o.size() - 1; i > 0; i--) Collections.swap(o, i, r.nextInt(i + 1));
    return o;
  }

  private String configJson(ImageTextJudgeConfig judge) {
    ObjectNode c = new ObjectMapper().createObjectNode();
    c.set("judge", judge.toJson());
    c.put("epochs", epochs).put("batch", batch).put("lr", lr).put("seed", seed).put("device", deviceName)
        .put("data", data.toAbsolutePath().normalize().toString());
    if (threads != null) c.put("threads", threads);
    return c.toString();
  }

  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }
}
