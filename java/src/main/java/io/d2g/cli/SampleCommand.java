package io.d2g.cli;

import io.d2g.Device;
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.eval.SampleSet;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import io.d2g.io.Png;
import io.d2g.pipelines.MultiStepTextToImage;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
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
        "Writes a PNG grid (--out, one image per prompt in a row) and, with --sample-folder, a sample folder that "
            + "'d2g eval' and 'd2g tables' grade."})
final class SampleCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "PROMPT", description = "One image per prompt.")
  List<String> prompts;

  @Option(names = "--model", required = true, description = "A diffusers pipeline folder.")
  Path model;

  @Option(names = "--steps", defaultValue = "50", description = "Sampler steps (default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--cfg", defaultValue = "5", description = "Classifier-free guidance scale; 1 turns it off (default: ${DEFAULT-VALUE}).")
  double cfg;

  @Option(names = "--seed", defaultValue = "1", description = "Image i's noise is seeded with seed + i (default: ${DEFAULT-VALUE}).")
  long seed;

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
  public Integer call() {
    if (steps < 1 || steps > 1000) throw new CommandLine.ParameterException(spec.commandLine(), "--steps must be 1 to 1000");
    if (!(cfg >= 0 && cfg <= 100)) throw new CommandLine.ParameterException(spec.commandLine(), "--cfg must be 0 to 100");
    MultiStepTextToImage.Sampler kind;
    try {
      kind = sampler == null ? null : MultiStepTextToImage.Sampler.parse(sampler);
    } catch (io.d2g.InvalidArgumentException e) {
      throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
    }
    try (MultiStepTextToImage pipe = MultiStepTextToImage.load(model, Device.parse(device), kind)) {
      long t0 = System.nanoTime();
      BufferedImage[] images = pipe.generate(prompts, steps, cfg, seed);
      double seconds = (System.nanoTime() - t0) / 1e9 / images.length;
      int w = images[0].getWidth(), h = images[0].getHeight();
      BufferedImage grid = new BufferedImage(w * images.length, h, BufferedImage.TYPE_INT_RGB);
      for (int i = 0; i < images.length; i++) grid.getGraphics().drawImage(images[i], i * w, 0, null);
      Outputs.writeBytes(out, OutputKind.png("sample grid PNG"), force,
          Png.withText(ImageCodec.encodePng(RgbaImage.of(grid)), "Software", Png.SOFTWARE));
      spec.commandLine().getOut().printf("wrote %s (%d images, %.3f s each)%n", out, images.length, seconds);
      if (sampleFolder != null) {
        try (SampleSet.Writer wr = SampleSet.writer(sampleFolder, force)) {
          for (int i = 0; i < images.length; i++) wr.add(RgbaImage.of(images[i]), prompts.get(i), seed + i, seconds);
          spec.commandLine().getOut().println("wrote " + wr.commit());
        }
      }
    }
    return 0;
  }
}
