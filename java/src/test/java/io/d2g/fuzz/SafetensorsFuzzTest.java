package io.d2g.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.d2g.D2gException;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.hub.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Safetensors files as anyone may hand them over: whatever the bytes, opening, listing and reading
 * them either works or fails with the reader's documented {@link D2gException} (a checkpoint error),
 * never another exception, a crash or a hang. Regression mode (every build) replays the inputs in
 * SafetensorsFuzzTestInputs; {@code JAZZER_FUZZ=1} fuzzes (see benchmarks/results/reliability.json).
 */
class SafetensorsFuzzTest {
  private static final Path DIR = FuzzDirs.create("d2g-fuzz-safetensors");

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void openListAndRead(byte[] data) throws IOException {
    Path file = DIR.resolve("input.safetensors");
    Files.write(file, data);
    try (SafetensorsFile f = Safetensors.open(file)) {
      f.metadata();
      for (TensorInfo info : f.infos().values()) {
        f.bytes(info.name());
        if (info.byteSize() <= 4096) f.tensor(info.name()).close();  // small ones through LibTorch too
      }
      f.verifyDigest();
    } catch (D2gException expected) {
      // a clear error for a bad file
    } finally {
      Files.deleteIfExists(file);
    }
  }
}
