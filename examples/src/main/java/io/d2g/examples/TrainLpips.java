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
import io.d2g.data.emoji.EmojiStyle;
import io.d2g.data.emoji.SceneComposer;
import io.d2g.data.emoji.SpriteAtlas;
import io.d2g.eval.TwoAfcTriplets;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.Outputs;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.LatentLpips;
import io.d2g.models.LatentLpipsConfig;
import io.d2g.models.LpipsRank;
import io.d2g.nn.Linear;
import io.d2g.train.Checkpoints;
import io.d2g.train.Lpips2afcStep;
import io.d2g.train.LpipsClassifyStep;
import io.d2g.train.LrSchedule;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.ParamGroup;
import io.d2g.train.Prefetcher;
import io.d2g.train.TrainingLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.LongFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Makes LatentLPIPS weights for our own latent space (E-LatentLPIPS's network; no pretrained VGG can be
 * had here), top to bottom, the way LPIPS itself was made:
 *
 * <ol>
 *   <li><b>The trunk learns to classify</b> ({@link LpipsClassifyStep}): latents of single-emoji scenes
 *       of the training concepts (the autoencoder's posterior mean times its scaling factor, as the
 *       diffusion model sees them), augmented with E-LatentLPIPS's preset, labelled with their concept,
 *       subgroup and group, and their style ({@link Labels}).
 *   <li><b>The lin heads are calibrated</b> ({@link Lpips2afcStep}, the direct logit unless
 *       {@code --rank-head}): from uniform weights, on
 *       two-alternative forced-choice triplets ({@link TwoAfcTriplets}: severities of one distortion,
 *       a one-pixel move against a visible distortion, a mild distortion against a changed emoji).
 *   <li><b>Validation on held-out concepts</b>: the 2AFC agreement of the squared error in pixels and
 *       in latents, of LatentLPIPS with uniform heads (before calibration) and calibrated (after), and
 *       of E-LatentLPIPS "bg" — per triplet family; and the classifier's accuracy on new scenes.
 * </ol>
 *
 * Writes {@code lpips/} (a LatentLPIPS folder: config.json + f16 weights, loadable by {@code ./d2g lpips
 * distance --model}) with the heads {@code --heads} names — uniform by default, because the calibrated
 * heads can go blind to the fine taps that a regression loss must see (the reconstruction experiment,
 * {@link LpipsRecon}, shows it) — and {@code lpips-calibrated/} with the calibrated heads;
 * {@code lpips-validation.json} (the 2AFC figures of both), {@code metrics.jsonl} and {@code loss.png}. Step s's data depend on s alone, and the run resumes after a kill.
 *
 * <pre>
 * ./d2g lpips train --vae runs/vae/vae --out runs/lpips        (--help lists the options)
 * </pre>
 */
@Command(name = "train-lpips", mixinStandardHelpOptions = true,
    description = "Make LatentLPIPS weights for an autoencoder's latent space: classify, calibrate on 2AFC triplets, "
        + "validate on held-out concepts; resumes after a kill.")
public final class TrainLpips implements Callable<Integer> {
  @Option(names = "--data", defaultValue = "data/emoji-64", description = "The emoji dataset (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--vae", required = true, description = "The autoencoder folder whose latent space is measured.")
  Path vae;

  @Option(names = "--out", required = true, description = "Run folder: checkpoints, lpips/, lpips-validation.json.")
  Path out;

  @Option(names = "--classify-steps", defaultValue = "2000", description = "Steps of the trunk's classifier (default: ${DEFAULT-VALUE}).")
  long classifySteps;

  @Option(names = "--calibrate-steps", defaultValue = "1000", description = "Steps of the lin heads' calibration (default: ${DEFAULT-VALUE}).")
  long calibrateSteps;

  @Option(names = "--batch", defaultValue = "128", description = "Scenes (or triplets) per step (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--lr", defaultValue = "1e-3", description = "AdamW learning rate of the classifier (default: ${DEFAULT-VALUE}).")
  double lr;

