package io.d2g.examples;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.cli.Main;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Crash safety of {@code d2g pairs}: ten runs in a row killed with SIGKILL at random moments (after a
 * random number of shards, plus a random delay, so some die mid-shard), then one more run, end with the
 * files of an uninterrupted run, byte for byte, and no temporary files left.
 */
class PairsResumeTest {
  private static final Logger LOG = LoggerFactory.getLogger(PairsResumeTest.class);

  @TempDir Path tmp;

  private static Path teacher() {
    Path root = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(root.resolve("test/fixtures/sd-pipeline-tiny"))) root = root.getParent();
    return root.resolve("test/fixtures/sd-pipeline-tiny");
  }

  private static List<String> command(Path prompts, Path out) {
    return TrainerProcess.java(Main.class, List.of("pairs", "--teacher", teacher().toString(), "--prompts",
        prompts.toString(), "--n", "40", "--steps", "3", "--cfg", "4", "--batch", "2", "--shard-size", "4", "--seed", "3",
        "--no-progress", "--out", out.toString()));
  }

  private static long shards(Path out) throws IOException {
    if (!Files.isDirectory(out)) return 0;
    try (Stream<Path> s = Files.list(out)) {
      return s.filter(p -> p.getFileName().toString().startsWith("shard-")).count();
    }
  }

  /** Runs d2g pairs; with killAfterShards >= 0, SIGKILL once that many shards exist and delayMs more passed. */
  private static int run(List<String> cmd, Path out, int killAfterShards, int delayMs) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    if (killAfterShards >= 0) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (p.isAlive() && shards(out) < killAfterShards && System.nanoTime() < deadline) Thread.sleep(5);
      Thread.sleep(delayMs);
      p.destroyForcibly(); // SIGKILL: no shutdown hooks
    }
    assertTrue(p.waitFor(300, TimeUnit.SECONDS), "d2g pairs did not finish");
    return p.exitValue();
  }

  @Test
  void killedRunsEndWithTheFilesOfAnUninterruptedOne() throws Exception {
    Path prompts = tmp.resolve("prompts.txt");
    Files.writeString(prompts, "a red car, noto style\na cat, twemoji style\nhot springs, noto style\n");
    Path straight = tmp.resolve("straight"), killed = tmp.resolve("killed");
    assertEquals(0, run(command(prompts, straight), straight, -1, 0));

    long seed = System.nanoTime();
    Random random = new Random(seed);
    List<String> cmd = command(prompts, killed);
    for (int trial = 0; trial < 10; trial++) {
      long have = shards(killed);
      int target = (int) Math.min(10, have + random.nextInt(3)), delay = random.nextInt(150);
      LOG.info("trial {}: SIGKILL after {} shards + {} ms (seed {})", trial, target, delay, seed);
      run(cmd, killed, target, delay);
    }
    assertEquals(0, run(cmd, killed, -1, 0), "the last run finishes (seed " + seed + ")");
    List<String> names;
    try (Stream<Path> s = Files.list(straight)) {
      names = s.map(p -> p.getFileName().toString()).sorted().toList();
    }
    try (Stream<Path> s = Files.list(killed)) {
      assertEquals(names, s.map(p -> p.getFileName().toString()).sorted().toList(), "the same files, no temporary ones");
    }
    assertEquals(12, names.size(), "manifest, prompts and ten shards");
    for (String n : names)
      assertArrayEquals(Files.readAllBytes(straight.resolve(n)), Files.readAllBytes(killed.resolve(n)), n + " (seed " + seed + ")");
  }
}
