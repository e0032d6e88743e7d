package io.d2g.cli;

import io.d2g.DType;
import io.d2g.Device;
import io.d2g.pairs.PairGenerator;
import io.d2g.pairs.PromptTable;
import io.d2g.pipelines.MultiStepTextToImage;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code d2g pairs}: a teacher's ODE pairs for distillation (see {@link PairGenerator}). */
@Command(name = "pairs", mixinStandardHelpOptions = true,
    description = {"Record a teacher's ODE pairs (noise, prompt, final latent) for distillation, in shards (format: "
        + "io.d2g.pairs.PairManifest). Pair i's noise is Philox-generated from (seed, i) and not stored; its prompt is "
        + "the prompt table's, shuffled once by the seed and cycled.",
        "Safe to interrupt: run the same command again and it continues where it stopped, ending with the files an "
            + "uninterrupted run writes; a folder made with other settings is refused. Under 'd2g launch --nproc G' each "
            + "process (RANK of WORLD_SIZE, on cuda:LOCAL_RANK) writes every G-th shard."})
final class PairsCommand implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(PairsCommand.class);

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--teacher", required = true, description = "The teacher: a diffusers Stable Diffusion folder.")
  Path teacher;

  @Option(names = "--prompts", required = true, paramLabel = "FILE|emoji",
      description = "A prompts file (one per line, or JSON lines with a \"prompt\"), or 'emoji': the emoji corpus's "
          + "training captions and --emoji-scenes composed scenes (held-out prompts never enter).")
  String prompts;

  @Option(names = "--data", defaultValue = "data/emoji-64", description = "The emoji dataset for --prompts emoji (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--emoji-scenes", defaultValue = "20000",
      description = "Composed scenes' captions added with --prompts emoji (default: ${DEFAULT-VALUE}).")
  int emojiScenes;

  @Option(names = "--n", required = true, description = "Number of pairs.")
  long n;

  @Option(names = "--sampler", description = "ddim, euler, heun or dpm_solver (default: the teacher folder's scheduler).")
  String sampler;

  @Option(names = "--steps", defaultValue = "50", description = "Sampler steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--cfg", defaultValue = "5", description = "Classifier-free guidance scale (default: ${DEFAULT-VALUE}).")
  double cfg;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the noise and the prompt order (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--batch", defaultValue = "64", description = "Pairs per sampler run (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--shard-size", defaultValue = "4096", description = "Pairs per shard file (default: ${DEFAULT-VALUE}).")
  int shardSize;

  @Option(names = "--dtype", defaultValue = "f16", description = "Stored latents: f16 or f32 (default: ${DEFAULT-VALUE}).")
  String dtype;

  @Option(names = "--precision", description = "The teacher's text encoder and UNet in f32, f16 or bf16; the sampler's "
      + "arithmetic is f32 either way (default: f16 on CUDA, f32 on the CPU).")
  String precision;

  @Option(names = "--device", description = "cpu or cuda[:N] (default: cuda:LOCAL_RANK under d2g launch, else cpu).")
  String device;

  @Option(names = "--out", required = true, description = "The pairs folder (created, or continued when it holds this run's pairs).")
  Path out;

  @Option(names = "--no-progress", description = "No progress bar.")
  boolean noProgress;

  @Override
  public Integer call() {
    if (n < 1) throw new CommandLine.ParameterException(spec.commandLine(), "--n must be at least 1");
    if (steps < 1 || steps > 1000) throw new CommandLine.ParameterException(spec.commandLine(), "--steps must be 1 to 1000");
    if (!(cfg >= 0 && cfg <= 100)) throw new CommandLine.ParameterException(spec.commandLine(), "--cfg must be 0 to 100");
    if (batch < 1 || batch > 4096) throw new CommandLine.ParameterException(spec.commandLine(), "--batch must be 1 to 4096");
    if (shardSize < 1) throw new CommandLine.ParameterException(spec.commandLine(), "--shard-size must be at least 1");
    if (emojiScenes < 0) throw new CommandLine.ParameterException(spec.commandLine(), "--emoji-scenes must be 0 or more");
    DType latentDType = switch (dtype.toLowerCase(Locale.ROOT)) {
      case "f16" -> DType.F16;
      case "f32" -> DType.F32;
      default -> throw new CommandLine.ParameterException(spec.commandLine(), "--dtype must be f16 or f32, not " + dtype);
    };
    DType teacherDType = precision == null ? null : Commands.precision(precision, spec);
    int world = envInt("WORLD_SIZE", 1), rank = envInt("RANK", 0);
    if (world < 1 || rank < 0 || rank >= world)
      throw new CommandLine.ParameterException(spec.commandLine(), "RANK " + rank + " and WORLD_SIZE " + world + " do not fit");
    Device dev;
    try {
      dev = Device.parse(device != null ? device : System.getenv("LOCAL_RANK") != null ? "cuda:" + System.getenv("LOCAL_RANK") : "cpu");
    } catch (RuntimeException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--device: " + e.getMessage());
    }
    MultiStepTextToImage.Sampler kind;
    try {
      kind = sampler == null ? null : MultiStepTextToImage.Sampler.parse(sampler);
    } catch (RuntimeException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--sampler: " + e.getMessage());
    }
    PromptTable table = prompts.equals("emoji") ? PromptTable.emoji(data, emojiScenes, seed) : PromptTable.read(Path.of(prompts));
    LOG.info("{} pairs from {} ({}), {} {} steps, guidance {}, seed {}; rank {} of {} on {}", n, teacher, table,
        kind == null ? "the folder's sampler" : kind.className, steps, cfg, seed, rank, world, dev);
    var options = new PairGenerator.Options(n, seed, steps, cfg, kind, batch, shardSize, latentDType, teacherDType);
    long mine = 0;
    for (long k = rank, shards = (n + shardSize - 1) / shardSize; k < shards; k += world)
      mine += Math.min(shardSize, n - k * shardSize);
    PairGenerator.Summary s;
    try (ProgressBar bar = noProgress ? null : new ProgressBarBuilder().setTaskName("pairs").setInitialMax(mine)
        .setUnit(" pairs", 1).showSpeed().setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).continuousUpdate()
        .setConsumer(new ConsoleProgressBarConsumer(System.err)).build()) {
      s = PairGenerator.run(teacher, table, options, out, dev, rank, world, k -> {
        if (bar != null) bar.stepBy(k);
      });
    }
    System.out.printf(Locale.ROOT, "%s: %d pairs made (%.1f pairs/s), %d found done, %d shards%s%n", out, s.made(),
        s.pairsPerSecond(), s.found(), s.shards(), s.complete() ? "; the folder is complete" : "; other ranks' shards are still missing");
    return 0;
  }

  private int envInt(String name, int fallback) {
    String v = System.getenv(name);
    if (v == null) return fallback;
    try {
      return Integer.parseInt(v.strip());
    } catch (NumberFormatException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), name + "=" + v + " is not a number");
    }
  }

}
