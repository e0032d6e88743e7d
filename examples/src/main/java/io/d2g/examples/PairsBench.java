package io.d2g.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.cli.Commands;
import io.d2g.io.Outputs;
import io.d2g.pairs.PairDataset;
import io.d2g.pairs.PairGenerator;
import io.d2g.pairs.PromptTable;
import io.d2g.pipelines.MultiStepTextToImage;
import io.d2g.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * The pairs' two speeds on one device: making them (the teacher's {@code --steps}-step sampler with
 * guidance, {@link PairGenerator} as {@code d2g pairs} runs it, seconds for {@code --pairs} pairs and
 * pairs per second) and reading them back for training ({@link PairDataset}'s loader: shuffled batches
 * with recomputed noise, on the device, pairs per second over one epoch). Writes pairs.json.
 *
 * <pre>
 * ./d2g example pairs-bench --teacher runs/teacher/teacher --pairs 100000 --device cuda --out target/results
 * </pre>
 */
@Command(name = "pairs-bench", mixinStandardHelpOptions = true,
    description = "Teacher pairs: generation time and the reader's pairs per second (pairs.json).")
public final class PairsBench implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(PairsBench.class);

  @Option(names = "--teacher", required = true, description = "The teacher: a diffusers Stable Diffusion folder.")
  Path teacher;

  @Option(names = "--data", defaultValue = "data/emoji-64", description = "The emoji dataset for the prompts (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--prompts", description = "A prompts file (as d2g pairs reads it) instead of the emoji dataset's "
      + "training captions and 20,000 composed scenes.")
  Path promptsFile;

  @Option(names = "--write-prompts", description = "Only write the emoji dataset's prompts (captions and scenes) to this "
      + "JSON-lines file, for a later --prompts, and stop.")
  Path writePrompts;

  @Option(names = "--pairs", defaultValue = "100000", description = "Pairs to make (default: ${DEFAULT-VALUE}).")
  long pairs;

  @Option(names = "--steps", defaultValue = "50", description = "Sampler steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--cfg", defaultValue = "5", description = "Guidance (default: ${DEFAULT-VALUE}).")
  double cfg;

  @Option(names = "--batch", defaultValue = "1024", description = "Pairs per sampler run (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--read-batch", defaultValue = "1024", description = "Pairs per training batch read (default: ${DEFAULT-VALUE}).")
  int readBatch;

  @Option(names = "--precision", description = "The teacher's text encoder and UNet in f32, f16 or bf16 (default: f16 on "
      + "CUDA, f32 on the CPU).")
  String precision;

  @Option(names = "--check", defaultValue = "256",
      description = "Pairs remade in f32 to measure the precision's difference (0: none; default: ${DEFAULT-VALUE}).")
  int check;

  @Option(names = "--work", description = "Folder for the pairs (default: a new temporary folder, removed after).")
  Path work;

  @Option(names = "--out", defaultValue = "target/results", description = "Folder for pairs.json (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--force", description = "Replace an older results file that does not name its producer.")
  boolean force;

  @Mixin ComputeOptions compute;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new PairsBench(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (pairs < 1 || steps < 1 || batch < 1 || readBatch < 1 || check < 0)
      throw new ParameterException(spec.commandLine(), "counts must be positive");
    DType teacherDType = precision == null ? null : Commands.precision(precision, spec);
    Device device = compute.apply();
    boolean temporary = work == null;
    Path dir = temporary ? Files.createTempDirectory("d2g-pairs-bench") : work;
    Map<String, Object> figures = new LinkedHashMap<>(), detail = new LinkedHashMap<>();
    try {
      PromptTable prompts = promptsFile != null ? PromptTable.read(promptsFile) : PromptTable.emoji(data, 20000, 0);
      if (writePrompts != null) {
        Files.writeString(writePrompts, prompts.toJsonLines(), java.nio.file.StandardOpenOption.CREATE_NEW); // never replaces a file
        System.out.println("wrote " + prompts.size() + " prompts to " + writePrompts);
        return 0;
      }
      Path folder = dir.resolve("pairs");
      var o = new PairGenerator.Options(pairs, 0, steps, cfg, null, batch, 8192, DType.F16, teacherDType);
      long start = System.nanoTime();
      long[] lastLog = {start}, done = {0};
      LOG.info("making {} pairs on {} ({} steps, guidance {}, batch {}, teacher in {})", pairs, device, steps, cfg, batch,
          o.precisionOn(device));
      PairGenerator.Summary s = PairGenerator.run(teacher, prompts, o, folder, device, 0, 1, more -> {
        done[0] += more;
        long now = System.nanoTime();
        if (now - lastLog[0] < 10_000_000_000L && done[0] < pairs) return; // a line every 10 s, and the last
        lastLog[0] = now;
        LOG.info("{} of {} pairs, {} pairs/s", done[0], pairs, String.format("%.1f", done[0] / ((now - start) / 1e9)));
      });
      figures.put("emoji_" + pairs + "_pairs_s", Map.of("ours", Provenance.round(s.seconds())));
      figures.put("emoji_gpu_hours_per_million_pairs", Map.of("ours", Provenance.round(1e6 / s.pairsPerSecond() / 3600)));
      detail.put("generation", Map.of("pairs", pairs, "pairs_per_s", Provenance.round(s.pairsPerSecond()), "steps", steps, "cfg", cfg,
          "batch", batch, "prompts", prompts.size(), "precision", o.precisionOn(device).name(),
          "seconds_include", "teacher load, folder hash, sampling, shard writing"));
      if (check > 0 && o.precisionOn(device) != DType.F32) detail.put("precision_check", precisionCheck(prompts, o, device));
      java.util.List<String> texts = new java.util.ArrayList<>();
      for (int i = 0; i < readBatch; i++) texts.add(prompts.get(i % prompts.size()));
      detail.put("text_states", textStates(teacher, texts, o.precisionOn(device), device));
      try (PairDataset ds = PairDataset.open(folder)) {
        for (int epoch = 0; epoch < 2; epoch++) { // the first epoch maps and checks the shards
          long t0 = System.nanoTime(), n = 0;
          try (PairDataset.Loader loader = ds.loader(epoch, 1, readBatch, 0, 1, device, 4)) {
            for (long b = 0; b < loader.steps(); b++)
              try (PairDataset.Batch batchRead = loader.next()) {
                n += batchRead.pairs().length;
                if (device.isCuda()) batchRead.latents().sum().close(); // touch it on the device
              }
          }
          D2g.synchronize(device);
          double sec = (System.nanoTime() - t0) / 1e9;
          if (epoch == 1) figures.put("reader_pairs_per_s", Map.of("ours", Provenance.round(n / sec)));
          detail.put("reader_epoch_" + epoch, Map.of("pairs", n, "seconds", Provenance.round(sec), "batch", readBatch));
        }
      }
    } finally {
      if (temporary) deleteTree(dir);
    }
    Map<String, Object> json = Provenance.header();
    json.put("teacher", teacher.toAbsolutePath().normalize().toString());
    json.put("figures", figures);
    json.put("detail", detail);
    Path file = Outputs.writeResults(out.resolve("pairs.json"), "d2g PairsBench", force, json);
    System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(figures));
    System.out.println("wrote " + file);
    return 0;
  }

  /**
   * The first {@code check} pairs remade with the teacher in f32 from the same noise and prompts: the
   * relative L2 difference of the latents (the chosen precision against f32).
   */
  private Map<String, Object> precisionCheck(PromptTable prompts, PairGenerator.Options o, Device device) {
    int n = (int) Math.min(check, pairs);
    java.util.List<String> texts = new java.util.ArrayList<>();
    for (int i = 0; i < n; i++) texts.add(prompts.get(prompts.promptOf(i, o.seed())));
    try (io.d2g.TensorScope s = new io.d2g.TensorScope()) {
      Tensor z = null;
      Tensor[] out = new Tensor[2];
      DType[] kinds = {o.precisionOn(device), DType.F32};
      for (int k = 0; k < 2; k++)
        try (MultiStepTextToImage pipe = MultiStepTextToImage.load(teacher, device, null, kinds[k])) {
          if (z == null) z = s.track(s.track(io.d2g.pairs.PairNoise.of(o.seed()).tensor(0, n, pipe.latentShape())).to(device));
          out[k] = s.track(pipe.denoise(texts, z, steps, cfg));
        }
      Tensor diff = s.track(out[0].sub(out[1]));
      double rel = Math.sqrt(s.track(diff.mul(diff).sum()).item() / s.track(out[1].mul(out[1]).sum()).item());
      LOG.info("{} against f32 on {} pairs: relative L2 {}", kinds[0], n, String.format("%.2e", rel));
      return Map.of("pairs", n, "against", "f32", "relative_l2", rel);
    }
  }

  /**
   * The reader's choice between text states stored with the pairs and recomputed from the prompt ids:
   * the text encoder on one read batch of prompts (median of 5 after 2) against moving the same states
   * from host memory to the device (what a stored copy costs at least, before the disk), and the bytes a
   * stored copy adds per pair.
   */
  static Map<String, Object> textStates(Path teacher, java.util.List<String> texts, DType dtype, Device device) {
    int n = texts.size();
    var opts = io.d2g.hub.DiffusersFolder.LoadOptions.DEFAULT.on(device, dtype);
    try (io.d2g.models.ClipTextModel text = io.d2g.hub.DiffusersFolder.load(teacher.resolve("text_encoder"),
            io.d2g.models.ClipTextModel.FAMILY, opts);
        Tensor ids = io.d2g.hub.ClipTokenizer.load(teacher.resolve("tokenizer")).encodeBatch(texts);
        Tensor idsOn = ids.to(device);
        Tensor states = text.lastHiddenState(idsOn);
        Tensor host = states.to(Device.CPU)) {
      double recompute = Timing.median(Timing.sortedMillis(() -> text.lastHiddenState(idsOn).close(), 2, 5, device));
      double load = Timing.median(Timing.sortedMillis(() -> host.to(device).close(), 2, 5, device));
      long bytes = host.byteSize() / n;
      LOG.info("text states for {} prompts: recomputed {} ms, moved from host memory {} ms ({} bytes a pair)", n,
          String.format("%.2f", recompute), String.format("%.2f", load), bytes);
      return Map.of("batch", n, "recompute_ms", Provenance.round(recompute), "host_to_device_ms", Provenance.round(load),
          "stored_bytes_per_pair", bytes, "dtype", dtype.name());
    }
  }

  /** Removes the benchmark's own temporary folder (it made every file in it). */
  private static void deleteTree(Path dir) throws java.io.IOException {
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }

}
