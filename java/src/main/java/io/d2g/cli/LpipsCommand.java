package io.d2g.cli;

import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.hub.DiffusersFolder;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.LatentLpips;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code d2g lpips}: the latent perceptual distance of E-LatentLPIPS (see {@link LatentLpips}). */
@Command(name = "lpips", mixinStandardHelpOptions = true,
    description = {"LatentLPIPS, the perceptual distance on latents that Diffusion2GAN regresses with.",
        "./d2g lpips train (the example train-lpips) makes weights for an autoencoder's latent space; ./d2g lpips recon "
            + "(the example lpips-recon) runs the reconstruction experiment."},
    subcommands = {LpipsCommand.Distance.class})
final class LpipsCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing command: say what to do (distance; "
        + "./d2g lpips train makes weights for a latent space, ./d2g lpips recon runs its reconstruction experiment: the "
        + "examples train-lpips and lpips-recon)");
  }

  @Command(name = "distance", mixinStandardHelpOptions = true,
      description = {"The LatentLPIPS distance between two latents, or two pictures encoded by an autoencoder.",
          "A and B are .safetensors files holding one latent [C, H, W] or [1, C, H, W] (or the tensor --key names), "
              + "already scaled as the diffusion model sees them; or pictures of one size (PNG, JPEG, "
              + "WebP), encoded by --vae to the posterior's mean times the autoencoder's scaling factor."})
  static final class Distance implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "A", description = "The first latent (a .safetensors file) or picture.")
    Path a;

    @Parameters(index = "1", paramLabel = "B", description = "The second latent or picture.")
    Path b;

    @Option(names = "--model", defaultValue = "models/emoji-latent-lpips",
        description = "A LatentLPIPS folder (config.json + weights; scripts/convert_elatentlpips.py makes one from an "
            + "official checkpoint; default: ${DEFAULT-VALUE}, the project's, for the emoji teacher's latent space).")
    Path model;

    @Option(names = "--vae", defaultValue = "models/emoji-teacher/vae",
        description = "An autoencoder folder (diffusers AutoencoderKL) to encode pictures with (default: ${DEFAULT-VALUE}).")
    Path vae;

    @Option(names = "--key", description = "The tensor to read from each .safetensors file (default: its only one).")
    String key;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE}).")
    String device;

    @Override
    public Integer call() throws IOException {
      for (Path p : List.of(a, b))
        if (!Files.isRegularFile(p)) throw new CommandLine.ParameterException(spec.commandLine(), p + " is not a file");
      Device dev = Device.parse(device);
      var opts = DiffusersFolder.LoadOptions.DEFAULT.on(dev, DType.F32);
      try (LatentLpips lpips = DiffusersFolder.load(model, LatentLpips.FAMILY, opts); TensorScope s = new TensorScope()) {
        Tensor x0, x1;
        boolean latents = a.getFileName().toString().endsWith(".safetensors");
        if (latents != b.getFileName().toString().endsWith(".safetensors"))
          throw new CommandLine.ParameterException(spec.commandLine(), "A and B must both be latents (.safetensors) or both pictures");
        if (!latents && !Files.isDirectory(vae))
          throw new CommandLine.ParameterException(spec.commandLine(), "pictures need an autoencoder: --vae " + vae + " is not a folder");
        if (!latents) {
          try (AutoencoderKL ae = DiffusersFolder.load(vae, AutoencoderKL.FAMILY, opts)) {
            Tensor pixels = s.track(RgbaImage.toTensorOverWhite(List.of(picture(a), picture(b))));
            AutoencoderKL.Posterior post = ae.encode(s.track(pixels.to(dev)));
            s.track(post.logvar());
            Tensor z = s.track(s.track(post.mean()).mul(ae.scalingFactor()));
            x0 = s.track(z.narrow(0, 0, 1));
            x1 = s.track(z.narrow(0, 1, 1));
          }
        } else {
          x0 = s.track(latent(a, s));
          x1 = s.track(latent(b, s));
        }
        double d = s.track(lpips.distance(x0, x1)).item();
        spec.commandLine().getOut().printf("%.6f%n", d);
        spec.commandLine().getOut().flush();
      }
      return 0;
    }

    private RgbaImage picture(Path p) throws IOException {
      try {
        return ImageCodec.decode(Files.readAllBytes(p));
      } catch (RuntimeException e) {
        throw new CommandLine.ParameterException(spec.commandLine(), p + " is not a picture d2g can read: " + e.getMessage());
      }
    }

    private Tensor latent(Path p, TensorScope s) {
      try (SafetensorsFile f = Safetensors.open(p)) {
        Map<String, Tensor> all = f.tensors();
        all.values().forEach(s::track);
        Tensor t = key != null ? all.get(key) : all.size() == 1 ? all.values().iterator().next() : null;
        if (t == null)
          throw new CommandLine.ParameterException(spec.commandLine(), p + " holds " + all.keySet() + (key == null
              ? ": name one with --key" : ": no tensor '" + key + "'"));
        long[] sh = t.shape();
        if (sh.length == 3) return t.reshape(1, sh[0], sh[1], sh[2]);
        if (sh.length == 4 && sh[0] == 1) return t.reshape(sh);
        throw new CommandLine.ParameterException(spec.commandLine(), p + ": a latent is [C, H, W] or [1, C, H, W], not "
            + java.util.Arrays.toString(sh));
      }
    }
  }
}
