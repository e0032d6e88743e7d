package io.d2g.examples;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.cli.Commands;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example mains answer their command lines as the CLI does: usage and exit code 2 for bad ones. */
class ExamplesTest {
  private record Run(int code, String out, String err) {}

  private static Run run(Object command, String... args) {
    PrintStream oldOut = System.out, oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    System.setErr(new PrintStream(err, true));
    try {
      return new Run(Commands.execute(command, args), out.toString(), err.toString());
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  @Test
  void everyExampleHasHelpAndTheListerNamesThemAll() {
    for (Object c : new Object[] {new DiffusersParity(), new GpuSmoke(), new PairsBench(), new SceneComposerBench(), new Sd15Bench(), new TrainAutoencoder(),
        new TrainDenoiser(), new TrainJudge(), new TrainLpips(), new LpipsRecon(), new TrainStepBench(), new TrainTeacher(), new TrainTextEncoder()}) {
      Run r = run(c, "--help");
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().startsWith("Usage: "), r.out());
    }
    Run list = run(new Examples(), "--help");
    for (String name : new String[] {"diffusers-parity", "gpu-smoke", "pairs-bench", "scene-composer-bench", "sd15-bench", "train-autoencoder", "train-denoiser",
        "train-judge", "train-lpips", "lpips-recon", "train-step-bench", "train-teacher", "pretrain-text-encoder"})
      assertTrue(list.out().contains(name), list.out());
    assertEquals(2, run(new Examples()).code(), "no example named");
    assertEquals(2, run(new Examples(), "no-such-example").code());
  }

  @Test
  void badArgumentsGetAUsageLineNotAStackTrace() {
    Object[][] cases = {
      {new GpuSmoke(), new String[] {"--mib", "0"}}, {new GpuSmoke(), new String[] {"--mib"}},
      {new GpuSmoke(), new String[] {"--bogus"}}, {new GpuSmoke(), new String[] {"--memcpy-ref", "/no/such/program"}},
      {new SceneComposerBench(), new String[] {"--threads", "0"}},
      {new SceneComposerBench(), new String[] {"--batch", "x"}},
      {new SceneComposerBench(), new String[] {"--device", "tpu"}},
      {new Sd15Bench(), new String[] {}}, {new Sd15Bench(), new String[] {"/no/such/ref", "out"}},
      {new Sd15Bench(), new String[] {".", "out", "--variants", "warp_speed"}},
      {new TrainDenoiser(), new String[] {}}, {new TrainDenoiser(), new String[] {"--out", "x", "--steps", "0"}},
      {new TrainDenoiser(), new String[] {"--out", "x", "--width", "12"}},
      {new TrainAutoencoder(), new String[] {}}, {new TrainAutoencoder(), new String[] {"--out", "x", "--steps", "0"}},
      {new TrainAutoencoder(), new String[] {"--out", "x", "--widths", "0"}},
      {new TrainAutoencoder(), new String[] {"--out", "x", "--device", "tpu"}},
      {new TrainAutoencoder(), new String[] {"--out", "x", "--threads", "0"}},
      {new TrainTeacher(), new String[] {"--out", "x"}}, {new TrainTeacher(), new String[] {"--vae", "/no/such", "--out", "x"}},
      {new TrainTeacher(), new String[] {"--vae", ".", "--out", "x", "--prediction", "sample"}},
      {new TrainTeacher(), new String[] {"--vae", ".", "--out", "x", "--freeze-text-encoder"}},
      {new TrainTeacher(), new String[] {"--vae", ".", "--out", "x", "--text-encoder", "/no/such"}},
      {new TrainTextEncoder(), new String[] {}}, {new TrainTextEncoder(), new String[] {"--out", "x", "--batch", "1"}},
      {new TrainTextEncoder(), new String[] {"--out", "x", "--text-width", "12"}},
      {new TrainJudge(), new String[] {}}, {new TrainJudge(), new String[] {"--out", "x", "--batch", "1"}},
      {new TrainJudge(), new String[] {"--out", "x", "--widths", "12"}},
      {new TrainLpips(), new String[] {"--out", "x"}}, {new TrainLpips(), new String[] {"--vae", "/no/such", "--out", "x"}},
      {new TrainLpips(), new String[] {"--vae", ".", "--out", "x", "--batch", "1"}},
      {new TrainLpips(), new String[] {"--vae", ".", "--out", "x", "--heads", "learnt"}},
      {new LpipsRecon(), new String[] {"--out", "x"}},
      {new LpipsRecon(), new String[] {"--model", ".", "--vae", ".", "--out", "x", "--presets", "none,zz"}},
      {new LpipsRecon(), new String[] {"--model", ".", "--vae", ".", "--out", "x", "--every", "0"}},
      {new LpipsRecon(), new String[] {"--model", ".", "--vae", ".", "--out", "x", "--heads", "learnt"}},
      {new DiffusersParity(), new String[] {"--model", "."}},
      {new DiffusersParity(), new String[] {"--model", "/no/such", "--reference", "/no/such"}},
      {new PairsBench(), new String[] {}}, {new PairsBench(), new String[] {"--teacher", ".", "--pairs", "0"}},
      {new TrainStepBench(), new String[] {"--steps", "0"}}, {new TrainStepBench(), new String[] {"--reference", "/no/such.json"}},
    };
    for (Object[] c : cases) {
      String[] args = (String[]) c[1];
      Run r = run(c[0], args);
      assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
      assertTrue(r.err().contains("Usage: "), r.err());
      assertFalse(r.err().contains("Exception"), r.err());
    }
  }

  @Test
  void aMissingDatasetIsOneClearLine(@TempDir Path tmp) {
    Run r = run(new SceneComposerBench(), "--data", tmp.resolve("none").toString(), "--seconds", "0.1",
        "--out", tmp.resolve("r.json").toString());
    assertEquals(1, r.code(), r.err());
    assertTrue(r.err().startsWith("scene-composer-bench: ") && r.err().contains("no manifest.json"), r.err());
    assertFalse(Files.exists(tmp.resolve("r.json")));
  }
}
