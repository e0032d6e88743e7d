package io.d2g.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.Tensor;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.nn.NativeModule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** The reference fixtures under test/fixtures/sd/ (made by scripts/fixtures/make_unet_vae_fixtures.py). */
final class SdFixture {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SdFixture.class);

  private SdFixture() {}

  /** test/fixtures/sd/<name>, found from the working directory upwards. */
  static Path dir(String name) {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      Path d = p.resolve("test/fixtures/sd").resolve(name);
      if (Files.isDirectory(d)) return d;
    }
    throw new IllegalStateException("fixture test/fixtures/sd/" + name + " not found above " + Path.of("").toAbsolutePath());
  }

  /** The model's weights, loaded strictly into {@code module}, which is then put in evaluation mode. */
  static void loadWeights(NativeModule module, Path dir) {
    try (SafetensorsFile f = Safetensors.open(dir.resolve("diffusion_pytorch_model.safetensors"))) {
      Map<String, Tensor> state = f.tensors();
      try {
        module.loadState(state, true);
      } finally {
        state.values().forEach(Tensor::close);
      }
    }
    module.eval();
  }

  /** The fixture's inputs and reference outputs. The caller closes them. */
  static Map<String, Tensor> io(Path dir) {
    try (SafetensorsFile f = Safetensors.open(dir.resolve("io.safetensors"))) {
      return f.tensors();
    }
  }

  /** ‖actual − expected‖ / ‖expected‖ over all elements, after checking the shapes agree. */
  static double relativeError(Tensor actual, Tensor expected) {
    assertArrayEquals(expected.shape(), actual.shape(), "shape of " + actual + " vs reference " + expected);
    float[] a = actual.toFloatArray();
    float[] e = expected.toFloatArray();
    double diff = 0, norm = 0;
    for (int i = 0; i < a.length; i++) {
      double d = (double) a[i] - e[i];
      diff += d * d;
      norm += (double) e[i] * e[i];
    }
    assertTrue(norm > 0, "reference is all zeros");
    return Math.sqrt(diff / norm);
  }

  static void assertClose(Tensor actual, Tensor expected, double tolerance, String what) {
    double err = relativeError(actual, expected);
    LOG.info("{}: relative error {}", what, String.format("%.3g", err));
    assertTrue(err <= tolerance, what + ": relative error " + err + " > " + tolerance);
  }
}
