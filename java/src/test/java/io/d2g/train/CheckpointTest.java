package io.d2g.train;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.CheckpointException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.hub.Safetensors;
import io.d2g.io.OutputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint files: round trip, refusals of other and damaged files, and a folder that keeps its newest. */
class CheckpointTest {
  @TempDir Path dir;

  private static Map<String, Map<String, Tensor>> sections(TensorScope s, float v) {
    return Map.of("model", Map.of("w", s.track(Tensor.of(new float[] {v, 2 * v}, 2))),
        "rng", Map.of("cpu", s.track(Tensor.of(new byte[] {1, 2, 3}, 3))));
  }

  @Test
  void roundTrip() {
    try (TensorScope s = new TensorScope()) {
      Path f = dir.resolve("c.safetensors");
      Checkpoint.save(f, 42, "{\"lr\":0.1}", sections(s, 3), false);
      try (Checkpoint c = Checkpoint.load(f)) {
        assertEquals(42, c.step());
        assertEquals("{\"lr\":0.1}", c.config());
        assertEquals(Set.of("model", "rng"), c.sectionNames());
        assertArrayEquals(new float[] {3, 6}, c.section("model").get("w").toFloatArray());
        assertArrayEquals(new byte[] {1, 2, 3}, c.section("rng").get("cpu").toByteArray());
        assertThrows(CheckpointException.class, () -> c.section("ema"));
      }
    }
  }

  @Test
  void otherFilesAreRefusedAndNeverReplaced() throws Exception {
    try (TensorScope s = new TensorScope()) {
      Path plain = dir.resolve("plain.safetensors");
      Safetensors.write(plain, Map.of("w", s.track(Tensor.of(new float[] {1}, 1))));
      var e = assertThrows(CheckpointException.class, () -> Checkpoint.load(plain));
      assertTrue(e.getMessage().contains("not a d2g training checkpoint"), e.getMessage());
      byte[] before = Files.readAllBytes(plain);
      assertThrows(OutputException.class, () -> Checkpoint.save(plain, 1, "{}", sections(s, 1), false));
      assertArrayEquals(before, Files.readAllBytes(plain), "a safetensors file that is not a checkpoint is left alone");
      Path text = dir.resolve("notes.txt");
      Files.writeString(text, "mine");
      assertThrows(OutputException.class, () -> Checkpoint.save(text, 1, "{}", sections(s, 1), true));
      assertEquals("mine", Files.readString(text));
    }
  }

  @Test
  void aFolderKeepsItsNewestAndNeverDeletesOtherFiles() throws Exception {
    Checkpoints run = new Checkpoints(dir.resolve("ckpt"), 2);
    assertTrue(run.latest().isEmpty());
    try (TensorScope s = new TensorScope()) {
      run.save(5, "{}", sections(s, 5));
      Files.writeString(run.file(7), "not a checkpoint, though named like one");
      run.save(10, "{}", sections(s, 10));
      run.save(15, "{}", sections(s, 15));
      assertEquals(List.of(7L, 10L, 15L), run.steps(), "step 5 deleted, the foreign step-7 file kept");
      try (Checkpoint c = run.latest().orElseThrow()) {
        assertEquals(15, c.step());
        assertArrayEquals(new float[] {15, 30}, c.section("model").get("w").toFloatArray());
      }
      Path newest = run.file(15);
      byte[] b = Files.readAllBytes(newest);
      b[b.length - 1] ^= 1;
      Files.write(newest, b);
      var e = assertThrows(CheckpointException.class, run::latest);
      assertTrue(e.getMessage().contains("damaged") && e.getMessage().contains("step-000000000010"), e.getMessage());
    }
  }

  @Test
  void resumeLoadsTheNewestOfTheSameSettingsAndRefusesOthers() {
    Checkpoints cps = new Checkpoints(dir.resolve("run/checkpoints"), 2);
    assertEquals(0, cps.resume("{}", c -> fail("nothing to load")));
    for (long step : new long[] {3, 6})
      cps.saveAndClose(step, "{\"lr\":1}", Map.of("model", Map.of("w", Tensor.of(new float[] {step}, 1))));
    long[] seen = new long[1];
    assertEquals(6, cps.resume("{\"lr\":1}", c -> seen[0] = (long) c.section("model").get("w").toFloatArray()[0]));
    assertEquals(6, seen[0]);
    var e = assertThrows(Checkpoints.OtherSettingsException.class, () -> cps.resume("{\"lr\":2}", c -> fail("loaded")));
    assertTrue(e.getMessage().contains("other settings"), e.getMessage());
  }
}
