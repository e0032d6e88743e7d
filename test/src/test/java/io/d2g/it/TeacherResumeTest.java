package io.d2g.it;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.ChildJvm;
import io.d2g.ChildJvm.Run;
import io.d2g.data.emoji.EmojiDatasetBuilder;
import io.d2g.data.emoji.EmojiStyle;
import io.d2g.data.emoji.FakeNpm;
import io.d2g.examples.Examples;
import io.d2g.examples.TrainAutoencoder;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * Crash safety of the teacher's trainer (issue 15): train-teacher killed with SIGKILL ten times at
 * random moments (after a random logged step, plus a random delay that lands some kills inside a
 * checkpoint's write) and started again each time ends with a teacher folder byte-identical to an
 * uninterrupted run's; after every kill, each file a resume would read is a whole checkpoint.
 */
class TeacherResumeTest {
  private static final Logger LOG = LoggerFactory.getLogger(TeacherResumeTest.class);
  private static final int STEPS = 24;

  @TempDir Path tmp;

  /** train-teacher in a JVM of its own; killAfterStep >= 0 sends SIGKILL delayMs after it logs that step. */
  private static Run train(List<String> args, int killAfterStep, int delayMs) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("train-teacher"));
    cmd.addAll(args);
    return ChildJvm.runKillingAfterStep(ChildJvm.command(List.of(), Examples.class, cmd.toArray(String[]::new)),
        killAfterStep, delayMs);
  }

  private static List<String> args(Path data, Path vae, Path out) {
    return List.of("--data", data.toString(), "--vae", vae.toString(), "--out", out.toString(), "--steps", "" + STEPS,
        "--batch", "4", "--widths", "32,32", "--text-width", "32", "--text-layers", "1", "--vocab", "600",
        "--sample-steps", "1", "--sample-every", "0", "--log-every", "1", "--checkpoint-every", "3", "--threads", "1");
  }

  @Test
  void tenKillsEndWithTheTeacherOfAnUninterruptedRun() throws Exception {
    FakeNpm npm = new FakeNpm(tmp.resolve("npm"));
    Path data = new EmojiDatasetBuilder(npm.fetcher(), npm.pins).build(EmojiDatasetBuilder.Options.defaults(tmp.resolve("ds"))
        .withCache(tmp.resolve("cache")).withSize(16).withStyles(List.of(EmojiStyle.NOTO, EmojiStyle.EMOJIONE))).out();
    Path vaeRun = tmp.resolve("vae");
    assertEquals(0, new CommandLine(new TrainAutoencoder()).execute("--data", data.toString(), "--out", vaeRun.toString(),
        "--steps", "2", "--batch", "4", "--widths", "8,8", "--eval-scenes", "8", "--log-every", "1", "--threads", "1"));
    Path vae = vaeRun.resolve("vae");

    Path straight = tmp.resolve("straight"), killed = tmp.resolve("killed");
    Run a = train(args(data, vae, straight), -1, 0);
    assertEquals(0, a.exit(), a.output());

    long seed = System.nanoTime();
    Random random = new Random(seed);
    TreeSet<Integer> at = new TreeSet<>();
    while (at.size() < 10) at.add(1 + random.nextInt(STEPS - 1)); // ten distinct steps in 1 .. STEPS-1
    LOG.info("SIGKILL after steps {} (seed {})", at, seed);
    for (int step : at) {
      int delay = random.nextInt(40);
      Run k = train(args(data, vae, killed), step, delay);
      // A kill may come after a run's last line; then the run finished and the next starts past it.
      if (k.exit() == 0) continue;
      assertEveryCheckpointIsWhole(killed.resolve("checkpoints"), "after the kill at step " + step + " + " + delay
          + " ms (seed " + seed + ")");
    }
    Run rest = train(args(data, vae, killed), -1, 0);
    assertEquals(0, rest.exit(), rest.output());

    for (String file : List.of("unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
        "vae/diffusion_pytorch_model.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt", "model_index.json"))
      assertArrayEquals(Files.readAllBytes(straight.resolve("teacher").resolve(file)),
          Files.readAllBytes(killed.resolve("teacher").resolve(file)), file + " (kills after " + at + ", seed " + seed + ")");
  }

  /** Every file of the checkpoints folder that a resume would read opens as a whole safetensors file. */
  private static void assertEveryCheckpointIsWhole(Path folder, String when) throws IOException {
    if (!Files.isDirectory(folder)) return;
    try (Stream<Path> s = Files.list(folder)) {
      for (Path p : s.filter(p -> p.getFileName().toString().matches("step-\\d+\\.safetensors")).toList())
        try (SafetensorsFile f = Safetensors.open(p)) {
          assertFalse(f.names().isEmpty(), p + " " + when);
        } catch (RuntimeException e) {
          fail(p + " is not a whole checkpoint " + when + ": " + e.getMessage());
        }
    }
  }
}
