package io.d2g.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.Autograd;
import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.ThreadScope;
import io.d2g.cli.Commands;
import io.d2g.data.ImageCodec;
import io.d2g.data.emoji.EmojiDataset;
import io.d2g.data.emoji.SceneComposer;
import io.d2g.data.emoji.SpriteAtlas;
import io.d2g.eval.JudgeValidation;
import io.d2g.hub.DiffusersFolder;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import io.d2g.models.AutoencoderKL;
import io.d2g.models.LatentAugment;
import io.d2g.models.LatentLpips;
import io.d2g.train.Optimizer;
import io.d2g.train.OptimizerConfig;
import io.d2g.train.TrainingLog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The reconstruction experiment of E-LatentLPIPS (the paper's appendix B; the official {@code
 * overfitting_exp.py} adapted to our autoencoder): a latent, started from noise, is optimised with Adam to
 * match the latents of a few target pictures under plain LatentLPIPS, and under E-LatentLPIPS with each
 * augmentation preset. Every {@code --every} steps it records plain LatentLPIPS to the targets and the
 * PSNR of the decoded latent against the target pictures. The paper's finding, to be checked here: plain
 * LatentLPIPS stalls (its blind spots let the latent drift where the distance no longer sees it), the
 * ensemble reaches the targets.
 *
 * <p>Writes {@code recon.json} (the curves and final figures per preset), {@code recon.jsonl}, the curves
 * {@code recon-lpips.png} and {@code recon-psnr.png} (where the machine can draw text) and {@code
 * reconstructions.png} (first row the targets, then one row per preset).
 *
 * <pre>
 * ./d2g lpips recon --model runs/lpips/lpips --vae runs/vae/vae --out runs/recon      (--help lists the options)
 * </pre>
 */
@Command(name = "lpips-recon", mixinStandardHelpOptions = true,
    description = "E-LatentLPIPS's reconstruction experiment: optimise a latent to match target pictures under "
        + "LatentLPIPS and under E-LatentLPIPS presets; PSNR of the decoded latent over the steps.")
