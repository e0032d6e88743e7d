package io.d2g.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.cli.Commands;
import io.d2g.io.Outputs;
import io.d2g.pipelines.MultiStepTextToImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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
 * Recording pairs at Stable Diffusion 1.5 scale: a full-size SD1.5 pipeline folder (random weights, made
 * by scripts/gpu/sd15_pairs_reference.py, which also times diffusers on it) sampled as {@code d2g pairs}
 * does — the prompts encoded, {@code --steps} DDIM steps with guidance, the final latents — at each batch
 * of {@code --batches}: pairs per second, one run untimed then the median of {@code --runs}, against
 * diffusers' StableDiffusionPipeline at the same batch, sampler, steps, guidance and precision. Also the
 * choice between stored and recomputed text states at this scale, and GPU-hours per million pairs.
 * Writes sd15-pairs.json.
 *
 * <pre>
 * ./d2g example sd15-pairs-bench --teacher OUT/sd15 --reference OUT/sd15-pairs-reference.json --device cuda --out OUT
 * </pre>
 */
@Command(name = "sd15-pairs-bench", mixinStandardHelpOptions = true,
    description = "SD1.5-scale pair recording (50-step DDIM + guidance) against diffusers (sd15-pairs.json).")
public final class Sd15PairsBench implements Callable<Integer> {
  private static final Logger LOG = LoggerFactory.getLogger(Sd15PairsBench.class);
  private static final List<String> WORDS = List.of("cat face", "a red car", "a dog left of a tree", "hot springs",
      "grinning face", "top hat", "a blue heart", "a green apple");

  @Option(names = "--teacher", required = true, description = "A diffusers Stable Diffusion folder (DDIM scheduler).")
  Path teacher;

  @Option(names = "--reference", description = "diffusers' figures (sd15_pairs_reference.py's JSON), for the ratios.")
  Path reference;

  @Option(names = "--batches", split = ",", defaultValue = "8,32,64", description = "Batches (default: ${DEFAULT-VALUE}).")
  List<Integer> batches;

  @Option(names = "--steps", defaultValue = "50", description = "DDIM steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--cfg", defaultValue = "7.5", description = "Guidance (default: ${DEFAULT-VALUE}).")
  double cfg;

  @Option(names = "--runs", defaultValue = "2", description = "Timed runs per batch after one untimed (default: ${DEFAULT-VALUE}).")
  int runs;

  @Option(names = "--precision", defaultValue = "f16", description = "f32, f16 or bf16 (default: ${DEFAULT-VALUE}).")
  String precision;

  @Option(names = "--out", defaultValue = "target/results", description = "Folder for sd15-pairs.json (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--force", description = "Replace an older results file that does not name its producer.")
  boolean force;

  @Mixin ComputeOptions compute;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new Sd15PairsBench(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (steps < 1 || runs < 1 || batches.stream().anyMatch(b -> b < 1)) throw new ParameterException(spec.commandLine(), "counts must be positive");
    DType dtype = Commands.precision(precision, spec);
    JsonNode ref = reference != null && Files.isRegularFile(reference) ? new ObjectMapper().readTree(reference.toFile()) : null;
    Device device = compute.apply();
    Map<String, Object> figures = new LinkedHashMap<>(), detail = new LinkedHashMap<>();
    double lastOurs = 0, lastRef = 0;
    try (MultiStepTextToImage pipe = MultiStepTextToImage.load(teacher, device, MultiStepTextToImage.Sampler.DDIM, dtype);
        Generator g = Generator.create(Device.CPU, 1)) {
      long[] chw = pipe.latentShape();
      for (int b : batches) {
        List<String> prompts = new ArrayList<>(b);
        for (int i = 0; i < b; i++) prompts.add(WORDS.get(i % WORDS.size()) + ", noto style");
        try (Tensor host = Tensor.randn(g, DType.F32, b, chw[0], chw[1], chw[2]); Tensor z = host.to(device)) {
          double[] ms = Timing.sortedMillis(() -> pipe.denoise(prompts, z, steps, cfg).close(), 1, runs, device);
          double sec = Timing.median(ms) / 1000, ours = b / sec;
          Map<String, Object> f = new LinkedHashMap<>();
          f.put("ours", Provenance.round(ours));
          JsonNode r = ref == null ? null : ref.path("batches").path(Integer.toString(b));
          if (r != null && r.has("pairs_per_s")) {
            double theirs = r.path("pairs_per_s").asDouble();
            f.put("diffusers", theirs);
            f.put("ratio", Provenance.round(ours / theirs));
            lastRef = theirs;
          }
          lastOurs = ours;
          figures.put("sd15_pairs_per_s_b" + b, f);
          detail.put("ours_b" + b, Map.of("seconds", Provenance.round(sec), "runs_ms", ms));
          LOG.info("batch {}: {} s a run, {} pairs/s{}", b, String.format("%.3f", sec), String.format("%.2f", ours),
              f.containsKey("ratio") ? ", " + f.get("ratio") + "x diffusers" : "");
        }
      }
      Map<String, Object> hours = new LinkedHashMap<>();
      hours.put("ours", Provenance.round(1e6 / lastOurs / 3600));
      if (lastRef > 0) hours.put("diffusers", Provenance.round(1e6 / lastRef / 3600));
      hours.put("batch", batches.get(batches.size() - 1));
      // ../shared/paper/spec.md's rough estimate: 12M triples × 50 steps × 2 = 1.2e9 UNet evaluations at
      // ~100 evaluations/s on an A100 ≈ 3.3k A100-hours, so about 278 for a million pairs.
      hours.put("paper_estimate_a100", 278);
      figures.put("sd15_gpu_hours_per_million_pairs", hours);
      List<String> texts = new ArrayList<>();
      for (int i = 0; i < batches.get(batches.size() - 1); i++) texts.add(WORDS.get(i % WORDS.size()) + ", noto style");
      detail.put("text_states", PairsBench.textStates(teacher, texts, dtype, device));
    }
    Map<String, Object> json = Provenance.header();
    json.put("teacher", teacher.toAbsolutePath().normalize().toString());
    json.put("method", "ours: MultiStepTextToImage.denoise (prompts encoded, " + steps + " DDIM steps with guidance " + cfg
        + " in one native call with a CUDA graph per step, UNet channels-last in " + dtype + "), host clock until the latents "
        + "are done, one run untimed then the median of " + runs + "; ratio = our pairs/s / diffusers' (" + (ref == null
            ? "no reference given" : ref.path("method").asText()) + ")");
    if (ref != null) json.put("reference", ref);
    json.put("figures", figures);
    json.put("detail", detail);
    Path file = Outputs.writeResults(out.resolve("sd15-pairs.json"), "d2g Sd15PairsBench", force, json);
    System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(figures));
    System.out.println("wrote " + file);
    return 0;
  }
}
