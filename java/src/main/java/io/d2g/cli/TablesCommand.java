package io.d2g.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.eval.Embeddings;
import io.d2g.eval.Evaluation;
import io.d2g.eval.FrechetDistance;
import io.d2g.eval.JudgeMetrics;
import io.d2g.eval.SampleSet;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import io.d2g.io.Png;
import io.d2g.models.ImageTextJudge;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code d2g tables}: the results tables, regenerated from saved sample folders — every row graded by
 * {@link Evaluation} with the same judge, real pictures and bootstrap, a picture grid per row (its
 * first samples: the same prompts and noise across models when they were made that way), written as
 * Markdown and as a results JSON.
 */
@Command(name = "tables", mixinStandardHelpOptions = true,
    description = {"Regenerate the results tables from sample folders: each --row NAME=FOLDER is graded with the judge "
        + "(see 'd2g eval') and gets a picture grid; writes Markdown (--out) and JSON (--json).",
        "Rows keep their order. --teacher names the row whose samples are the fidelity reference."})
final class TablesCommand implements Callable<Integer> {
  static final String MARK = "<!-- written by d2g tables: regenerate it, do not edit it -->";

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--row", required = true, description = "NAME=SAMPLE_FOLDER, once per row.")
  List<String> rows;

  @Option(names = "--teacher", description = "The row whose samples the others' fidelity is measured against.")
  String teacher;

  @Option(names = "--judge", defaultValue = "models/judge", description = "The judge (default: ${DEFAULT-VALUE}).")
  Path judge;

  @Option(names = "--real", description = "A sample folder of real pictures (e.g. from 'd2g data scenes'): the real side of FD.")
  Path real;

  @Option(names = "--judge-validation", description = "The judge's validation report (train-judge's), copied into --json.")
  Path judgeValidation;

  @Option(names = "--rounds", defaultValue = "1000", description = "Bootstrap rounds (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--seed", defaultValue = "0", description = "Seed of the bootstrap (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--grid", defaultValue = "16", description = "Pictures per row's grid (default: ${DEFAULT-VALUE}).")
  int grid;

  @Option(names = "--out", defaultValue = "docs/results.md", description = "The Markdown file (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--json", description = "Also write the figures to this results file.")
  Path json;

  @Option(names = "--notes", description = "A Markdown file of your reading of the figures (where they agree with "
      + "expectations and where not), placed under the table.")
  Path notes;

  private String notesText;

  @Option(names = "--force", description = "Replace a results file that does not name its producer.")
  boolean force;

  /** A Markdown file this command wrote (it starts with the mark). */
  static final OutputKind MARKDOWN = new OutputKind() {
    @Override
    public String description() {
      return "results tables written by d2g tables";
    }

    @Override
    public boolean recognises(Path existing) throws IOException {
      if (!Files.isRegularFile(existing, LinkOption.NOFOLLOW_LINKS)) return false;
      try (var r = Files.newBufferedReader(existing, StandardCharsets.UTF_8)) {
        return MARK.equals(r.readLine());
      }
    }
  };

  static final OutputKind GRID = OutputKind.png("results grid PNG");

