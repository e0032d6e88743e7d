package io.d2g.examples;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.cli.Commands;
import io.d2g.hub.Safetensors;
import io.d2g.pipelines.MultiStepTextToImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The format check's comparison on the tiny pipeline folder of the fixtures: a reference file laid out
 * as diffusers_parity.py writes it passes when its pictures are the pipeline's, and fails (exit 1, the
 * figures still written) when they are off by more than the tolerance; a file without the script's
 * metadata is a usage error. (Diffusers itself is not here: its figures come from the GPU machine.)
 */
class DiffusersParityTest {
  static final List<String> PROMPTS = List.of("a red car, noto style", "a cat, twemoji style");

  private static Path fixture() {
    Path root = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(root.resolve("test/fixtures/sd-pipeline-tiny"))) root = root.getParent();
    return root.resolve("test/fixtures/sd-pipeline-tiny");
  }

  /** A reference file with the pipeline's own latents and pictures, the pictures plus {@code offset}. */
  private static void reference(Path folder, Path file, double offset, boolean withMetadata) {
    try (MultiStepTextToImage p = MultiStepTextToImage.load(folder, Device.CPU, MultiStepTextToImage.Sampler.DDIM);
        TensorScope s = new TensorScope();
        Generator g = Generator.create(Device.CPU, 5)) {
      Tensor noise = s.track(Tensor.randn(g, DType.F32, 2, 4, 16, 16));
      Tensor latents = s.track(p.denoise(PROMPTS, noise, 3, 4.0));
      Tensor images = s.track(s.track(p.decode(latents)).add(offset));
      Map<String, String> meta = withMetadata
          ? Map.of("prompts", "[\"a red car, noto style\", \"a cat, twemoji style\"]", "steps", "3", "cfg", "4.0")
          : Map.of();
      Safetensors.write(file, Map.of("noise", noise, "latents", latents, "images", images), meta);
    }
  }

  @Test
  void passesOnTheSamePicturesAndFailsOnOthers(@TempDir Path tmp) throws IOException {
    Path folder = fixture();
    reference(folder, tmp.resolve("same.safetensors"), 0, true);
    int code = Commands.execute(new DiffusersParity(), "--model", folder.toString(), "--reference",
        tmp.resolve("same.safetensors").toString(), "--out", tmp.resolve("a").toString());
    assertEquals(0, code);
    JsonNode a = new ObjectMapper().readTree(tmp.resolve("a/diffusers-parity.json").toFile());
    assertTrue(a.path("pass").asBoolean());
    assertTrue(a.path("images").path("relative_l2").asDouble() < 1e-6, a.toString());

    reference(folder, tmp.resolve("off.safetensors"), 0.05, true);
    code = Commands.execute(new DiffusersParity(), "--model", folder.toString(), "--reference",
        tmp.resolve("off.safetensors").toString(), "--out", tmp.resolve("b").toString());
    assertEquals(1, code);
    JsonNode b = new ObjectMapper().readTree(tmp.resolve("b/diffusers-parity.json").toFile());
    assertFalse(b.path("pass").asBoolean());
    assertEquals(0.05, b.path("images").path("max_abs").asDouble(), 1e-4);
    assertTrue(b.path("latents").path("relative_l2").asDouble() < 1e-6, "the latents still agree");

    reference(folder, tmp.resolve("bare.safetensors"), 0, false);
    assertEquals(2, Commands.execute(new DiffusersParity(), "--model", folder.toString(), "--reference",
        tmp.resolve("bare.safetensors").toString(), "--out", tmp.resolve("c").toString()));
    assertFalse(Files.exists(tmp.resolve("c/diffusers-parity.json")));
  }
}
