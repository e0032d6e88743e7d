package io.d2g.pairs;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.TensorScope;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reading a pairs folder: each batch row is its pair's stored latent (f32 and f16 shards), recomputed
 * noise and prompt id; the epoch order is deterministic, changes with the epoch and is disjoint across
 * ranks; the loader yields the epoch's full batches; an unfinished folder is refused.
 */
class PairDatasetTest {
  @TempDir Path tmp;

  private Path make(String name, DType dtype) {
    Path out = tmp.resolve(name);
    PairGenerator.run(PairGeneratorTest.teacher(), PairGeneratorTest.PROMPTS,
        new PairGenerator.Options(21, 7, 2, 4.0, null, 4, 6, dtype, null), out, Device.CPU, 0, 1, k -> {});
    return out;
  }

  @Test
  void batchesHoldTheStoredPairs() {
    for (DType dtype : new DType[] {DType.F32, DType.F16}) {
      Path dir = make("p-" + dtype, dtype);
      try (PairDataset ds = PairDataset.open(dir);
          SafetensorsFile shard = Safetensors.open(dir.resolve("shard-000002.safetensors"));
          TensorScope s = new TensorScope()) {
        assertEquals(21, ds.size());
        assertArrayEquals(new long[] {4, 16, 16}, ds.latentShape());
        float[] stored = s.track(s.track(shard.tensor("latents")).to(DType.F32)).toFloatArray();
        int[] storedPrompts = s.track(shard.tensor("prompt_id")).toIntArray();
        PairDataset.Batch b = ds.batch(new long[] {14, 3, 12}, false);
        s.track(b.noise());
        s.track(b.latents());
        float[] x = b.latents().toFloatArray(), z = b.noise().toFloatArray();
        int per = 4 * 16 * 16;
        assertArrayEquals(Arrays.copyOfRange(stored, 2 * per, 3 * per), Arrays.copyOfRange(x, 0, per), dtype + ": pair 14");
        assertArrayEquals(Arrays.copyOfRange(stored, 0, per), Arrays.copyOfRange(x, 2 * per, 3 * per), dtype + ": pair 12");
        assertArrayEquals(PairNoise.of(7).normals(3, per), Arrays.copyOfRange(z, per, 2 * per));
        assertEquals(storedPrompts[2], b.promptIds()[0]);
        assertEquals(PairGeneratorTest.PROMPTS.promptOf(3, 7), b.promptIds()[1]);
        assertThrows(InvalidArgumentException.class, () -> ds.batch(new long[] {21}, false));
      }
    }
  }

  @Test
  void epochsAreShuffledDeterministicallyAndRanksDisjoint() {
    try (PairDataset ds = PairDataset.open(make("p", DType.F16))) {
      long[] a = ds.order(0, 5, 0, 1);
      assertEquals(21, a.length);
      assertEquals(21, Arrays.stream(a).distinct().count());
      assertArrayEquals(a, ds.order(0, 5, 0, 1));
      assertFalse(Arrays.equals(a, ds.order(1, 5, 0, 1)), "another epoch, another order");
      Set<Long> seen = new HashSet<>();
      for (int r = 0; r < 4; r++) {
        long[] part = ds.order(0, 5, r, 4);
        assertEquals(5, part.length, "21 pairs over 4 ranks: 5 each");
        for (long p : part) assertTrue(seen.add(p), "pair " + p + " twice");
      }
      try (PairDataset.Loader loader = ds.loader(0, 5, 4, 1, 2, Device.CPU, 2)) {
        assertEquals(2, loader.steps(), "10 pairs for rank 1, batches of 4");
        long[] expected = ds.order(0, 5, 1, 2);
        for (int s = 0; s < 2; s++)
          try (PairDataset.Batch b = loader.next()) {
            assertArrayEquals(Arrays.copyOfRange(expected, 4 * s, 4 * s + 4), b.pairs());
            assertArrayEquals(new long[] {4, 4, 16, 16}, b.latents().shape());
          }
      }
    }
  }

  @Test
  void anUnfinishedFolderIsRefused() throws Exception {
    Path out = tmp.resolve("half");
    assertFalse(PairGenerator.run(PairGeneratorTest.teacher(), PairGeneratorTest.PROMPTS,
        new PairGenerator.Options(21, 7, 2, 4.0, null, 4, 6, DType.F16, null), out, Device.CPU, 0, 2, k -> {}).complete());
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> PairDataset.open(out));
    assertTrue(e.getMessage().contains("not complete"), e.getMessage());
    assertThrows(InvalidArgumentException.class, () -> PairDataset.open(tmp));
    assertTrue(Files.exists(out.resolve("shard-000000.safetensors")));
  }
}
