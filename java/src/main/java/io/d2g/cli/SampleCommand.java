package io.d2g.cli;

import io.d2g.D2g;
import io.d2g.Device;
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.eval.SampleSet;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import io.d2g.io.Png;
import io.d2g.pairs.PromptTable;
import io.d2g.pipelines.MultiStepTextToImage;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code d2g sample}: multi-step text-to-image from a diffusers folder (see {@link MultiStepTextToImage}). */
@Command(name = "sample", mixinStandardHelpOptions = true,
    description = {"Generate images from prompts with a diffusers Stable Diffusion folder (the project's teacher or "
        + "SD1.5): multi-step sampling with classifier-free guidance.",
        "Writes a PNG grid (--out, the first 64 images, 8 to a row) and, with --sample-folder, a sample folder that "
            + "'d2g eval' and 'd2g tables' grade. --prompts FILE takes the prompts from a file instead: one per line, "
            + "or a sample folder's samples.jsonl (its prompts, and its seeds unless --seed is given), so a model is "
            + "graded on the same prompts and noise seeds as another folder."})
final class SampleCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(arity = "0..*", paramLabel = "PROMPT", description = "One image per prompt.")
  List<String> prompts = new ArrayList<>();

  @Option(names = "--prompts", paramLabel = "FILE",
      description = "Prompts from a file: one per line (blank lines and # comments skipped), or a samples.jsonl.")
  Path promptFile;

  @Option(names = "--batch", defaultValue = "256", description = "Images per sampler run (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--model", defaultValue = "models/emoji-teacher",
      description = "A diffusers pipeline folder (default: ${DEFAULT-VALUE}, the project's emoji teacher).")
  Path model;

  @Option(names = "--steps", defaultValue = "50", description = "Sampler steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--cfg", defaultValue = "5", description = "Classifier-free guidance scale; 1 turns it off (default: ${DEFAULT-VALUE}).")
  double cfg;

  @Option(names = "--seed", description = "Image i's noise is seeded with seed + i (default: 1, or a samples.jsonl's seeds).")
  Long seed;

  @Option(names = "--sampler", description = "ddim, euler, heun or dpm_solver (default: the folder's scheduler).")
  String sampler;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE}).")
  String device;

  @Option(names = "--out", defaultValue = "target/results/samples.png", description = "The PNG grid (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--sample-folder", description = "Also write the images as a sample folder.")
  Path sampleFolder;

  @Option(names = "--force", description = "Replace an older output of the same kind that d2g did not mark as its own.")
  boolean force;

  @Override
  public Integer call() throws IOException {
    if (steps < 1 || steps > 1000) throw new CommandLine.ParameterException(spec.commandLine(), "--steps must be 1 to 1000");
    if (!(cfg >= 0 && cfg <= 100)) throw new CommandLine.ParameterException(spec.commandLine(), "--cfg must be 0 to 100");
    if (batch < 1 || batch > 4096) throw new CommandLine.ParameterException(spec.commandLine(), "--batch must be 1 to 4096");
    List<String> all = new ArrayList<>(prompts);
    List<Long> seeds = new ArrayList<>();
    if (promptFile != null) readPrompts(promptFile, all, seeds);
    if (all.isEmpty()) throw new CommandLine.ParameterException(spec.commandLine(), "give prompts or --prompts FILE");
    if (seed != null || seeds.size() != all.size()) { // the file's seeds only when it gave one for every image
      seeds.clear();
      for (int i = 0; i < all.size(); i++) seeds.add((seed == null ? 1 : seed) + i);
    }
    MultiStepTextToImage.Sampler kind;
    try {
      kind = sampler == null ? null : MultiStepTextToImage.Sampler.parse(sampler);
    } catch (io.d2g.InvalidArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    try (MultiStepTextToImage pipe = MultiStepTextToImage.load(model, Device.parse(device), kind)) {
      BufferedImage[] images = new BufferedImage[all.size()];
      long t0 = System.nanoTime();
      for (int from = 0; from < all.size(); from += batch) {
        int to = Math.min(all.size(), from + batch);
        BufferedImage[] part = pipe.generate(all.subList(from, to), seeds.subList(from, to), steps, cfg);
        System.arraycopy(part, 0, images, from, part.length);
      }
      double seconds = (System.nanoTime() - t0) / 1e9 / images.length;
      int w = images[0].getWidth(), h = images[0].getHeight(), shown = Math.min(64, images.length);
      int cols = Math.min(8, shown), rows = (shown + cols - 1) / cols;
      BufferedImage grid = new BufferedImage(w * cols, h * rows, BufferedImage.TYPE_INT_RGB);
      for (int i = 0; i < shown; i++) grid.getGraphics().drawImage(images[i], (i % cols) * w, (i / cols) * h, null);
      Outputs.writeBytes(out, OutputKind.png("sample grid PNG"), force,
          Png.withText(ImageCodec.encodePng(RgbaImage.of(grid)), "Software", Png.SOFTWARE));
      spec.commandLine().getOut().printf("wrote %s (%d of %d images, %.4f s each)%n", out, shown, images.length, seconds);
      if (sampleFolder != null) {
        try (SampleSet.Writer wr = SampleSet.writer(sampleFolder, force).timedOn(D2g.describe(pipe.device()))) {
          for (int i = 0; i < images.length; i++) wr.add(RgbaImage.of(images[i]), all.get(i), seeds.get(i), seconds);
          spec.commandLine().getOut().println("wrote " + wr.commit());
        }
      }
    }
    return 0;
  }

  /** Prompts (and seeds, from a samples.jsonl) of {@code file}, appended to the lists (PromptTable's file format). */
  private void readPrompts(Path file, List<String> to, List<Long> seeds) {
    try {
      for (PromptTable.Line l : PromptTable.lines(file)) {
        to.add(l.prompt());
        if (l.seed() != null) seeds.add(l.seed());
      }
    } catch (io.d2g.InvalidArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--prompts: " + e.getMessage());
    }
  }
}