  @Option(names = "--calibrate-lr", defaultValue = "1e-3",
      description = "Adam learning rate of the calibration, beta1 0.5 as LPIPS (default: ${DEFAULT-VALUE}).")
  double calibrateLr;

  @Option(names = "--widths", split = ",", defaultValue = "16,32,64,128,128",
      description = "The trunk's five stage widths (VGG16: 64,128,256,512,512; default: ${DEFAULT-VALUE}).")
  List<Integer> widths;

  @Option(names = "--preset", defaultValue = "bg", description = "Augmentation of the classifier's latents: "
      + "b, g, c, o, co, bg, bgc, bgco or none (default: ${DEFAULT-VALUE}).")
  String preset;

  @Option(names = "--heads", defaultValue = "uniform",
      description = "The heads written to lpips/: uniform (every channel 1 / width) or calibrated (lpips-calibrated/ "
          + "has them either way). Calibrated heads order 2AFC judgements best but can go blind to the fine taps, "
          + "which a regression loss must see (the reconstruction experiment shows it) (default: ${DEFAULT-VALUE}).")
  String heads;

  @Option(names = "--rank-head", description = "Calibrate through LPIPS's ranking head (Dist2LogitLayer) instead of the "
      + "direct logit 10 (d0 - d1) / (d0 + d1); the head can fit judgements from the distances' sizes without ordering them.")
  boolean rankHead;

  @Option(names = "--eval-triplets", defaultValue = "1536", description = "Held-out 2AFC triplets (default: ${DEFAULT-VALUE}).")
  int evalTriplets;