  @Override
  public Integer call() throws IOException {
    Map<String, Path> folders = new LinkedHashMap<>();
    for (String r : rows) {
      int eq = r.indexOf('=');
      if (eq <= 0 || eq == r.length() - 1 || !r.substring(0, eq).matches("[A-Za-z0-9._-]+"))
        throw new CommandLine.ParameterException(spec.commandLine(), "--row must be NAME=FOLDER (NAME of letters, digits, "
            + "'.', '_', '-'), not '" + r + "'");
      if (folders.put(r.substring(0, eq), Path.of(r.substring(eq + 1))) != null)
        throw new CommandLine.ParameterException(spec.commandLine(), "two rows are named " + r.substring(0, eq));
    }
    if (teacher != null && !folders.containsKey(teacher))
      throw new CommandLine.ParameterException(spec.commandLine(), "--teacher " + teacher + " names no --row");
    if (grid < 1 || grid > 256) throw new CommandLine.ParameterException(spec.commandLine(), "--grid must be 1 to 256");
    if (!Files.isRegularFile(judge.resolve("config.json")))
      throw new CommandLine.ParameterException(spec.commandLine(), "--judge " + judge + " is not a model folder");
    if (notes != null && !Files.isRegularFile(notes))
      throw new CommandLine.ParameterException(spec.commandLine(), "--notes " + notes + " is not a file");
    notesText = notes == null ? null : Files.readString(notes, java.nio.charset.StandardCharsets.UTF_8);
    Map<String, SampleSet> sets = new LinkedHashMap<>();
    folders.forEach((name, dir) -> sets.put(name, SampleSet.open(dir))); // every folder checked before any work

    ObjectMapper om = new ObjectMapper();
    ObjectNode report = om.createObjectNode();
    report.put("machine", io.d2g.D2g.machine()).put("date", java.time.Instant.now().toString());
    if (judgeValidation != null) report.set("judge_validation", om.readTree(judgeValidation.toFile()));
    ObjectNode models = report.putObject("models");
    try (ImageTextJudge j = DiffusersFolder.load(judge, ImageTextJudge.FAMILY)) {
      j.eval();
      Embeddings realEmb = real == null ? null : Evaluation.embed(j, SampleSet.open(real));
      JudgeMetrics.Interval iv = new JudgeMetrics.Interval(rounds, seed);
      for (var e : sets.entrySet()) {
        SampleSet t = teacher == null || teacher.equals(e.getKey()) ? null : sets.get(teacher);
        // a row of other prompts (held-out ones) has no teacher samples to pair with: no fidelity
        boolean unpaired = t != null && Evaluation.teacherPairs(e.getValue(), t) < 2;
        if (unpaired) t = null;
        // a row too small for FD keeps its other figures (d2g eval refuses it instead)
        int min = FrechetDistance.minimumSamples(j.config().embedDim());
        boolean small = realEmb != null && e.getValue().size() < min;
        ObjectNode row = Evaluation.evaluate(j, e.getValue(), small ? null : realEmb, t, iv);
        if (small)
          row.withObject("skipped").put("fd", e.getValue().size() + " samples; FD needs at least " + min);
        if (unpaired)
          row.withObject("skipped").put("fidelity", "no two samples share a prompt and seed with row " + teacher);
        row.put("sample_folder", folders.get(e.getKey()).toString());
        models.set(e.getKey(), row);
        spec.commandLine().getOut().printf("%s: graded %d samples%n", e.getKey(), e.getValue().size());
      }
    }
    Path gridDir = out.toAbsolutePath().getParent().resolve(stem(out));
    Files.createDirectories(gridDir);
    for (var e : sets.entrySet())
      Outputs.writeBytes(gridDir.resolve(e.getKey() + ".png"), GRID, force,
          Png.withText(ImageCodec.encodePng(grid(e.getValue(), grid)), "Software", Png.SOFTWARE));
    String md = markdown(models, gridDir.getFileName().toString(), report.path("judge_validation"));
    Outputs.writeFile(out, MARKDOWN, force, o -> o.write(md.getBytes(StandardCharsets.UTF_8)));
    if (json != null) Outputs.writeResults(json, "d2g tables", force, report);
    spec.commandLine().getOut().println("wrote " + out + (json == null ? "" : " and " + json));
    return 0;
  }

  private String markdown(ObjectNode models, String gridFolder, JsonNode validation) {
    StringBuilder b = new StringBuilder(MARK).append("\n\n# Results\n\n");
    b.append("Every figure is graded by the project's judge (").append(judge).append(") with a 95% bootstrap interval of ")
        .append(rounds).append(" rounds (seed ").append(seed).append(").");
    if (real != null) b.append(" FD is against the real pictures of ").append(real).append('.');
    if (teacher != null) b.append(" Fidelity is 1 - cos to row `").append(teacher).append("` for the same prompt and seed.");
    b.append(" Relation, colour and style: how often the image prefers its prompt to the prompt with its first relation "
        + "(colour, style) swapped for each other one (chance 1/4, 1/11 and 1/7); – where no prompt of the row names one."
        + " s / image: the wall time per image where the samples were made, on the device named after it.");
    b.append("\n\n| model | samples | FD ↓ | text–image score ↑ | prompt top-1 ↑ | relation ↑ | colour ↑ | style ↑ "
        + "| fidelity ↓ | diversity | s / image | timed on |\n");
    b.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (var it = models.fields(); it.hasNext(); ) {
      var e = it.next();
      JsonNode r = e.getValue();
      b.append("| ").append(e.getKey()).append(" | ").append(r.path("samples").asInt()).append(" | ")
          .append(cell(r, "fd")).append(" | ").append(cell(r, "text_image_score")).append(" | ")
          .append(cell(r, "prompt_retrieval_top1")).append(" | ").append(cell(r, "relation_accuracy")).append(" | ")
          .append(cell(r, "colour_accuracy")).append(" | ").append(cell(r, "style_accuracy")).append(" | ")
          .append(cell(r, "fidelity")).append(" | ").append(cell(r, "diversity")).append(" | ")
          .append(r.has("seconds_per_image") ? String.format(Locale.ROOT, "%.4g", r.path("seconds_per_image").asDouble()) : "–")
          .append(" | ").append(r.path("timed_on").asText("–")).append(" |\n");
    }
    if (notesText != null) b.append('\n').append(notesText.strip()).append('\n');
    if (validation.isObject()) b.append(judgeSection(validation));
    b.append("\nThe first ").append(grid).append(" samples of each row:\n\n");
    for (var it = models.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      b.append("**").append(name).append("**\n\n![").append(name).append("](").append(gridFolder).append('/').append(name)
          .append(".png)\n\n");
    }
    b.append("Made by:\n\n```\n./d2g tables");
    for (String r : rows) b.append(" --row ").append(r);
    if (teacher != null) b.append(" --teacher ").append(teacher);
    b.append(" --judge ").append(judge);
    if (real != null) b.append(" --real ").append(real);
    if (judgeValidation != null) b.append(" --judge-validation ").append(judgeValidation);
    b.append(" --rounds ").append(rounds).append(" --seed ").append(seed).append(" --out ").append(out);
    if (json != null) b.append(" --json ").append(json);
    if (notes != null) b.append(" --notes ").append(notes);
    return b.append("\n```\n").toString();
  }