public final class LpipsRecon implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "The LatentLPIPS folder (./d2g lpips train writes one).")
  Path model;

  @Option(names = "--vae", required = true, description = "The autoencoder folder of that latent space.")
  Path vae;

  @Option(names = "--data", defaultValue = "data/emoji-64", description = "The emoji dataset (default: ${DEFAULT-VALUE}).")
  Path data;

  @Option(names = "--out", required = true, description = "Folder for recon.json, the curves and the reconstructions.")
  Path out;

  @Option(names = "--images", defaultValue = "4", description = "Target pictures: scenes of held-out concepts (default: ${DEFAULT-VALUE}).")
  int images;

  @Option(names = "--steps", defaultValue = "3000", description = "Adam steps per run (the official code: 15000; default: ${DEFAULT-VALUE}).")
  int steps;

  @Option(names = "--lr", defaultValue = "1e-2", description = "Adam learning rate (the official code's; default: ${DEFAULT-VALUE}).")
  double lr;

  @Option(names = "--every", defaultValue = "100", description = "Steps between measurements (default: ${DEFAULT-VALUE}).")
  int every;

  @Option(names = "--presets", split = ",", defaultValue = "none,b,bg,bgc,bgco",
      description = "Runs: none (plain LatentLPIPS) and augmentation presets (default: ${DEFAULT-VALUE}).")
  List<String> presets;

  @Option(names = "--seed", defaultValue = "5", description = "Seed of the targets, the start and the draws (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--heads", defaultValue = "shipped",
      description = "The lin heads: shipped (the folder's, calibrated by train-lpips) or uniform (every channel 1 / width, "
          + "LPIPS's uncalibrated baseline) (default: ${DEFAULT-VALUE}).")
  String heads;

  @Mixin ComputeOptions compute;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new LpipsRecon(), args);
  }

  /** One run's curve: steps, plain LatentLPIPS to the targets, decoded PSNR (dB). */
  record Curve(List<Integer> steps, List<Double> lpips, List<Double> psnr) {}

  @Override
  public Integer call() throws Exception {
    require(images >= 1 && images <= 64, "--images must be 1 to 64");
    require(steps >= 1 && every >= 1 && every <= steps, "--steps must be at least 1 and --every 1 to --steps");
    require(lr > 0 && lr < 10, "--lr must be in (0, 10)");
    for (String p : presets)
      require(p.equals("none") || LatentAugment.PRESETS.contains(p), "--presets: none or one of " + LatentAugment.PRESETS
          + ", not " + p);
    require(Files.isDirectory(model) && Files.isDirectory(vae), "--model and --vae must be folders");
    require(heads.equals("shipped") || heads.equals("uniform"), "--heads must be shipped or uniform, not " + heads);
    Device device = compute.apply();
    var on = DiffusersFolder.LoadOptions.DEFAULT.on(device, DType.F32);
    Map<String, Curve> curves = new java.util.LinkedHashMap<>();
    List<float[]> rows = new ArrayList<>();
    int size;
    try (EmojiDataset ds = EmojiDataset.open(data); LatentLpips lpips = DiffusersFolder.load(model, LatentLpips.FAMILY, on);
        AutoencoderKL ae = DiffusersFolder.load(vae, AutoencoderKL.FAMILY, on); TensorScope s = new TensorScope()) {
      if (heads.equals("uniform")) TrainLpips.uniformLins(lpips);
      size = ds.manifest().path("size").asInt(64);
      SceneComposer heldOut = new SceneComposer(SpriteAtlas.of(ds, r -> !r.isTrain()), SceneComposer.Options.defaults(size));
      Tensor pictures = s.track(s.track(JudgeValidation.scenes(heldOut, seed, 0, images, new String[images])).to(device));
      Tensor target = s.track(TrainLpips.encode(ae, pictures, device));
      rows.add(s.track(pictures.to(Device.CPU)).toFloatArray());
      long[] shape = target.shape();
      for (String preset : presets) {
        Curve c = new Curve(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        try (Generator start = Generator.create(device, seed); Generator draws = Generator.create(device, seed ^ 0xd7a3L);
            Tensor z = Tensor.randn(start, DType.F32, shape).requiresGrad(true);
            Optimizer adam = Optimizer.create(OptimizerConfig.AdamW.lr(lr).withWeightDecay(0), Map.of("latent", z))) {
          for (int step = 1; step <= steps; step++) {
            adam.zeroGrad();
            try (TensorScope t = new TensorScope()) {
              Tensor loss;
              try (ThreadScope g = Autograd.record()) {
                Tensor d = t.track(preset.equals("none") ? lpips.distance(target, z) : lpips.distance(target, z, preset, draws));
                loss = t.track(d.mean());
              }
              loss.backward();
            }
            adam.step();
            if (step % every == 0 || step == steps) {
              try (TensorScope t = new TensorScope()) {
                double plain = t.track(t.track(lpips.distance(target, z)).mean()).item();
                Tensor decoded = t.track(ae.decode(t.track(z.div(ae.scalingFactor()))));
                double psnr = psnr(t.track(decoded.to(Device.CPU)).toFloatArray(), rows.get(0));
                c.steps().add(step);
                c.lpips().add(plain);
                c.psnr().add(psnr);
                if (step == steps) rows.add(t.track(decoded.to(Device.CPU)).toFloatArray());
              }
            }
          }
        }
        System.out.printf("%-6s LatentLPIPS %.4f -> %.4f, decoded PSNR %.2f -> %.2f dB%n", preset, c.lpips().get(0),
            c.lpips().getLast(), c.psnr().get(0), c.psnr().getLast());
        curves.put(preset, c);
      }
    }

    // The curves, one JSON line per measurement step with a column per run, and the figures.
    Files.createDirectories(out);
    StringBuilder jsonl = new StringBuilder();
    ObjectMapper json = new ObjectMapper();
    Curve first = curves.values().iterator().next();
    for (int k = 0; k < first.steps().size(); k++) {
      ObjectNode line = json.createObjectNode().put("step", first.steps().get(k));
      for (var e : curves.entrySet()) {
        line.put("latent_lpips_" + e.getKey(), e.getValue().lpips().get(k));
        line.put("psnr_" + e.getKey(), e.getValue().psnr().get(k));
      }
      jsonl.append(line).append('\n');
    }
    Outputs.writeBytes(out.resolve("recon.jsonl"), OutputKind.textFile("reconstruction curves (JSON lines)"), false,
        jsonl.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    ObjectNode report = json.createObjectNode();
    ObjectNode runs = report.putObject("runs");
    for (var e : curves.entrySet()) {
      ObjectNode r = runs.putObject(e.getKey());
      r.put("final_latent_lpips", e.getValue().lpips().getLast()).put("final_psnr_db", e.getValue().psnr().getLast())
          .put("best_psnr_db", e.getValue().psnr().stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN));
      ArrayNode st = r.putArray("steps"), lp = r.putArray("latent_lpips"), ps = r.putArray("psnr_db");
      e.getValue().steps().forEach(st::add);
      e.getValue().lpips().forEach(lp::add);
      e.getValue().psnr().forEach(ps::add);
    }
    report.putObject("settings").put("model", model.toAbsolutePath().normalize().toString()).put("heads", heads)
        .put("vae", vae.toAbsolutePath().normalize().toString()).put("images", images).put("steps", steps).put("lr", lr)
        .put("seed", seed).put("targets", "scenes of held-out concepts; latents = posterior mean x scaling factor")
        .put("start", "standard normal").put("optimizer", "Adam (AdamW, weight decay 0)");
    report.put("machine", D2g.machine()).put("date", java.time.Instant.now().toString());
    Outputs.writeResults(out.resolve("recon.json"), "lpips-recon", false, report);
    List<String> lpipsKeys = new ArrayList<>(), psnrKeys = new ArrayList<>();
    for (String p : curves.keySet()) {
      lpipsKeys.add("latent_lpips_" + p);
      psnrKeys.add("psnr_" + p);
    }
    boolean drawn = TrainingLog.plotIfPossible(out.resolve("recon.jsonl"), lpipsKeys,
        "LatentLPIPS to the targets while optimising under each loss", out.resolve("recon-lpips.png"))
        & TrainingLog.plotIfPossible(out.resolve("recon.jsonl"), psnrKeys, "decoded PSNR (dB)", out.resolve("recon-psnr.png"));
    Outputs.writeBytes(out.resolve("reconstructions.png"), OutputKind.png("reconstructions PNG"), false,
        ImageCodec.encodePng(TrainAutoencoder.rows(rows, images, size)));
    System.out.println("wrote " + out.resolve("recon.json") + ", reconstructions.png" + (drawn ? " and the curves" : ""));
    return 0;
  }

  private static double psnr(float[] decoded, float[] target) {
    double se = 0;
    for (int i = 0; i < target.length; i++) {
      double d = (Math.max(-1, Math.min(1, decoded[i])) - target[i]) / 2;
      se += d * d;
    }
    return 10 * Math.log10(target.length / se);
  }

  private void require(boolean ok, String message) {
    if (!ok) throw new ParameterException(spec.commandLine(), message);
  }
}
