package io.d2g.examples;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.ChildJvm;
import io.d2g.ChildJvm.Run;
import io.d2g.Tensor;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Crash safety of a training run: {@link TrainDenoiser} killed with SIGKILL at random steps and
 * started again ends with weights bit-identical to an uninterrupted run (CPU, one thread); a damaged
 * checkpoint stops the resume with a clear error and is left in place.
 */
class TrainDenoiserResumeTest {
  private static final Logger LOG = LoggerFactory.getLogger(TrainDenoiserResumeTest.class);
  private static final Map<String, String> ARGS = Map.of("--steps", "30", "--batch", "4", "--width", "16", "--size", "8",
      "--checkpoint-every", "4", "--keep", "2", "--threads", "1", "--log-every", "1", "--seed", "5");

  @TempDir Path tmp;

  /** Runs the trainer; killAtStep >= 0 sends SIGKILL once it has logged that step. */
  private static Run train(Path out, int killAtStep) throws IOException, InterruptedException {
    return ChildJvm.runKillingAfterStep(TrainerProcess.command(out, ARGS), killAtStep, 0);
  }

  @Test
  void killedRunsResumeToTheSameWeights() throws Exception {
    Path straight = tmp.resolve("straight"), killed = tmp.resolve("killed");
    Run a = train(straight, -1);
    assertEquals(0, a.exit(), a.output());

    long seed = System.nanoTime();
    Random random = new Random(seed);
    // The first kill comes after the first checkpoint (step 4), so that the last run always resumes: a
    // pair of kills before it (about 3 % of draws when the first could come at step 1) left nothing to
    // resume from, and the run, rightly starting afresh, failed the "resumed" check.
    int first = 5 + random.nextInt(10), second = first + 1 + random.nextInt(14);
    LOG.info("SIGKILL after steps {} and {} (seed {})", first, second, seed);
    Run k1 = train(killed, first);
    assertNotEquals(0, k1.exit(), "the first run was killed");
    Run k2 = train(killed, second);
    assertNotEquals(0, k2.exit(), "the second run was killed");
    Run rest = train(killed, -1);
    assertEquals(0, rest.exit(), rest.output());
    assertTrue(rest.output().contains("resumed at step"), rest.output());

    for (String folder : List.of("unet", "unet_ema"))
      assertBitIdentical(straight.resolve(folder), killed.resolve(folder), "kills after steps " + first + " and "
          + second + " (seed " + seed + "), " + folder);
    try (Stream<Path> s = Files.list(killed.resolve("checkpoints"))) {
      List<String> left = s.map(p -> p.getFileName().toString()).sorted().toList();
      assertEquals(List.of("step-000000000028.safetensors", "step-000000000030.safetensors"), left,
          "the newest two checkpoints and nothing else (no temporary files)");
    }
  }

  @Test
  void aDamagedCheckpointIsRefusedWithAClearError() throws Exception {
    Path run = tmp.resolve("damaged");
    Run k = train(run, 10);
    assertNotEquals(0, k.exit());
    Path newest;
    try (Stream<Path> s = Files.list(run.resolve("checkpoints"))) {
      newest = s.max(Path::compareTo).orElseThrow();
    }
    long size = Files.size(newest);
    try (FileChannel c = FileChannel.open(newest, StandardOpenOption.WRITE)) {
      c.write(ByteBuffer.wrap(new byte[] {0x5a}), size - 7); // one byte of a weight
    }
    byte[] damaged = Files.readAllBytes(newest);
    Run again = train(run, -1);
    assertEquals(1, again.exit(), again.output());
    assertTrue(again.output().contains("damaged"), again.output());
    assertTrue(again.output().contains(newest.getFileName().toString()), again.output());
    assertFalse(again.output().contains("Exception"), "a message, not a stack trace: " + again.output());
    assertArrayEquals(damaged, Files.readAllBytes(newest), "the damaged file is left as it was");
  }

  private static void assertBitIdentical(Path a, Path b, String what) {
    Path fa = a.resolve("diffusion_pytorch_model.safetensors"), fb = b.resolve("diffusion_pytorch_model.safetensors");
    try (SafetensorsFile x = Safetensors.open(fa); SafetensorsFile y = Safetensors.open(fb)) {
      assertEquals(x.names(), y.names(), what);
      Map<String, Tensor> tx = x.tensors(), ty = y.tensors();
      try {
        for (String n : x.names())
          assertArrayEquals(tx.get(n).toByteArray(), ty.get(n).toByteArray(), what + ": " + n + " differs");
      } finally {
        tx.values().forEach(Tensor::close);
        ty.values().forEach(Tensor::close);
      }
    }
  }
}