  @Option(names = "--seed", defaultValue = "11", description = "Seed of the weights, scenes and draws (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--checkpoint-every", defaultValue = "200", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
  long checkpointEvery;

  @Mixin ComputeOptions compute;

  @Option(names = "--log-every", defaultValue = "50", description = "Steps between log lines (default: ${DEFAULT-VALUE}).")
  long logEvery;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new TrainLpips(), args);
  }

  /**
   * The classifier's label sets, coarse to fine so that a small trunk has something to learn at every
   * scale: the emoji's concept (ids have gaps), its subgroup and group (the Unicode emoji ordering's,
   * e.g. "face-smiling" in "smileys-emotion") and the picture's style.
   */
  record Labels(Map<Integer, int[]> byConcept, int concepts, int subgroups, int groups) {
    static final List<String> NAMES = List.of("concept", "subgroup", "group", "style");

    static Labels of(EmojiDataset ds) {
      Map<String, Integer> subgroups = new java.util.TreeMap<>(), groups = new java.util.TreeMap<>();
      Map<Integer, int[]> by = new HashMap<>();
      int concepts = 0;
      for (EmojiRecord r : ds.records(x -> true)) {
        var c = ds.concept(r);
        by.put(r.concept(), new int[] {r.concept(), subgroups.computeIfAbsent(c.path("subgroup").asText(""), k -> subgroups.size()),
            groups.computeIfAbsent(c.path("group").asText(""), k -> groups.size())});
        concepts = Math.max(concepts, r.concept() + 1);
      }
      return new Labels(by, concepts, Math.max(2, subgroups.size()), Math.max(2, groups.size()));
    }

    int[] classes() {
      return new int[] {concepts, subgroups, groups, EmojiStyle.values().length};
    }

    /** The four labels of an emoji of a concept in a style. */
    long[] of(int concept, EmojiStyle style) {
      int[] c = byConcept.get(concept);
      return new long[] {c[0], c[1], c[2], style.ordinal()};
    }
  }

  private Labels labels;

  /** One step's data, made on a background thread: scenes and labels (classifier) or triplets (calibration). */
  record StepData(Tensor images, Tensor labels, TwoAfcTriplets.Batch triplets) implements AutoCloseable {
    @Override
    public void close() {
      if (images != null) images.close();
      if (labels != null) labels.close();
      if (triplets != null) triplets.close();
    }
  }

  @Override
  public Integer call() throws Exception {
    require(classifySteps >= 1 && calibrateSteps >= 1, "--classify-steps and --calibrate-steps must be at least 1");
    require(batch >= 2 && batch <= 4096, "--batch must be 2 to 4096");
    require(lr > 0 && lr < 1 && calibrateLr > 0 && calibrateLr < 1, "--lr and --calibrate-lr must be in (0, 1)");
    require(heads.equals("uniform") || heads.equals("calibrated"), "--heads must be uniform or calibrated, not " + heads);
    require(evalTriplets >= 16 && evalTriplets <= 100_000, "--eval-triplets must be 16 to 100000");
    require(checkpointEvery >= 1 && logEvery >= 1, "--checkpoint-every and --log-every must be at least 1");
    require(Files.isDirectory(vae), "--vae " + vae + " is not a folder");
    Device device = compute.apply();
    LatentLpipsConfig lpipsConfig;
    LpipsClassifyStep.Options classifyOptions;
    try (EmojiDataset ds = EmojiDataset.open(data);
        AutoencoderKL ae = DiffusersFolder.load(vae, AutoencoderKL.FAMILY, DiffusersFolder.LoadOptions.DEFAULT.on(device, DType.F32))) {
      int size = ds.manifest().path("size").asInt(64);
      labels = Labels.of(ds);
      try {
        lpipsConfig = new LatentLpipsConfig(ae.config().latentChannels(), widths, false);
        classifyOptions = new LpipsClassifyStep.Options(labels.classes(), preset, false, 1.0);
      } catch (InvalidArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
      String config = configJson(lpipsConfig);
      Checkpoints checkpoints = new Checkpoints(out.resolve("checkpoints"), 2);
      SpriteAtlas trainAtlas = SpriteAtlas.of(ds, EmojiRecord::isTrain);
      // The classifier sees one emoji per scene (its label is that emoji's concept and style).
      SceneComposer.Options d = SceneComposer.Options.defaults(size);
      SceneComposer single = new SceneComposer(trainAtlas, new SceneComposer.Options(size, 1, 0, d.pTint(), d.pWhite(), d.pFlat()));
      TwoAfcTriplets trainTriplets = new TwoAfcTriplets(trainAtlas, size);
      long total = classifySteps + calibrateSteps;

      D2g.manualSeed(seed); // the initial weights
      try (LatentLpips lpips = new LatentLpips(lpipsConfig);
          Linear head = new Linear(widths.get(4), classifyOptions.outputs(), true);
          LpipsRank rank = new LpipsRank(32)) {
        lpips.to(device);
        head.to(device);
        rank.to(device);
        // Two optimizers, one per stage: AdamW over the trunk and the head (no decay on the BatchNorms'
        // and the biases' vectors); Adam (beta1 0.5, as LPIPS) over the lin heads (and the ranking head with --rank-head).
        Map<String, Tensor> classifyParams = new LinkedHashMap<>(LpipsClassifyStep.trunkParameters(lpips));
        head.parameters().forEach((k, v) -> classifyParams.put("head." + k, v));
        Set<String> vectors = new java.util.HashSet<>();
        classifyParams.forEach((k, v) -> { if (v.shape().length == 1) vectors.add(k); });
        Map<String, Tensor> calibrateParams = new LinkedHashMap<>(Lpips2afcStep.linParameters(lpips));
        if (rankHead) rank.parameters().forEach((k, v) -> calibrateParams.put("rank." + k, v));
        try (Optimizer classifyOpt = Optimizer.create(OptimizerConfig.AdamW.lr(lr).withWeightDecay(0.01), classifyParams,
                ParamGroup.noWeightDecay(vectors::contains));
            Optimizer calibrateOpt = Optimizer.create(OptimizerConfig.AdamW.lr(calibrateLr).withBetas(0.5, 0.999)
                .withWeightDecay(0), calibrateParams);
            LpipsClassifyStep classify = LpipsClassifyStep.create(lpips, head, classifyOpt, classifyOptions);
            Lpips2afcStep calibrate = Lpips2afcStep.create(lpips, rankHead ? rank : null, calibrateOpt,
                Lpips2afcStep.Options.DEFAULT)) {
          classifyParams.values().forEach(Tensor::close);
          calibrateParams.values().forEach(Tensor::close);
          LrSchedule classifySchedule = LrSchedule.warmupCosine(Math.min(200, classifySteps / 10), classifySteps, 0.02);
          LrSchedule calibrateSchedule = LrSchedule.warmupCosine(Math.min(50, calibrateSteps / 10), calibrateSteps, 0.02);

          long start;
          try {
            start = checkpoints.resume(config, c -> {
              lpips.loadState(c.section("model"), true);
              head.loadState(c.section("head"), true);
              rank.loadState(c.section("rank"), true);
              classifyOpt.loadState(c.section("classify_optimizer"));
              calibrateOpt.loadState(c.section("calibrate_optimizer"));
            });
          } catch (Checkpoints.OtherSettingsException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
          }
          if (start > 0) System.out.printf("resumed at step %d of %d%n", start, total);
          Files.createDirectories(out);

          LongFunction<StepData> make = s -> s < classifySteps
              ? classifierBatch(single, s)
              : new StepData(null, null, trainTriplets.make(seed, (s - classifySteps) * batch, batch));
          long t0 = System.nanoTime();
          SkippedSteps skips = new SkippedSteps(out.resolve("checkpoints"));
          try (Prefetcher<StepData> prefetch = Prefetcher.of(start, total, 2, make)) {
            for (long s = start; s < total; s++) {
              boolean classifying = s < classifySteps;
              if (s == classifySteps) uniformLins(lpips); // calibration starts from uniform heads
              double loss, gradNorm, score;
              boolean stepped;
              try (StepData b = prefetch.next(); TensorScope sc = new TensorScope()) {
                if (classifying) {
                  classifyOpt.setLrFactor(classifySchedule.factor(s));
                  LpipsClassifyStep.Metrics m = classify.run(sc.track(encode(ae, b.images(), device)), b.labels(),
                      Generator.mix(seed ^ 0xa06L, s));
                  loss = m.loss(); gradNorm = m.gradNorm(); score = m.accuracy(); stepped = m.stepped();
                } else {
                  calibrateOpt.setLrFactor(calibrateSchedule.factor(s - classifySteps));
                  TwoAfcTriplets.Batch t = b.triplets();
                  Lpips2afcStep.Metrics m = calibrate.run(sc.track(encode(ae, t.ref(), device)),
                      sc.track(encode(ae, t.p0(), device)), sc.track(encode(ae, t.p1(), device)),
                      sc.track(Tensor.of(t.judgement(), t.judgement().length)));
                  loss = m.loss(); gradNorm = m.gradNorm(); score = m.score(); stepped = m.stepped();
                }
              }
              long done = s + 1;
              if (!skips.updated(stepped, done, "loss " + loss)) continue;
              String stage = classifying ? "classify" : "calibrate";
              if (done % logEvery == 0 || done == classifySteps || done == total) {
                System.out.printf("step %d/%d %s loss %.4f %s %.3f (%.3f s/step)%n", done, total, stage, loss,
                    classifying ? "top1" : "2afc", score, (System.nanoTime() - t0) / 1e9 / (done - start));
                TrainingLog.append(out.resolve("metrics.jsonl"), new ObjectMapper().createObjectNode().put("step", done)
                    .put("stage", stage).put(classifying ? "classify_loss" : "calibrate_loss", loss)
                    .put(classifying ? "top1" : "two_afc", score).put("grad_norm", gradNorm));
              }
              if (done % checkpointEvery == 0 || done == classifySteps || done == total) {
                Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
                sections.put("model", lpips.state());
                sections.put("head", head.state());
                sections.put("rank", rank.state());
                sections.put("classify_optimizer", classifyOpt.state());
                sections.put("calibrate_optimizer", calibrateOpt.state());
                checkpoints.saveAndClose(done, config, sections);
              }
            }
          }

          // Validation. The classifier on new single-emoji scenes of the training concepts...
          ObjectNode report = new ObjectMapper().createObjectNode();
          report.set("classifier", classifierAccuracy(lpips, head, ae, single, device));
          // ... and 2AFC on held-out concepts, of the saved f16 weights loaded back, with calibrated and uniform heads.
          lpips.eval().to(Device.CPU, DType.F16);
          DiffusersFolder.save(out.resolve("lpips-calibrated"), lpips);
          var on = DiffusersFolder.LoadOptions.DEFAULT.on(device, DType.F32);
          try (LatentLpips calibrated = DiffusersFolder.load(out.resolve("lpips-calibrated"), LatentLpips.FAMILY, on);
              LatentLpips uncalibrated = DiffusersFolder.load(out.resolve("lpips-calibrated"), LatentLpips.FAMILY, on)) {
            uniformLins(uncalibrated);
            TwoAfcTriplets heldOut = new TwoAfcTriplets(SpriteAtlas.of(ds, r -> !r.isTrain()), size);
            report.set("two_afc", twoAfc(calibrated, uncalibrated, ae, heldOut, device));
            LatentLpips shipped = heads.equals("uniform") ? uncalibrated : calibrated;
            shipped.eval().to(Device.CPU, DType.F16);
            DiffusersFolder.save(out.resolve("lpips"), shipped);
            report.put("shipped_heads", heads);
          }
          report.set("training", new ObjectMapper().readTree(config));
          report.put("machine", D2g.machine()).put("date", java.time.Instant.now().toString());
          Outputs.writeResults(out.resolve("lpips-validation.json"), "train-lpips", false, report);
          System.out.println(report.toPrettyString());
          boolean curve = TrainingLog.plotIfPossible(out.resolve("metrics.jsonl"), List.of("classify_loss", "calibrate_loss"),
              "LatentLPIPS: classifier and calibration losses", out.resolve("loss.png"));
          System.out.println("wrote " + out.resolve("lpips") + ", lpips-validation.json" + (curve ? " and loss.png" : ""));
        }
      }
    }
    return 0;
  }

  /** Step s's single-emoji scenes [B, 3, H, W] and labels [B, 4] (concept, subgroup, group, style). */
  private StepData classifierBatch(SceneComposer single, long s) {
    int size = single.options().size(), px = size * size;
    float[] x = new float[batch * 3 * px];
    long[] y = new long[batch * 4];
    byte[] rgb = new byte[3 * px];
    for (int i = 0; i < batch; i++) {
      SceneComposer.Plan p = single.plan(seed, s * batch + i);
      single.render(p, rgb, 0);
      for (int q = 0; q < px; q++)
        for (int c = 0; c < 3; c++) x[(i * 3 + c) * px + q] = (rgb[q * 3 + c] & 255) / 127.5f - 1;
      System.arraycopy(labels.of(p.objects().get(0).sprite().concept(), p.style()), 0, y, 4 * i, 4);
    }
    return new StepData(Tensor.of(x, batch, 3, size, size), Tensor.of(y, batch, 4), null);
  }

  /** Latents as the diffusion model sees them: the posterior's mean times the scaling factor. */
  static Tensor encode(AutoencoderKL ae, Tensor images, Device device) {
    try (Tensor x = images.to(device); AutoencoderKL.Posterior p = ae.encode(x)) {
      return p.mean().mul(ae.scalingFactor());
    }
  }

  /** Every lin head weighs its channels alike (1 / width): LPIPS's "uncalibrated" baseline. */
  static void uniformLins(LatentLpips lpips) {
    Map<String, Tensor> lins = new HashMap<>();
    try (TensorScope s = new TensorScope()) {
      for (int k = 0; k < 5; k++) {
        int w = lpips.config().widths().get(k);
        float[] v = new float[w];
        java.util.Arrays.fill(v, 1f / w);
        lins.put("lin" + k + ".model.1.weight", s.track(Tensor.of(v, 1, w, 1, 1)));
      }
      lpips.loadState(lins, false);
    }
  }

  /** Top-1 accuracy of each label set on 1024 new scenes (another seed), BatchNorm on running statistics. */
  private ObjectNode classifierAccuracy(LatentLpips lpips, Linear head, AutoencoderKL ae, SceneComposer single,
      Device device) {
    lpips.eval();
    int n = 1024;
    int[] classes = labels.classes(), right = new int[classes.length];
    int outputs = java.util.Arrays.stream(classes).sum();
    TrainLpips other = new TrainLpips();
    other.seed = seed ^ 0x5eedL;
    other.batch = 128;
    other.labels = labels;
    for (int from = 0; from < n; from += other.batch) {
      try (StepData b = other.classifierBatch(single, from / other.batch); TensorScope s = new TensorScope()) {
        List<Tensor> taps = lpips.features(s.track(encode(ae, b.images(), device)));
        taps.forEach(s::track);
        Tensor pooled = s.track(taps.get(4).mean(false, 2, 3));
        float[] logits = s.track(s.track(head.forward(pooled)).to(Device.CPU)).toFloatArray();
        long[] y = b.labels().toLongArray();
        for (int i = 0; i < other.batch; i++)
          for (int k = 0, at = 0; k < classes.length; at += classes[k], k++)
            right[k] += argmax(logits, i * outputs + at, classes[k]) == y[classes.length * i + k] ? 1 : 0;
      }
    }
    ObjectNode o = new ObjectMapper().createObjectNode().put("scenes", n);
    for (int k = 0; k < classes.length; k++)
      o.put(Labels.NAMES.get(k) + "_top1", right[k] / (double) n).put(Labels.NAMES.get(k) + "_classes", classes[k]);
    return o.put("note", "single-emoji scenes of the training concepts, not seen in training; the trunk's running "
        + "statistics, no augmentation");
  }

  private static int argmax(float[] v, int from, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (v[from + i] > v[from + best]) best = i;
    return best;
  }

  /**
   * The share of held-out triplets each distance orders as judged (a tie counts half), over all and per
   * family: squared error in pixels and in latents, LatentLPIPS with uniform heads and calibrated, and
   * E-LatentLPIPS "bg" (the mean of 4 draws).
   */
  private ObjectNode twoAfc(LatentLpips lpips, LatentLpips uniform, AutoencoderKL ae, TwoAfcTriplets triplets,
      Device device) {
    String[] names = {"pixel_l2", "latent_l2", "latent_lpips_uniform_heads", "latent_lpips", "e_latent_lpips_bg"};
    int families = TwoAfcTriplets.Family.values().length;
    double[][] score = new double[names.length][families + 1];
    int[] count = new int[families + 1];
    try (Generator gen = Generator.create(device, seed ^ 0x2afcL)) {
      for (int from = 0; from < evalTriplets; from += 128) {
        int n = Math.min(128, evalTriplets - from);
        try (TwoAfcTriplets.Batch b = triplets.make(seed ^ 0xe7a1L, from, n); TensorScope s = new TensorScope()) {
          Tensor r = s.track(encode(ae, b.ref(), device)), z0 = s.track(encode(ae, b.p0(), device)),
              z1 = s.track(encode(ae, b.p1(), device));
          double[][] d0 = new double[names.length][], d1 = new double[names.length][];
          d0[0] = squaredError(b.ref(), b.p0());
          d1[0] = squaredError(b.ref(), b.p1());
          d0[1] = squaredError(r, z0);
          d1[1] = squaredError(r, z1);
          d0[2] = values(s.track(uniform.distance(r, z0)));
          d1[2] = values(s.track(uniform.distance(r, z1)));
          d0[3] = values(s.track(lpips.distance(r, z0)));
          d1[3] = values(s.track(lpips.distance(r, z1)));
          d0[4] = new double[n];
          d1[4] = new double[n];
          for (int k = 0; k < 4; k++) { // the same draws for both alternatives: the generator restarts
            long state = Generator.mix(seed, from * 4L + k);
            gen.reseed(state);
            double[] a = values(s.track(lpips.distance(r, z0, "bg", gen)));
            gen.reseed(state);
            double[] c = values(s.track(lpips.distance(r, z1, "bg", gen)));
            for (int i = 0; i < n; i++) {
              d0[4][i] += a[i] / 4;
              d1[4][i] += c[i] / 4;
            }
          }
          for (int i = 0; i < n; i++) {
            int f = b.family()[i].ordinal();
            count[f]++;
            count[families]++;
            for (int m = 0; m < names.length; m++) {
              double j = b.judgement()[i], v = d1[m][i] < d0[m][i] ? j : d1[m][i] > d0[m][i] ? 1 - j : 0.5;
              score[m][f] += v;
              score[m][families] += v;
            }
          }
        }
      }
    }
    ObjectNode o = new ObjectMapper().createObjectNode();
    o.put("triplets", evalTriplets).put("concepts", "held out");
    ObjectNode counts = o.putObject("family_counts");
    for (TwoAfcTriplets.Family f : TwoAfcTriplets.Family.values()) counts.put(f.name().toLowerCase(), count[f.ordinal()]);
    ObjectNode scores = o.putObject("agreement");
    for (int m = 0; m < names.length; m++) {
      ObjectNode e = scores.putObject(names[m]).put("all", score[m][families] / count[families]);
      for (TwoAfcTriplets.Family f : TwoAfcTriplets.Family.values())
        e.put(f.name().toLowerCase(), count[f.ordinal()] == 0 ? Double.NaN : score[m][f.ordinal()] / count[f.ordinal()]);
    }
    o.put("note", "judgements by construction (TwoAfcTriplets), not by people; E-LatentLPIPS: the mean of 4 draws, the "
        + "same draw for both alternatives of a triplet");
    return o;
  }

  private static double[] squaredError(Tensor a, Tensor b) {
    float[] x = a.toFloatArray(), y = b.toFloatArray();
    int n = (int) a.shape()[0], per = x.length / n;
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      double s = 0;
      for (int k = i * per; k < (i + 1) * per; k++) s += (double) (x[k] - y[k]) * (x[k] - y[k]);
      out[i] = s / per;
    }
    return out;
  }

  private static double[] values(Tensor t) {
    float[] f = t.toFloatArray();
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) d[i] = f[i];
    return d;
  }

  private String configJson(LatentLpipsConfig lpips) {
    ObjectNode c = new ObjectMapper().createObjectNode();
    c.set("lpips", lpips.toJson());
    c.put("vae", vae.toAbsolutePath().normalize().toString()).put("classify_steps", classifySteps)
        .put("calibrate_steps", calibrateSteps).put("batch", batch).put("lr", lr).put("calibrate_lr", calibrateLr)
        .put("preset", preset).put("rank_head", rankHead).put("labels", String.join(",", Labels.NAMES)).put("seed", seed).put("device", compute.device)
        .put("data", data.toAbsolutePath().normalize().toString());
    if (compute.threads != null) c.put("threads", compute.threads);
    return c.toString();
  }

  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }
}
