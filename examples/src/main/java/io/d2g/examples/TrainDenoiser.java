package io.d2g.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.Autograd;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.cli.Commands;
import io.d2g.diffusion.NoiseSchedule;
import io.d2g.hub.DiffusersFolder;
import io.d2g.models.UNet2DConditionConfig;
import io.d2g.models.UNet2DConditionModel;
import io.d2g.train.Checkpoints;
import io.d2g.train.DataParallel;
import io.d2g.train.DenoiseStep;
import io.d2g.train.Ema;
import io.d2g.train.LrSchedule;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.ParamGroup;
import io.d2g.train.ProcessGroup;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Trains a small text-conditional UNet as a diffusion denoiser, top to bottom in one file: the
 * training loop of this library, nanoGPT-style. The data is synthetic so that it runs anywhere:
 * {@code --classes} fixed random latent patterns, each with its own fixed "prompt" embedding; the
 * UNet learns to predict the noise added to a pattern at a random timestep, given its prompt.
 *
 * <p>The run folder ({@code --out}) holds {@code checkpoints/} (with the run's settings) and, at the end,
 * {@code unet/} and {@code unet_ema/} (diffusers folders). Kill the run at any moment and start the
 * same command again: it resumes from the newest checkpoint and ends with exactly the weights an
 * uninterrupted run gives (on the CPU with a fixed {@code --threads}).
 *
 * <p>Data parallel: under {@code ./d2g launch --nproc N} each of the N processes trains on its share
 * of every batch ({@code --batch} is the whole batch) and the gradients are averaged across them, so
 * that N processes reach the weights one process reaches with the same batch (to rounding). Rank 0
 * writes the checkpoints and the final weights.
 *
 * <pre>
 * ./d2g example train-denoiser --out runs/denoiser --steps 300          (--help lists the options)
 * ./d2g example train-denoiser --out runs/sd-size --device cuda --width 320 --batch 64 --steps 2000
 * ./d2g launch --nproc 2 -- ./d2g example train-denoiser --out runs/ddp        (two processes)
 * </pre>
 */
@Command(name = "train-denoiser", mixinStandardHelpOptions = true,
    description = "Train a small text-conditional UNet to denoise (synthetic data); resumes after a kill.")
public final class TrainDenoiser implements Callable<Integer> {
  @Option(names = "--out", required = true, description = "Run folder: config, checkpoints and the final weights.")
  Path out;

  @Option(names = "--steps", defaultValue = "300", description = "Optimizer steps in all (default: ${DEFAULT-VALUE}).")
  long steps;

  @Option(names = "--batch", defaultValue = "16", description = "Samples per step (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--lr", defaultValue = "1e-3", description = "AdamW learning rate (default: ${DEFAULT-VALUE}).")
  double lr;

  @Option(names = "--width", defaultValue = "32", description = "Channels of the UNet's first block; the second has twice as "
      + "many (default: ${DEFAULT-VALUE}).")
  int width;

  @Option(names = "--size", defaultValue = "8", description = "Latent side (default: ${DEFAULT-VALUE}).")
  int size;

  @Option(names = "--classes", defaultValue = "8", description = "Number of patterns and prompts (default: ${DEFAULT-VALUE}).")
  int classes;

  @Option(names = "--checkpoint-every", defaultValue = "50", description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
  long checkpointEvery;

  @Option(names = "--keep", defaultValue = "2", description = "Checkpoints to keep (default: ${DEFAULT-VALUE}).")
  int keep;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the data, the noise and the weights (default: ${DEFAULT-VALUE}).")
  long seed;

  @Mixin ComputeOptions compute;

  @Option(names = "--log-every", defaultValue = "10", description = "Steps between log lines (default: ${DEFAULT-VALUE}).")
  long logEvery;

  @Option(names = "--native-step", description = "Run each step in one native call (DenoiseStep) instead of the Java "
      + "code below it: the same step, faster on a GPU.")
  boolean nativeStep;

  @Option(names = "--precision", defaultValue = "f32", description = "With --native-step: f32, bf16 (autocast) or f16 "
      + "(autocast and loss scaling, CUDA) (default: ${DEFAULT-VALUE}).")
  String precision;

  @Spec CommandSpec spec;

  private static final int TEXT_TOKENS = 5, TEXT_DIM = 32;

  public static void main(String[] args) {
    Commands.main(new TrainDenoiser(), args);
  }

  @Override
  public Integer call() throws Exception {
    validate();
    Device device = compute.apply();
    // Under ./d2g launch: this process's place in the group, and its GPU.
    if (device.isCuda() && System.getenv("LOCAL_RANK") != null) device = ProcessGroup.localCudaDevice();
    ProcessGroup group = ProcessGroup.fromEnvironment(device).orElse(null); // null: a single process
    int rank = group == null ? 0 : group.rank(), world = group == null ? 1 : group.worldSize();
    require(batch % world == 0, "--batch " + batch + " must be a multiple of the " + world + " processes");
    int from = rank * batch / world, to = (rank + 1) * batch / world; // this rank's share of each batch
    D2g.manualSeed(seed); // the UNet's initial weights
    String config = configJson();
    NoiseSchedule schedule = NoiseSchedule.fromConfig(new ObjectMapper().readTree(
        "{\"num_train_timesteps\": 1000, \"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"beta_end\": 0.012}"));
    Checkpoints checkpoints = new Checkpoints(out.resolve("checkpoints"), keep);

    try (group;
        UNet2DConditionModel unet = new UNet2DConditionModel(unetConfig());
        Data data = new Data(seed, classes, size, device);
        // every rank starts from rank 0's weights; gradients are averaged during backward
        DataParallel ddp = group == null ? null : DataParallel.of(group, unet.to(device));
        Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(lr), unet.to(device),
            ParamGroup.noWeightDecay(ParamGroup.BIASES_AND_NORMS));
        Ema ema = Ema.of(unet);
        DenoiseStep fast = nativeStep ? DenoiseStep.create(unet, opt, ema, ddp, schedule,
            new DenoiseStep.Options(DenoiseStep.Precision.valueOf(precision.toUpperCase()), 1.0, 0.99)) : null) {
      unet.train(true);
      LrSchedule lrSchedule = LrSchedule.warmupCosine(Math.min(20, steps / 10), steps, 0.1);

      // Resume: the newest checkpoint's weights, optimizer moments, averages and step count.
      long start;
      try {
        start = checkpoints.resume(config, c -> {
          unet.loadState(c.section("model"), true);
          opt.loadState(c.section("optimizer"));
          ema.loadState(c.section("ema"));
        });
      } catch (Checkpoints.OtherSettingsException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
      if (start > 0 && rank == 0) System.out.printf("resumed at step %d of %d%n", start, steps);

      SkippedSteps skips = new SkippedSteps(out.resolve("checkpoints"), true, rank == 0);
      for (long step = start; step < steps; step++) {
        // One step: a batch, the noisy latents at random timesteps, the noise prediction's error.
        opt.setLrFactor(lrSchedule.factor(step));
        double loss, gradNorm;
        boolean stepped;
        try (TensorScope s = new TensorScope()) {
          Batch b = data.batch(step, batch, from, to, schedule, s);
          if (fast != null) { // the same step as below, in one native call
            DenoiseStep.Metrics m = fast.run(b.clean, b.text, b.timesteps, b.noise);
            loss = m.loss();
            gradNorm = m.gradNorm();
            stepped = m.stepped();
          } else {
            opt.zeroGrad();
            Tensor mse;
            try (var rec = Autograd.record()) {
              Tensor predicted = s.track(unet.forward(b.noisy, b.timesteps, b.text));
              mse = s.track(s.track(s.track(predicted.sub(b.noise)).square()).mean());
              mse.backward();
            }
            if (ddp != null) {
              ddp.finish(); // the gradients of the whole batch's mean loss, on every rank
              group.allReduce(List.of(mse), true);
            }
            loss = mse.item();
            gradNorm = opt.clipGradNorm(1.0);
            stepped = Double.isFinite(loss) && Double.isFinite(gradNorm); // as the native step decides
            if (stepped) {
              opt.step();
              ema.update(0.99);
            }
          }
        }

        long done = step + 1;
        if (!skips.updated(stepped, done, "loss " + loss)) continue;
        if (rank == 0 && (done % logEvery == 0 || done == steps))
          System.out.printf("step %d/%d loss %.5f grad_norm %.3f lr %.2e%n", done, steps, loss, gradNorm,
              lr * lrSchedule.factor(step));
        if (rank == 0 && (done % checkpointEvery == 0 || done == steps)) {
          Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
          sections.put("model", unet.state());
          sections.put("optimizer", opt.state());
          sections.put("ema", ema.state());
          checkpoints.saveAndClose(done, config, sections);
        }
      }

      // The final weights, and their average, as diffusers folders.
      if (rank != 0) return 0;
      DiffusersFolder.save(out.resolve("unet"), unet);
      ema.copyToModule();
      DiffusersFolder.save(out.resolve("unet_ema"), unet);
      System.out.println("wrote " + out.resolve("unet") + " and " + out.resolve("unet_ema"));
    }
    return 0;
  }

  private UNet2DConditionConfig unetConfig() {
    return UNet2DConditionConfig.builder()
        .blocks(List.of("CrossAttnDownBlock2D", "DownBlock2D"), List.of("UpBlock2D", "CrossAttnUpBlock2D"),
            List.of(width, 2 * width))
        .layersPerBlock(1).crossAttentionDim(TEXT_DIM).attentionHeads(4).normNumGroups(8).sampleSize(size).build();
  }

  /** Everything that decides the result: a resumed run must have been started with the same. */
  private String configJson() {
    ObjectNode c = new ObjectMapper().createObjectNode();
    c.put("steps", steps).put("batch", batch).put("lr", lr).put("width", width).put("size", size)
        .put("classes", classes).put("seed", seed).put("device", compute.device).put("native_step", nativeStep)
        .put("precision", precision);
    if (compute.threads != null) c.put("threads", compute.threads);
    return c.toString();
  }

  private void validate() {
    require(steps >= 1, "--steps must be at least 1");
    require(batch >= 1 && batch <= 4096, "--batch must be 1 to 4096");
    require(lr > 0 && lr < 1, "--lr must be in (0, 1)");
    require(width >= 8 && width % 8 == 0 && width <= 1024, "--width must be a multiple of 8 from 8 to 1024");
    require(size >= 4 && size % 2 == 0 && size <= 256, "--size must be even, 4 to 256");
    require(classes >= 1 && classes <= 10_000, "--classes must be 1 to 10000");
    require(checkpointEvery >= 1, "--checkpoint-every must be at least 1");
    require(keep >= 1, "--keep must be at least 1");
    require(logEvery >= 1, "--log-every must be at least 1");
    require(compute.threads == null || (compute.threads >= 1 && compute.threads <= 1024), "--threads must be 1 to 1024");
    require(List.of("f32", "bf16", "f16").contains(precision), "--precision must be f32, bf16 or f16");
    require(nativeStep || precision.equals("f32"), "--precision needs --native-step");
  }

  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }

  /** One step's inputs. */
  private record Batch(Tensor clean, Tensor noisy, Tensor timesteps, Tensor text, Tensor noise) {}

  /**
   * The synthetic data: fixed patterns and prompts, and per step a batch drawn from generators
   * seeded by (seed, step), so that a step's batch never depends on what ran before it.
   */
  private static final class Data implements AutoCloseable {
    private final List<Tensor> patterns = new ArrayList<>(), prompts = new ArrayList<>();
    private final long seed;
    private final Device device;

    Data(long seed, int classes, int size, Device device) {
      this.seed = seed;
      this.device = device;
      try (Generator g = Generator.cpu(Generator.mix(seed, -1))) {
        for (int k = 0; k < classes; k++) {
          try (Tensor p = Tensor.randn(g, DType.F32, 1, 4, size, size); Tensor t = Tensor.randn(g, DType.F32, 1, TEXT_TOKENS, TEXT_DIM)) {
            patterns.add(p.to(device));
            prompts.add(t.to(device));
          }
        }
      }
    }

    /** Samples from..to-1 of step's batch of {@code total}: the same samples whoever draws them. */
    Batch batch(long step, int total, int from, int to, NoiseSchedule schedule, TensorScope s) {
      SplittableRandom r = new SplittableRandom(Generator.mix(seed, step));
      int n = to - from;
      List<Tensor> x0 = new ArrayList<>(n), text = new ArrayList<>(n), noises = new ArrayList<>(n);
      long[] t = new long[n];
      float[] a = new float[n], b = new float[n];
      for (int i = 0; i < total; i++) {
        int k = r.nextInt(patterns.size());
        int timestep = r.nextInt(schedule.numTrainTimesteps());
        if (i < from || i >= to) continue;
        int j = i - from;
        x0.add(patterns.get(k));
        text.add(prompts.get(k));
        t[j] = timestep;
        double abar = schedule.alphaBar(timestep);
        a[j] = (float) Math.sqrt(abar);
        b[j] = (float) Math.sqrt(1 - abar);
        try (Generator g = Generator.cpu(Generator.mix(Generator.mix(seed, step), i))) {
          noises.add(s.track(s.track(Tensor.randn(g, DType.F32, patterns.get(k).shape())).to(device)));
        }
      }
      Tensor clean = s.track(Tensor.cat(x0, 0));
      Tensor noise = s.track(Tensor.cat(noises, 0));
      Tensor sa = s.track(s.track(Tensor.of(a, n, 1, 1, 1)).to(device));
      Tensor sb = s.track(s.track(Tensor.of(b, n, 1, 1, 1)).to(device));
      // x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps
      Tensor noisy = s.track(s.track(clean.mul(sa)).add(s.track(noise.mul(sb))));
      Tensor timesteps = s.track(s.track(Tensor.of(t, n)).to(device));
      return new Batch(clean, noisy, timesteps, s.track(Tensor.cat(text, 0)), noise);
    }

    @Override
    public void close() {
      patterns.forEach(Tensor::close);
      prompts.forEach(Tensor::close);
    }
  }
}
