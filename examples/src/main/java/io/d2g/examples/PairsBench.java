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
    if (pairs < 1 || steps < 1 || batch < 1 || readBatch < 1) throw new ParameterException(spec.commandLine(), "counts must be positive");
    Device device = compute.apply();
    boolean temporary = work == null;
    Path dir = temporary ? Files.createTempDirectory("d2g-pairs-bench") : work;
    Map<String, Object> figures = new LinkedHashMap<>(), detail = new LinkedHashMap<>();
    try {
      PromptTable prompts = PromptTable.emoji(data, 20000, 0);
      Path folder = dir.resolve("pairs");
      var o = new PairGenerator.Options(pairs, 0, steps, cfg, null, batch, 8192, DType.F16);
      long start = System.nanoTime();
      long[] lastLog = {start}, done = {0};
      LOG.info("making {} pairs on {} ({} steps, guidance {}, batch {})", pairs, device, steps, cfg, batch);
      PairGenerator.Summary s = PairGenerator.run(teacher, prompts, o, folder, device, 0, 1, more -> {
        done[0] += more;
        long now = System.nanoTime();
        if (now - lastLog[0] < 10_000_000_000L && done[0] < pairs) return; // a line every 10 s, and the last
        lastLog[0] = now;
        LOG.info("{} of {} pairs, {} pairs/s", done[0], pairs, String.format("%.1f", done[0] / ((now - start) / 1e9)));
      });
      figures.put("emoji_" + pairs + "_pairs_s", Map.of("ours", Provenance.round(s.seconds())));
      detail.put("generation", Map.of("pairs", pairs, "pairs_per_s", Provenance.round(s.pairsPerSecond()), "steps", steps, "cfg", cfg,
          "batch", batch, "prompts", prompts.size(), "seconds_include", "teacher load, folder hash, sampling, shard writing"));
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

  /** Removes the benchmark's own temporary folder (it made every file in it). */
  private static void deleteTree(Path dir) throws java.io.IOException {
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }

}
