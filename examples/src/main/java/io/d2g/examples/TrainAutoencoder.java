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
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.data.emoji.EmojiDataset;
import io.d2g.data.emoji.EmojiRecord;
import io.d2g.data.emoji.SceneComposer;
import io.d2g.data.emoji.SpriteAtlas;
import io.d2g.eval.JudgeValidation;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import io.d2g.io.Png;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.AutoencoderKLConfig;
import io.d2g.train.AutoencoderStep;
import io.d2g.train.Checkpoints;
import io.d2g.train.LrSchedule;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.ParamGroup;
import io.d2g.train.Prefetcher;
import io.d2g.train.TrainingLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.LongFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Trains the teacher's latent autoencoder (an AutoencoderKL: 64×64 RGB → 16×16×4 latents, f = 4),
 * top to bottom: scenes composed from the training split's pictures (step s uses scenes s·batch ..
 * (s+1)·batch − 1 of the seed), the KL-regularised reconstruction loss in one native call per step
 * ({@link AutoencoderStep}), AdamW with warm-up and cosine decay, checkpoints (kill it and run the
 * same command again to resume). At the end, on scenes of held-out concepts: the reconstruction's PSNR
 * (through the posterior's mean), the latents' standard deviation and so the scaling factor (1/std, as
 * SD's 0.18215 was measured), written into {@code vae/config.json}; {@code vae/} (diffusers layout, f16
 * weights), {@code autoencoder-validation.json} and {@code reconstructions.png} (originals above,
 * reconstructions below).
 *
 * <pre>
 * ./d2g example train-autoencoder --data data/emoji-64 --out runs/vae --device cuda   (--help lists the options)
 * </pre>
 */
@Command(name = "train-autoencoder", mixinStandardHelpOptions = true,
    description = "Train the teacher's latent autoencoder (AutoencoderKL, f = 4) on composed emoji scenes; resumes after a kill.")
public final class TrainAutoencoder implements Callable<Integer> {
  @Option(names = "--data", defaultValue = "data/emoji-64", description = "The emoji dataset (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--out", required = true, description = "Run folder: checkpoints, vae/, the validation and reconstructions.")
  Path out;

  @Option(names = "--steps", defaultValue = "3000", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
  long steps;

  @Option(names = "--batch", defaultValue = "32", description = "Scenes per step (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--lr", defaultValue = "2e-4", description = "AdamW learning rate (default: ${DEFAULT-VALUE}).")
  double lr;

  @Option(names = "--widths", split = ",", defaultValue = "32,64,64",
      description = "block_out_channels; n widths downscale by 2^(n-1) (default: ${DEFAULT-VALUE}, f = 4).")
  List<Integer> widths;

  @Option(names = "--layers", defaultValue = "1", description = "Resnet layers per block (default: ${DEFAULT-VALUE}).")
  int layers;

  @Option(names = "--kl-weight", defaultValue = "1e-6", description = "Weight of the KL term (default: ${DEFAULT-VALUE}).")
  double klWeight;

  @Option(names = "--eval-scenes", defaultValue = "256", description = "Held-out scenes for the validation (default: ${DEFAULT-VALUE}).")
  int evalScenes;

  @Option(names = "--seed", defaultValue = "7", description = "Seed of the weights, scenes and noise (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--checkpoint-every", defaultValue = "200", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
  long checkpointEvery;

  @Mixin ComputeOptions compute;

  @Option(names = "--log-every", defaultValue = "50", description = "Steps between log lines (default: ${DEFAULT-VALUE}).")
  long logEvery;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new TrainAutoencoder(), args);
  }

  @Override
  public Integer call() throws Exception {
    require(steps >= 1 && batch >= 1 && batch <= 4096, "--steps must be at least 1 and --batch 1 to 4096");
    require(lr > 0 && lr < 1, "--lr must be in (0, 1)");
    require(evalScenes >= 8 && evalScenes <= 100_000, "--eval-scenes must be 8 to 100000");
    require(checkpointEvery >= 1 && logEvery >= 1, "--checkpoint-every and --log-every must be at least 1");
    Device device = compute.apply();
    require(!widths.isEmpty() && widths.size() <= 6, "--widths must have 1 to 6 values");
    int groups = Math.min(32, widths.get(0));
    for (int w : widths)
      require(w >= 1 && w <= 4096 && w % Math.max(1, groups) == 0, "--widths must be 1 to 4096 and multiples of "
          + Math.max(1, groups) + " (the GroupNorm groups), not " + w);
    require(layers >= 1 && layers <= 8, "--layers must be 1 to 8");
    AutoencoderKLConfig config;
    try {
      config = new AutoencoderKLConfig(3, 3, widths, layers, "silu", 4, groups, 64, 1.0, null, false, true, true, true);
    } catch (InvalidArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage());
    }
    int f = 1 << (widths.size() - 1);
    ObjectNode run = new ObjectMapper().createObjectNode();
    run.set("vae", config.toJson());
    run.put("steps", steps).put("batch", batch).put("lr", lr).put("kl_weight", klWeight).put("seed", seed)
        .put("device", compute.device).put("data", data.toAbsolutePath().normalize().toString());
    if (compute.threads != null) run.put("threads", compute.threads);
    String runConfig = run.toString();
    Checkpoints checkpoints = new Checkpoints(out.resolve("checkpoints"), 2);

    try (EmojiDataset ds = EmojiDataset.open(data)) {
      int size = ds.manifest().path("size").asInt(64);
      require(size % f == 0, "the dataset's " + size + " px pictures are not a multiple of the downscale " + f);
      SceneComposer train = new SceneComposer(SpriteAtlas.of(ds, EmojiRecord::isTrain), SceneComposer.Options.defaults(size));
      D2g.manualSeed(seed);
      try (AutoencoderKL vae = new AutoencoderKL(config);
          Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(lr).withWeightDecay(0.01), vae.to(device),
              ParamGroup.noWeightDecay(ParamGroup.BIASES_AND_NORMS));
          AutoencoderStep step = AutoencoderStep.create(vae, opt, null, new AutoencoderStep.Options(klWeight, false, 1.0))) {
        vae.train(true);
        LrSchedule schedule = LrSchedule.warmupCosine(Math.min(200, steps / 10), steps, 0.05);
        long start;
        try {
          start = checkpoints.resume(runConfig, c -> {
            vae.loadState(c.section("model"), true);
            opt.loadState(c.section("optimizer"));
          });
        } catch (Checkpoints.OtherSettingsException e) {
          throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (start > 0) System.out.printf("resumed at step %d of %d%n", start, steps);
        java.nio.file.Files.createDirectories(out); // for metrics.jsonl before the first checkpoint
        long t0 = System.nanoTime();
        SkippedSteps skips = new SkippedSteps(out.resolve("checkpoints"));
        // Step s's scenes and posterior noise depend on s alone; made on a background thread while the
        // device runs step s - 1.
        LongFunction<CpuBatch> make = s -> {
          try (Generator g = Generator.cpu(Generator.mix(seed, s))) {
            return new CpuBatch(JudgeValidation.scenes(train, seed, s * batch, batch, new String[batch]),
                Tensor.randn(g, DType.F32, batch, 4, size / f, size / f));
          }
        };
        try (Prefetcher<CpuBatch> data = Prefetcher.of(start, steps, 2, make)) {
          for (long s = start; s < steps; s++) {
            opt.setLrFactor(schedule.factor(s));
            AutoencoderStep.Metrics m;
            try (CpuBatch b = data.next(); TensorScope sc = new TensorScope()) {
              m = step.run(sc.track(b.images().to(device)), sc.track(b.noise().to(device)));
            }
            long done = s + 1;
            if (!skips.updated(m.stepped(), done, "loss " + m.loss())) continue;
            if (done % logEvery == 0 || done == steps)
              System.out.printf("step %d/%d loss %.2f mse %.5f (psnr %.2f dB) kl %.1f lr %.2e (%.3f s/step)%n", done, steps,
                  m.loss(), m.reconstructionMse(), psnr(m.reconstructionMse()), m.kl(), lr * schedule.factor(s),
                  (System.nanoTime() - t0) / 1e9 / (done - start));
            if (done % logEvery == 0 || done == steps)
              TrainingLog.append(out.resolve("metrics.jsonl"), new ObjectMapper().createObjectNode().put("step", done)
                  .put("loss", m.loss()).put("mse", m.reconstructionMse()).put("kl", m.kl()).put("grad_norm", m.gradNorm())
                  .put("seconds_per_step", (System.nanoTime() - t0) / 1e9 / (done - start)));
            if (done % checkpointEvery == 0 || done == steps) {
              Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
              sections.put("model", vae.state());
              sections.put("optimizer", opt.state());
              checkpoints.saveAndClose(done, runConfig, sections);
            }
          }
        }

        // Validation on scenes of held-out concepts: PSNR through the mean, the latents' spread.
        vae.eval();
        SceneComposer heldOut = new SceneComposer(SpriteAtlas.of(ds, r -> !r.isTrain()), SceneComposer.Options.defaults(size));
        long evalSeed = seed ^ 0xe7a1L;
        double se = 0, sum = 0, sumSq = 0;
        long pixels = 0, latents = 0;
        float[] shown = null, shownRecon = null;
        try (Generator eg = Generator.create(device, evalSeed)) {
        for (int from = 0; from < evalScenes; from += 64) {
          int n = Math.min(64, evalScenes - from);
          try (TensorScope sc = new TensorScope()) {
            Tensor x = sc.track(sc.track(JudgeValidation.scenes(heldOut, evalSeed, from, n, new String[n])).to(device));
            AutoencoderKL.Posterior post = vae.encode(x);
            sc.track(post.mean());
            sc.track(post.logvar());
            Tensor z = sc.track(post.sample(eg));
            Tensor recon = sc.track(vae.decode(post.mean()));
            float[] a = sc.track(x.to(Device.CPU)).toFloatArray(), b = sc.track(recon.to(Device.CPU)).toFloatArray();
            for (int i = 0; i < a.length; i++) {
              double d = (Math.max(-1, Math.min(1, b[i])) - a[i]) / 2; // in [0, 1] units
              se += d * d;
            }
            pixels += a.length;
            for (float v : sc.track(z.to(Device.CPU)).toFloatArray()) {
              sum += v;
              sumSq += (double) v * v;
              latents++;
            }
            if (shown == null) {
              shown = a;
              shownRecon = b;
            }
          }
        }
        }
        double mse01 = se / pixels, mean = sum / latents, std = Math.sqrt(sumSq / latents - mean * mean);
        double scaling = 1 / std;
        ObjectNode report = new ObjectMapper().createObjectNode();
        report.put("heldout_scenes", evalScenes).put("psnr_db", 10 * Math.log10(1 / mse01)).put("latent_std", std)
            .put("latent_mean", mean).put("scaling_factor", scaling).put("downscale", f);
        report.set("training", new ObjectMapper().readTree(runConfig));
        report.put("machine", D2g.machine()).put("date", java.time.Instant.now().toString());

        // Shipped in f16 with the measured scaling factor in its config.
        AutoencoderKLConfig shipped = new AutoencoderKLConfig(3, 3, widths, layers, "silu", 4, config.normNumGroups(),
            size, scaling, null, false, true, true, true);
        try (AutoencoderKL save = new AutoencoderKL(shipped); TensorScope sc = new TensorScope()) {
          Map<String, Tensor> state = vae.state();
          state.values().forEach(sc::track);
          save.loadState(state, true);
          save.to(Device.CPU, DType.F16);
          DiffusersFolder.save(out.resolve("vae"), save);
        }
        Outputs.writeResults(out.resolve("autoencoder-validation.json"), "train-autoencoder", false, report);
        Outputs.writeBytes(out.resolve("reconstructions.png"), OutputKind.png("reconstructions PNG"), false,
            Png.withText(ImageCodec.encodePng(sideBySide(shown, shownRecon, Math.min(8, evalScenes), size)), "Software",
                Png.SOFTWARE));
        System.out.println(report.toPrettyString());
        boolean curve = TrainingLog.plotIfPossible(out.resolve("metrics.jsonl"), List.of("mse"),
            "autoencoder: reconstruction error", out.resolve("loss.png"));
        System.out.println("wrote " + out.resolve("vae") + ", autoencoder-validation.json, reconstructions.png"
            + (curve ? " and loss.png" : ""));
      }
    }
    return 0;
  }

  /** One step's inputs, made on the CPU ahead of time: scenes [B, 3, H, W] and the posterior's noise. */
  record CpuBatch(Tensor images, Tensor noise) implements AutoCloseable {
    @Override
    public void close() {
      images.close();
      noise.close();
    }
  }

  private static double psnr(double mseInMinusOneToOne) {
    return 10 * Math.log10(4 / mseInMinusOneToOne);
  }

  /** n originals in a row above their reconstructions ([n, 3, s, s] in [-1, 1]). */
  static RgbaImage sideBySide(float[] originals, float[] recons, int n, int s) {
    return rows(List.of(originals, recons), n, s);
  }

  /** Pictures [n, 3, s, s] in [-1, 1], one batch per row, n per row, as one RGBA image. */
  static RgbaImage rows(List<float[]> batches, int n, int s) {
    int r = batches.size();
    byte[] rgba = new byte[n * s * r * s * 4];
    for (int row = 0; row < r; row++) {
      float[] src = batches.get(row);
      for (int i = 0; i < n; i++)
        for (int y = 0; y < s; y++)
          for (int x = 0; x < s; x++) {
            int o = (((row * s + y) * n * s) + i * s + x) * 4;
            for (int c = 0; c < 3; c++) {
              float v = src[((i * 3 + c) * s + y) * s + x];
              rgba[o + c] = (byte) Math.round(Math.max(0, Math.min(1, (v + 1) / 2)) * 255);
            }
            rgba[o + 3] = (byte) 255;
          }
    }
    return new RgbaImage(n * s, r * s, rgba);
  }

  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }
}
