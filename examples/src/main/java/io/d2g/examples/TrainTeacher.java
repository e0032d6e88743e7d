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
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.eval.JudgeValidation;
import io.d2g.hub.ClipBpeTrainer;
import io.d2g.hub.ClipTokenizer;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import io.d2g.io.Png;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.ClipTextConfig;
import io.d2g.models.ClipTextModel;
import io.d2g.nn.NativeModule;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.pipelines.MultiStepTextToImage;
import io.d2g.schedulers.DdimScheduler;
import io.d2g.train.Checkpoints;
import io.d2g.train.DenoiseStep;
import io.d2g.train.Ema;
import io.d2g.train.LrSchedule;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.ParamGroup;
import io.d2g.train.Prefetcher;
import io.d2g.train.TrainingLog;
import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.function.LongFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Trains the teacher — a small latent text-to-image model of the Stable Diffusion family — top to
 * bottom: a compact CLIP vocabulary learnt from the caption corpus ({@link ClipBpeTrainer}); scenes
 * composed from the training split (step s uses scenes s·batch .. of the seed) encoded by the frozen
 * autoencoder of {@code train-autoencoder} (a posterior sample times its scaling factor); captions
 * dropped to "" with probability {@code --caption-dropout} (for classifier-free guidance); the CLIP
 * text encoder and the UNet trained together in one native call per step ({@link DenoiseStep} with
 * {@link DenoiseStep#withTextEncoder}) — or, with {@code --text-encoder}, a text encoder pretrained
 * contrastively ({@link TrainTextEncoder}) as the start, frozen with {@code --freeze-text-encoder} (as
 * Stable Diffusion keeps CLIP's); an EMA of the UNet; checkpoints (kill it and run the same
 * command again to resume); metrics as JSON lines and their curve ({@code loss.png}); every {@code
 * --sample-every} steps a grid of the fixed prompts from the same noise in {@code samples/}. At the end {@code teacher/} is a diffusers Stable
 * Diffusion folder (EMA UNet, text encoder, VAE, tokenizer, a DDIM scheduler) and {@code samples.png}
 * its images for fixed prompts — {@code ./d2g sample --model teacher} makes more.
 *
 * <pre>
 * ./d2g example train-autoencoder --out runs/vae --device cuda
 * ./d2g example train-teacher --vae runs/vae/vae --out runs/teacher --device cuda   (--help lists the options)
 * </pre>
 */
@Command(name = "train-teacher", mixinStandardHelpOptions = true,
    description = "Train the teacher (CLIP text encoder + UNet on a frozen autoencoder's latents) on composed emoji scenes; resumes after a kill.")
public final class TrainTeacher implements Callable<Integer> {
  @Option(names = "--data", defaultValue = "data/emoji-64", description = "The emoji dataset (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--vae", required = true, description = "The autoencoder folder (train-autoencoder's vae/).")
  Path vaeDir;

  @Option(names = "--out", required = true, description = "Run folder: checkpoints, metrics.jsonl, samples/, teacher/, samples.png.")
  Path out;

  @Option(names = "--steps", defaultValue = "4000", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
  long steps;

  @Option(names = "--batch", defaultValue = "64", description = "Scenes per step (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--lr", defaultValue = "2e-4", description = "AdamW learning rate (default: ${DEFAULT-VALUE}).")
  double lr;

  @Option(names = "--widths", split = ",", defaultValue = "64,96,96",
      description = "The UNet's block_out_channels (default: ${DEFAULT-VALUE}).")
  List<Integer> widths;

  @Option(names = "--text-width", defaultValue = "128", description = "Text encoder width = the UNet's cross-attention dim (default: ${DEFAULT-VALUE}).")
  int textWidth;

  @Option(names = "--text-layers", defaultValue = "4", description = "Text encoder layers (default: ${DEFAULT-VALUE}).")
  int textLayers;

  @Option(names = "--vocab", defaultValue = "4096", description = "Most tokens in the learnt vocabulary (default: ${DEFAULT-VALUE}).")
  int vocab;

  @Option(names = "--text-encoder", description = "Start from a pretrained text encoder: a pretrain-text-encoder run "
      + "folder (its text_encoder/ and tokenizer/; --vocab, --text-width and --text-layers come from it).")
  Path textEncoderRun;

  @Option(names = "--freeze-text-encoder", description = "With --text-encoder: keep it fixed and train the UNet alone on its outputs.")
  boolean freezeTextEncoder;

  @Option(names = "--prediction", defaultValue = "v_prediction", description = "epsilon or v_prediction (default: ${DEFAULT-VALUE}).")
  String prediction;

  @Option(names = "--caption-dropout", defaultValue = "0.1", description = "Probability of an empty caption (default: ${DEFAULT-VALUE}).")
  double captionDropout;

  @Option(names = "--ema-decay", defaultValue = "0.999", description = "EMA decay of the UNet (default: ${DEFAULT-VALUE}).")
  double emaDecay;

  @Option(names = "--precision", defaultValue = "f32", description = "f32, bf16 or f16 (CUDA) (default: ${DEFAULT-VALUE}).")
  String precision;

  @Option(names = "--cuda-graphs", defaultValue = "true", negatable = true,
      description = "On CUDA, capture the training step as a CUDA graph after two warm-up steps (default: ${DEFAULT-VALUE}).")
  boolean cudaGraphs;

  @Option(names = "--seed", defaultValue = "11", description = "Seed of the weights, scenes, dropout and noise (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--checkpoint-every", defaultValue = "250", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
  long checkpointEvery;

  @Option(names = "--sample-steps", defaultValue = "25", description = "DDIM steps of the final samples (default: ${DEFAULT-VALUE}).")
  int sampleSteps;

  @Option(names = "--cfg", defaultValue = "5", description = "Guidance of the final samples (default: ${DEFAULT-VALUE}).")
  double cfg;

  @Mixin ComputeOptions compute;

  @Option(names = "--sample-every", defaultValue = "1000",
      description = "Steps between sample grids in samples/ (fixed prompts and noise, the current weights; 0: none) (default: ${DEFAULT-VALUE}).")
  long sampleEvery;

  @Option(names = "--log-every", defaultValue = "50", description = "Steps between log lines (default: ${DEFAULT-VALUE}).")
  long logEvery;

  @Spec CommandSpec spec;

  static final List<String> PROMPTS = List.of("cat face, noto style", "a red car on a blue background, twemoji style",
      "a dog to the left of a tree, fluent 3d style", "hot springs, emojione style");

  public static void main(String[] args) {
    Commands.main(new TrainTeacher(), args);
  }

  @Override
  public Integer call() throws Exception {
    require(steps >= 1 && batch >= 2 && batch <= 4096, "--steps must be at least 1 and --batch 2 to 4096");
    require(lr > 0 && lr < 1, "--lr must be in (0, 1)");
    require(captionDropout >= 0 && captionDropout < 1, "--caption-dropout must be in [0, 1)");
    require(List.of("epsilon", "v_prediction").contains(prediction), "--prediction must be epsilon or v_prediction");
    require(List.of("f32", "bf16", "f16").contains(precision), "--precision must be f32, bf16 or f16");
    require(textWidth >= 8 && textWidth % 8 == 0 && textWidth <= 2048, "--text-width must be a multiple of 8 from 8 to 2048");
    require(checkpointEvery >= 1 && logEvery >= 1 && sampleSteps >= 1, "counts must be at least 1");
    require(sampleEvery >= 0, "--sample-every must be 0 (none) or more");
    require(Files.isRegularFile(vaeDir.resolve("config.json")), "--vae " + vaeDir + " is not a model folder (run train-autoencoder)");
    require(!freezeTextEncoder || textEncoderRun != null, "--freeze-text-encoder needs --text-encoder");
    if (textEncoderRun != null) {
      require(Files.isRegularFile(textEncoderRun.resolve("text_encoder/config.json"))
          && Files.isDirectory(textEncoderRun.resolve("tokenizer")), "--text-encoder " + textEncoderRun
          + " is not a pretrain-text-encoder run folder (text_encoder/ and tokenizer/)");
      for (String o : List.of("--vocab", "--text-width", "--text-layers"))
        require(!spec.commandLine().getParseResult().hasMatchedOption(o), o + " comes from --text-encoder's folder");
    }
    Device device = compute.apply();
    ObjectNode run = new ObjectMapper().createObjectNode();
    run.put("steps", steps).put("batch", batch).put("lr", lr).put("widths", widths.toString()).put("text_width", textWidth)
        .put("text_layers", textLayers).put("vocab", vocab).put("prediction", prediction)
        .put("caption_dropout", captionDropout).put("ema_decay", emaDecay).put("precision", precision).put("seed", seed)
        .put("device", compute.device).put("vae", vaeDir.toAbsolutePath().normalize().toString())
        .put("data", data.toAbsolutePath().normalize().toString());
    if (textEncoderRun != null) // only then, so that runs without it resume from their older checkpoints
      run.put("text_encoder", textEncoderRun.toAbsolutePath().normalize().toString()).put("freeze_text_encoder", freezeTextEncoder);
    String runConfig = run.toString();
    NoiseSchedule schedule = NoiseSchedule.fromConfig(new ObjectMapper().readTree(schedulerConfig()));
    Checkpoints checkpoints = new Checkpoints(out.resolve("checkpoints"), 2);

    List<String> grid = new ArrayList<>();
    try (EmojiDataset ds = EmojiDataset.open(data);
        AutoencoderKL vae = DiffusersFolder.load(vaeDir, AutoencoderKL.FAMILY,
            DiffusersFolder.LoadOptions.DEFAULT.on(device, DType.F32))) {
      int size = ds.manifest().path("size").asInt(64), f = 1 << (vae.config().blockOutChannels().size() - 1);
      // The vocabulary: learnt from the caption corpus (its fillers too), deterministically; or the
      // pretrained text encoder's.
      List<String> corpus = trainingCaptions(data);
      ClipTokenizer tok = textEncoderRun != null ? ClipTokenizer.load(textEncoderRun.resolve("tokenizer"))
          : ClipBpeTrainer.train(corpus, vocab, 2);
      // The grids' prompts; one naming what this corpus lacks (a style it has not) gives way to a caption of it.
      for (int i = 0; i < PROMPTS.size(); i++)
        grid.add(tok.unseenWords(PROMPTS.get(i)).isEmpty() ? PROMPTS.get(i) : corpus.get(i * corpus.size() / PROMPTS.size()));
      SceneComposer scenes = new SceneComposer(SpriteAtlas.of(ds, EmojiRecord::isTrain), SceneComposer.Options.defaults(size));
      D2g.manualSeed(seed);
      ClipTextConfig textConfig;
      UNet2DConditionConfig unetConfig;
      try {
        textConfig = textEncoderRun != null ? ClipTextConfig.read(textEncoderRun.resolve("text_encoder/config.json"))
            : textConfig(tok, textWidth, textLayers);
        int crossDim = textConfig.hiddenSize();
        List<String> down = new ArrayList<>(), up = new ArrayList<>();
        for (int i = 0; i < widths.size(); i++) {
          down.add(i < widths.size() - 1 ? "CrossAttnDownBlock2D" : "DownBlock2D");
          up.add(i == 0 ? "UpBlock2D" : "CrossAttnUpBlock2D");
        }
        unetConfig = UNet2DConditionConfig.builder().blocks(down, up, widths).layersPerBlock(1).crossAttentionDim(crossDim)
            .attentionHeads(Math.max(1, widths.get(0) / 32)).normNumGroups(Math.min(32, widths.get(0)))
            .sampleSize(size / f).build();
      } catch (InvalidArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
      try (ClipTextModel text = textEncoderRun != null ? DiffusersFolder.load(textEncoderRun.resolve("text_encoder"),
              ClipTextModel.FAMILY, DiffusersFolder.LoadOptions.DEFAULT.on(Device.CPU, DType.F32)) : new ClipTextModel(textConfig);
          UNet2DConditionModel unet = new UNet2DConditionModel(unetConfig);
          TensorScope params = new TensorScope()) {
        text.to(device, DType.F32).train(!freezeTextEncoder);
        unet.to(device, DType.F32).train(true);
        Map<String, Tensor> all = new LinkedHashMap<>();
        unet.parameters().forEach((k, v) -> all.put("unet." + k, params.track(v)));
        if (!freezeTextEncoder) text.parameters().forEach((k, v) -> all.put("text_encoder." + k, params.track(v)));
        try (Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(lr).withWeightDecay(0.01), all,
                ParamGroup.noWeightDecay(ParamGroup.BIASES_AND_NORMS));
            Ema ema = Ema.of(unet);
            DenoiseStep step = trainedWith(DenoiseStep.create(unet, opt, ema, null, schedule, new DenoiseStep.Options(
                DenoiseStep.Precision.valueOf(precision.toUpperCase()), 1.0, emaDecay, cudaGraphs)), text)) {
          LrSchedule lrs = LrSchedule.warmupCosine(Math.min(250, steps / 10), steps, 0.1);
          long start;
          try {
            start = checkpoints.resume(runConfig, c -> {
              unet.loadState(c.section("unet"), true);
              text.loadState(c.section("text_encoder"), true);
              opt.loadState(c.section("optimizer"));
              ema.loadState(c.section("ema"));
            });
          } catch (Checkpoints.OtherSettingsException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
          }
          if (start > 0) System.out.printf("resumed at step %d of %d%n", start, steps);
          Files.createDirectories(out);
          long t0 = System.nanoTime();
          SkippedSteps skips = new SkippedSteps(out.resolve("checkpoints"), !precision.equals("f16"), true);
          // Step s's scenes, captions (some dropped to "", the unconditional case for guidance) and
          // timesteps depend on s alone; made on a background thread while the GPU runs step s - 1.
          LongFunction<CpuBatch> make = s -> {
            String[] captions = new String[batch];
            Tensor images = JudgeValidation.scenes(scenes, seed, s * batch, batch, captions);
            SplittableRandom r = new SplittableRandom(Generator.mix(seed, -1 - s));
            long[] t = new long[batch];
            for (int i = 0; i < batch; i++) {
              if (r.nextDouble() < captionDropout) captions[i] = "";
              t[i] = r.nextInt(schedule.numTrainTimesteps());
            }
            return new CpuBatch(images, tok.encodeBatch(List.of(captions)), Tensor.of(t, batch));
          };
          try (Prefetcher<CpuBatch> data = Prefetcher.of(start, steps, 2, make)) {
            for (long s = start; s < steps; s++) {
              opt.setLrFactor(lrs.factor(s));
              DenoiseStep.Metrics m;
              try (CpuBatch b = data.next(); TensorScope sc = new TensorScope();
                  Generator g = Generator.create(device, Generator.mix(seed, s))) {
                AutoencoderKL.Posterior post = vae.encode(sc.track(b.images().to(device)));
                sc.track(post.mean());
                sc.track(post.logvar());
                Tensor latents = sc.track(sc.track(post.sample(g)).mul(vae.scalingFactor()));
                Tensor noise = sc.track(Tensor.randn(g, DType.F32, latents.shape()));
                Tensor ids = sc.track(b.ids().to(device));
                // A frozen encoder's outputs are computed here, without gradients; a trained one runs inside the step.
                Tensor context = freezeTextEncoder ? sc.track(text.lastHiddenState(ids)) : ids;
                m = step.run(latents, context, sc.track(b.timesteps().to(device)), noise);
              }
              long done = s + 1;
              if (!skips.updated(m.stepped(), done, "loss " + m.loss() + ", loss scale " + m.lossScale())) continue;
              if (done % logEvery == 0 || done == steps) {
                double sps = (System.nanoTime() - t0) / 1e9 / (done - start);
                System.out.printf("step %d/%d loss %.5f grad_norm %.3f lr %.2e (%.3f s/step)%n", done, steps, m.loss(),
                    m.gradNorm(), lr * lrs.factor(s), sps);
                TrainingLog.append(out.resolve("metrics.jsonl"), new ObjectMapper().createObjectNode().put("step", done)
                    .put("loss", m.loss()).put("grad_norm", m.gradNorm()).put("lr", lr * lrs.factor(s))
                    .put("seconds_per_step", sps));
              }
              if (sampleEvery > 0 && done % sampleEvery == 0 && done < steps) { // how the samples grow, same noise each time
                text.eval();
                unet.eval();
                MultiStepTextToImage pipe = new MultiStepTextToImage(tok, text, unet, vae,
                    DdimScheduler.fromConfig(new ObjectMapper().readTree(schedulerConfig())), device);
                writeGrid(pipe.generate(grid, sampleSteps, cfg, seed), out.resolve("samples").resolve(
                    String.format("step-%08d.png", done)));
                text.train(!freezeTextEncoder);
                unet.train(true);
              }
              if (done % checkpointEvery == 0 || done == steps) {
                Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
                sections.put("unet", unet.state());
                sections.put("text_encoder", text.state());
                sections.put("optimizer", opt.state());
                sections.put("ema", ema.state());
                checkpoints.saveAndClose(done, runConfig, sections);
              }
            }
          }
          // The teacher: the UNet's average, the text encoder, the autoencoder, the tokenizer, DDIM.
          ema.copyToModule();
          unet.eval();
          text.eval();
          for (NativeModule m : List.<NativeModule>of(unet, text, vae)) m.to(Device.CPU, DType.F16); // shipped in fp16
          Path teacher = out.resolve("teacher");
          DiffusersFolder.savePipeline(teacher, "StableDiffusionPipeline", Map.of("unet", unet, "text_encoder", text,
              "vae", vae), tok, Map.of("scheduler", List.of("diffusers", "DDIMScheduler")));
          Path sched = teacher.resolve("scheduler");
          Files.createDirectories(sched);
          Outputs.writeJson(sched.resolve("scheduler_config.json"), OutputKind.jsonFile("scheduler config"), true,
              new ObjectMapper().readTree(schedulerConfig()));
        }
      }
      try (MultiStepTextToImage pipe = MultiStepTextToImage.load(out.resolve("teacher"), device, null)) {
        writeGrid(pipe.generate(grid, sampleSteps, cfg, seed), out.resolve("samples.png"));
      }
      boolean curve = TrainingLog.plotIfPossible(out.resolve("metrics.jsonl"), List.of("loss"), "teacher: denoising loss",
          out.resolve("loss.png"));
      System.out.println("wrote " + out.resolve("teacher") + ", samples.png" + (curve ? " and loss.png" : ""));
    }
    return 0;
  }

  /** The step as this run trains: with the text encoder inside it, or (frozen) on its outputs. */
  private DenoiseStep trainedWith(DenoiseStep step, ClipTextModel text) {
    return freezeTextEncoder ? step : step.withTextEncoder(text);
  }

  /** The dataset's training captions (captions-train.txt without comments and ids): the vocabulary's corpus. */
  static List<String> trainingCaptions(Path data) throws java.io.IOException {
    List<String> corpus = new ArrayList<>();
    for (String line : Files.readAllLines(data.resolve("captions-train.txt"), StandardCharsets.UTF_8))
      if (!line.startsWith("#")) corpus.add(line.contains("\t") ? line.substring(line.indexOf('\t') + 1) : line);
    return corpus;
  }

  /** The teacher's text encoder on a tokenizer: CLIP's architecture, {@code width} wide, 32-wide heads, 77 tokens. */
  static ClipTextConfig textConfig(ClipTokenizer tok, int width, int layers) {
    return new ClipTextConfig(tok.vocabSize(), width, 4 * width, layers, Math.max(1, width / 32), 77, "quick_gelu", 1e-5, 0,
        tok.bosId(), tok.eosId(), tok.padId(), width, false);
  }

  /** One step's inputs, made on the CPU ahead of time: scenes [B, 3, H, W], token ids, timesteps. */
  record CpuBatch(Tensor images, Tensor ids, Tensor timesteps) implements AutoCloseable {
    @Override
    public void close() {
      images.close();
      ids.close();
      timesteps.close();
    }
  }

  /** The pictures side by side, as a PNG. */
  private static void writeGrid(BufferedImage[] images, Path png) throws java.io.IOException {
    int w = images[0].getWidth(), h = images[0].getHeight();
    BufferedImage grid = new BufferedImage(w * images.length, h, BufferedImage.TYPE_INT_RGB);
    for (int i = 0; i < images.length; i++) grid.getGraphics().drawImage(images[i], i * w, 0, null);
    Files.createDirectories(png.toAbsolutePath().getParent());
    Outputs.writeBytes(png, OutputKind.png("teacher samples PNG"), false,
        Png.withText(ImageCodec.encodePng(RgbaImage.of(grid)), "Software", Png.SOFTWARE));
  }

  /** The teacher's noise schedule and sampler: SD's scaled-linear betas, DDIM, the chosen prediction. */
  private String schedulerConfig() {
    return "{\"_class_name\": \"DDIMScheduler\", \"num_train_timesteps\": 1000, \"beta_start\": 0.00085, "
        + "\"beta_end\": 0.012, \"beta_schedule\": \"scaled_linear\", \"clip_sample\": false, \"set_alpha_to_one\": false, "
        + "\"steps_offset\": 1, \"timestep_spacing\": \"trailing\", \"prediction_type\": \"" + prediction + "\"}";
  }

  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }
}