  /** The judge's validation (train-judge's report) as a few lines: chance beside every accuracy. */
  private static String judgeSection(JsonNode v) {
    StringBuilder b = new StringBuilder("\n## The judge\n\n| check | set | top-1 | top-5 | chance |\n|---|---|---|---|---|\n");
    for (var it = v.path("retrieval").fields(); it.hasNext(); ) {
      var e = it.next();
      JsonNode r = e.getValue();
      b.append(String.format(Locale.ROOT, "| image → caption among the set's %d captions | %s | %.3f | %.3f | %.4f |%n",
          r.path("captions").asInt(), e.getKey(), r.path("image_to_caption_top1").asDouble(),
          r.path("image_to_caption_top5").asDouble(), 1.0 / Math.max(1, r.path("captions").asInt())));
    }
    for (var it = v.path("style_retrieval").fields(); it.hasNext(); ) {
      var e = it.next();
      b.append(String.format(Locale.ROOT, "| style, concept fixed | %s | %.3f | – | %.3f |%n", e.getKey(),
          e.getValue().path("top1").asDouble(), e.getValue().path("chance").asDouble()));
    }
    for (var it = v.path("composition").fields(); it.hasNext(); ) {
      var e = it.next();
      b.append(String.format(Locale.ROOT, "| %s | %d scenes | %.3f | – | %.3f |%n", e.getKey().replace('_', ' '),
          e.getValue().path("scenes").asInt(), e.getValue().path("top1").asDouble(), e.getValue().path("chance").asDouble()));
    }
    JsonNode fd = v.path("fd_sanity");
    if (fd.isObject()) {
      b.append(String.format(Locale.ROOT, "%nFD between two halves of the real pictures (%d each): %.4g; with one half "
          + "distorted more and more:%n%n", fd.path("pictures_per_half").asInt(), fd.path("halves").asDouble()));
      for (String series : List.of("gaussian_noise_sigma", "box_blur_radius", "colour_shift")) {
        JsonNode s = fd.path(series);
        if (!s.isObject()) continue;
        b.append("- ").append(series.replace('_', ' ')).append(' ');
        for (int i = 0; i < s.path("levels").size(); i++)
          b.append(String.format(Locale.ROOT, "%s%.3g → %.4g", i == 0 ? "" : ", ", s.path("levels").get(i).asDouble(),
              s.path("fd").get(i).asDouble()));
        b.append(s.path("monotonic").asBoolean() ? " (grows monotonically)" : " (NOT monotonic)").append('\n');
      }
    }
    return b.toString();
  }

  private static String cell(JsonNode row, String metric) {
    JsonNode m = row.path(metric);
    if (m.isMissingNode()) return "–";
    return String.format(Locale.ROOT, "%.4g [%.4g, %.4g]", m.path("value").asDouble(), m.path("low").asDouble(),
        m.path("high").asDouble());
  }

  /** The first n samples side by side, 8 to a line. */
  private static RgbaImage grid(SampleSet set, int n) {
    n = Math.min(n, set.size());
    int w = set.width(), h = set.height(), cols = Math.min(8, n), lines = (n + cols - 1) / cols;
    byte[] out = new byte[cols * w * lines * h * 4];
    for (int i = 0; i < n; i++) {
      RgbaImage img;
      try {
        img = ImageCodec.decode(Files.readAllBytes(set.samples().get(i).image()));
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
      int x0 = (i % cols) * w, y0 = (i / cols) * h;
      for (int y = 0; y < h; y++)
        System.arraycopy(img.rgba(), y * w * 4, out, ((y0 + y) * cols * w + x0) * 4, w * 4);
    }
    return new RgbaImage(cols * w, lines * h, out);
  }

  private static String stem(Path p) {
    String n = p.getFileName().toString();
    int dot = n.lastIndexOf('.');
    return dot > 0 ? n.substring(0, dot) : n;
  }
}
