package io.d2g.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.D2g;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.cli.Commands;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.io.Outputs;
import io.d2g.pipelines.MultiStepTextToImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Is our pipeline folder truly diffusers' format? {@code scripts/gpu/diffusers_parity.py} loads the
 * folder with diffusers' own StableDiffusionPipeline and samples from initial latents it saves with its
 * results; this main runs our pipeline ({@link MultiStepTextToImage}, the folder's scheduler) on the same
 * latents, prompts, steps and guidance, f32 with TF32 off, and compares the final latents and the decoded
 * pictures: relative L2 error (‖ours − theirs‖ / ‖theirs‖) and the largest absolute difference. It passes
 * when the pictures agree within {@code --tolerance} (default 1e-3 relative) and exits 1 otherwise.
 *
 * <pre>
 * PYTHONPATH=diffusers/src python3 scripts/gpu/diffusers_parity.py runs/teacher/teacher /tmp/ref.safetensors
 * ./d2g example diffusers-parity --model runs/teacher/teacher --reference /tmp/ref.safetensors --out target/results
 * </pre>
 */
@Command(name = "diffusers-parity", mixinStandardHelpOptions = true,
    description = "Our pipeline against diffusers' on the same folder and initial latents (diffusers_parity.py's file).")
public final class DiffusersParity implements Callable<Integer> {
  @Option(names = "--model", required = true, description = "The pipeline: a diffusers Stable Diffusion folder.")
  Path model;

  @Option(names = "--reference", required = true, description = "diffusers_parity.py's safetensors file.")
  Path reference;

  @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda[:N] (default: ${DEFAULT-VALUE}).")
  String deviceName;

  @Option(names = "--tolerance", defaultValue = "1e-3", description = "Largest relative L2 error of the pictures (default: ${DEFAULT-VALUE}).")
  double tolerance;

  @Option(names = "--out", defaultValue = "target/results", description = "Folder for diffusers-parity.json (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--force", description = "Replace an older results file that does not name its producer.")
  boolean force;

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    Commands.main(new DiffusersParity(), args);
  }

  @Override
  public Integer call() throws Exception {
    if (!Files.isRegularFile(model.resolve("model_index.json")))
      throw new ParameterException(spec.commandLine(), "--model " + model + " is not a diffusers pipeline folder");
    if (!Files.isRegularFile(reference))
      throw new ParameterException(spec.commandLine(), "--reference " + reference + " is not a file");
    if (!(tolerance > 0)) throw new ParameterException(spec.commandLine(), "--tolerance must be positive");
    Device device = Device.parse(deviceName);
    D2g.setAllowTf32(false);
    Map<String, Object> json = new LinkedHashMap<>();
    boolean pass;
    try (SafetensorsFile ref = Safetensors.open(reference);
        MultiStepTextToImage pipe = MultiStepTextToImage.load(model, device, MultiStepTextToImage.Sampler.DDIM);
        TensorScope s = new TensorScope()) {
      Map<String, String> meta = ref.metadata();
      for (String key : List.of("prompts", "steps", "cfg"))
        if (!meta.containsKey(key)) throw new ParameterException(spec.commandLine(), reference + " has no '" + key + "' in its metadata");
      List<String> prompts = Arrays.asList(new ObjectMapper().readValue(meta.get("prompts"), String[].class));
      int steps = Integer.parseInt(meta.get("steps"));
      double cfg = Double.parseDouble(meta.get("cfg"));
      Tensor noise = s.track(s.track(ref.tensor("noise")).to(device));
      Tensor latents = s.track(pipe.denoise(prompts, noise, steps, cfg));
      Tensor images = s.track(pipe.decode(latents));
      Map<String, Object> lat = compare(s.track(latents.to(Device.CPU)), s.track(ref.tensor("latents")));
      Map<String, Object> img = compare(s.track(images.to(Device.CPU)), s.track(ref.tensor("images")));
      pass = (double) img.get("relative_l2") <= tolerance;
      json.putAll(Provenance.header());
      json.put("model", model.toAbsolutePath().normalize().toString());
      json.put("method", "diffusers' StableDiffusionPipeline.from_pretrained on the folder (scripts/gpu/diffusers_parity.py, "
          + "output_type latent, then its VAE's decode) against our MultiStepTextToImage on the same initial latents: "
          + prompts.size() + " prompts, " + steps + " steps of the folder's scheduler, guidance " + cfg + ", float32 with "
          + "TF32 off on both sides; relative_l2 = |ours - theirs| / |theirs| over the whole batch");
      json.put("reference", meta);
      json.put("latents", lat);
      json.put("images", img);
      json.put("tolerance", tolerance);
      json.put("pass", pass);
    }
    Path file = Outputs.writeResults(out.resolve("diffusers-parity.json"), "d2g DiffusersParity", force, json);
    System.out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(Map.of(
        "latents", json.get("latents"), "images", json.get("images"), "pass", pass)));
    System.out.println("wrote " + file);
    if (!pass) System.err.println("the pictures differ by more than " + tolerance + " relative: the folder is not read as diffusers reads it");
    return pass ? 0 : 1;
  }

  private static Map<String, Object> compare(Tensor ours, Tensor theirs) {
    if (!Arrays.equals(ours.shape(), theirs.shape()))
      throw new IllegalStateException("shapes differ: ours " + Arrays.toString(ours.shape()) + ", diffusers' "
          + Arrays.toString(theirs.shape()));
    float[] a = ours.toFloatArray(), b = theirs.toFloatArray();
    double diff = 0, norm = 0, max = 0;
    for (int i = 0; i < a.length; i++) {
      double d = a[i] - b[i];
      diff += d * d;
      norm += (double) b[i] * b[i];
      max = Math.max(max, Math.abs(d));
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("shape", ours.shape());
    m.put("relative_l2", Math.sqrt(diff / norm));
    m.put("max_abs", max);
    return m;
  }
}
