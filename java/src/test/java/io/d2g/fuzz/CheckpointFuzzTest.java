package io.d2g.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.d2g.D2gException;
import io.d2g.Tensor;
import io.d2g.train.Checkpoint;
import io.d2g.train.Checkpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A run folder's training checkpoints as a resumed run finds them, whatever they hold: any bytes as
 * the newest checkpoint, or one written by {@link Checkpoints#save} with fuzzed settings, section and
 * tensor names and values, then with one byte changed. Resuming either loads what was saved or fails
 * with a {@link D2gException} (a checkpoint error, or the run's other settings); never another
 * exception. Regression inputs: CheckpointFuzzTestInputs.
 */
class CheckpointFuzzTest {
  private static final Path DIR = FuzzDirs.create("d2g-fuzz-checkpoints");

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void resumeFromAnyCheckpoint(FuzzedDataProvider in) throws IOException {
    Path dir = DIR.resolve("run");
    Checkpoints checkpoints = new Checkpoints(dir, 2);
    String settings = "{\"lr\":1}";
    try {
      if (in.consumeBoolean()) {
        Files.createDirectories(dir);
        Files.write(checkpoints.file(in.consumeLong(0, 999)), in.consumeRemainingAsBytes());
      } else {
        settings = in.consumeString(64);
        String section = in.consumeString(8), name = in.consumeString(8);
        float[] values = new float[in.consumeInt(0, 8)];
        for (int i = 0; i < values.length; i++) values[i] = in.consumeFloat();
        int flip = in.consumeInt(-1, 4096);
        try (Tensor t = Tensor.of(values, values.length)) {
          Path file = checkpoints.save(in.consumeLong(0, 999), settings, Map.of(section, Map.of(name, t)));
          byte[] bytes = Files.readAllBytes(file);
          if (flip >= 0 && flip < bytes.length) {
            bytes[flip] ^= (byte) (1 + in.consumeInt(0, 254));
            Files.write(file, bytes);
          }
        } catch (D2gException expected) {
          // a name the writer refuses
        }
      }
      try {
        checkpoints.resume(settings, (Checkpoint c) -> c.sectionNames().forEach(s -> c.section(s).values().forEach(Tensor::shape)));
      } catch (D2gException expected) {
        // a clear error for a damaged checkpoint or other settings
      }
    } finally {
      FuzzDirs.empty(dir);
    }
  }
}
