package io.d2g.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.D2g;
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.hub.DiffusersFolder;
import io.d2g.models.ImageTextJudge;
import io.d2g.models.ImageTextJudgeConfig;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
  private static String capture(Runnable r) {
    PrintStream old = System.out;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setOut(new PrintStream(buf, true));
    try {
      r.run();
    } finally {
      System.setOut(old);
    }
    return buf.toString();
  }

  @Test
  void infoPrintsVersionsAndDevices() {
    int[] rc = new int[1];
    String out = capture(() -> rc[0] = Main.run("info"));
    assertEquals(0, rc[0], out);
    assertTrue(out.contains("LibTorch         " + D2g.torchVersion()), out);
    assertTrue(out.contains("device           cpu"), out);
  }

  /** Runs the CLI; returns exit code and what it wrote to stdout and stderr. */
  private record Run(int code, String out, String err) {}

  private static Run run(String... args) {
    PrintStream oldOut = System.out, oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    System.setErr(new PrintStream(err, true));
    try {
      int code = Main.run(args);
      return new Run(code, out.toString(), err.toString());
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  @Test
  void noCommandIsAUsageErrorWithExitCode2() {
    Run r = run();
    assertEquals(2, r.code());
    assertTrue(r.err().contains("Missing command") && r.err().contains("Usage: d2g"), r.err());
    assertEquals(2, run("data").code());
  }

  @Test
  void badOptionValuesAreUsageErrors() {
    for (String[] args : new String[][] {{"data", "emoji", "--threads=0"}, {"data", "emoji", "--size", "4"},
        {"data", "emoji", "--held-out", "1.5"}, {"data", "emoji", "--shard-mb", "0"}, {"data", "emoji", "--nope"}}) {
      Run r = run(args);
      assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
      assertTrue(r.err().contains("Usage: d2g data emoji") || r.err().contains("Unknown option: '--nope'"), r.err());
      assertFalse(r.err().contains("Exception"), r.err());
    }
  }

  @Test
  void theDatasetCommandNeverReplacesWhatItDidNotCreate(@TempDir Path tmp) throws IOException {
    // all refused before anything is fetched: no network needed
    Path file = Files.writeString(tmp.resolve("notes.txt"), "mine");
    Path folder = Files.createDirectory(tmp.resolve("work"));
    Files.writeString(folder.resolve("draft.md"), "mine too");
    for (String out : new String[] {file.toString(), folder.toString(), ".", System.getProperty("user.home"), "/"}) {
      Run r = run("data", "emoji", "--out", out, "--force", "--cache", tmp.resolve("cache").toString());
      assertEquals(1, r.code(), out + ": " + r.err());
      assertTrue(r.err().startsWith("d2g: ") && r.err().contains("nothing was written"), r.err());
    }
    assertEquals("mine", Files.readString(file));
    assertEquals(List.of("draft.md"), Files.list(folder).map(p -> p.getFileName().toString()).toList());
    assertFalse(Files.exists(tmp.resolve("cache")), "refused before fetching");
  }

  /** A tiny judge saved as a model folder. */
  private static Path tinyJudge(Path dir) {
    try (ImageTextJudge judge = new ImageTextJudge(new ImageTextJudgeConfig(List.of(8), 4, 8, 1, 32, 4))) {
      DiffusersFolder.save(dir, judge);
    }
    return dir;
  }

  /** Six flat 8x8 samples, prompts p0 and p1, seeds 0..2. */
  private static Path tinySamples(Path samples) throws IOException {
    Files.createDirectories(samples);
    StringBuilder index = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      byte[] rgba = new byte[8 * 8 * 4];
      java.util.Arrays.fill(rgba, (byte) (40 * i));
      Files.write(samples.resolve(i + ".png"), ImageCodec.encodePng(new RgbaImage(8, 8, rgba)));
      index.append("{\"image\": \"").append(i).append(".png\", \"prompt\": \"p").append(i % 2).append("\", \"seed\": ")
          .append(i / 2).append("}\n");
    }
    Files.writeString(samples.resolve("samples.jsonl"), index);
    return samples;
  }

  @Test
  void evalGradesASampleFolderAndRefusesABrokenOne(@TempDir Path tmp) throws IOException {
    Path judgeDir = tinyJudge(tmp.resolve("judge"));
    Path samples = tinySamples(tmp.resolve("samples"));
    Run r = run("eval", "--samples", samples.toString(), "--judge", judgeDir.toString(), "--teacher", samples.toString(),
        "--rounds", "20", "--out", tmp.resolve("eval.json").toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("\"text_image_score\"") && r.out().contains("\"diversity\""), r.out());
    assertTrue(Files.readString(tmp.resolve("eval.json")).contains("\"fidelity\""));
    Files.delete(samples.resolve("4.png"));
    r = run("eval", "--samples", samples.toString(), "--judge", judgeDir.toString());
    assertEquals(1, r.code(), r.err());
    assertTrue(r.err().contains("4.png is missing"), r.err());
    r = run("eval", "--samples", samples.toString(), "--judge", tmp.resolve("nothing").toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("is not a model folder"), r.err());
  }

  @Test
  void tablesAreRegeneratedFromSampleFoldersAndNeverReplaceAHandWrittenFile(@TempDir Path tmp) throws IOException {
    Path judgeDir = tinyJudge(tmp.resolve("judge"));
    Path a = tinySamples(tmp.resolve("a")), b = tinySamples(tmp.resolve("b")), c = tinySamples(tmp.resolve("c"));
    Files.writeString(c.resolve("samples.jsonl"), Files.readString(c.resolve("samples.jsonl")).replace("\"prompt\": \"p", "\"prompt\": \"held-out p"));
    Path md = tmp.resolve("docs/results.md");
    Files.createDirectories(md.getParent());
    Path notes = Files.writeString(tmp.resolve("notes.md"), "The student matches its teacher, as it should.\n");
    String[] args = {"tables", "--row", "teacher=" + a, "--row", "student=" + b, "--row", "heldout=" + c, "--teacher", "teacher", "--judge",
        judgeDir.toString(), "--rounds", "20", "--out", md.toString(), "--json", tmp.resolve("eval.json").toString(),
        "--notes", notes.toString()};
    for (int pass = 0; pass < 2; pass++) { // the second replaces what the first wrote
      Run r = run(args);
      assertEquals(0, r.code(), r.err());
    }
    String text = Files.readString(md);
    assertTrue(text.startsWith(TablesCommand.MARK), text);
    assertTrue(text.contains("| teacher | 6 |") && text.contains("| student | 6 |"), text);
    assertTrue(text.contains("./d2g tables --row teacher="), text);
    assertTrue(text.contains("The student matches its teacher, as it should.") && text.contains("--notes " + notes), text);
    assertTrue(Files.isRegularFile(tmp.resolve("docs/results/student.png")));
    // the student's samples are the teacher's: fidelity 0
    var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(tmp.resolve("eval.json").toFile());
    assertEquals(0, json.path("models").path("student").path("fidelity").path("value").asDouble(), 1e-6);
    // a row of other prompts has no samples to pair with the teacher's: no fidelity, the rest graded
    assertTrue(json.path("models").path("heldout").path("fidelity").isMissingNode(), json.toString());
    assertTrue(json.path("models").path("heldout").path("skipped").path("fidelity").isTextual(), json.toString());
    Files.writeString(md, "# my notes\n");
    Run r = run(args);
    assertEquals(1, r.code(), r.err());
    assertEquals("# my notes\n", Files.readString(md));
    assertEquals(2, run("tables", "--row", "x", "--judge", judgeDir.toString()).code());
    assertEquals(2, run("tables", "--row", "a=" + a, "--teacher", "b", "--judge", judgeDir.toString()).code());
    assertEquals(2, run("tables", "--row", "a=" + a, "--judge", judgeDir.toString(), "--notes", tmp.resolve("none.md").toString()).code());
  }

  @Test
  void everyCommandsHelpFormats() {
    java.util.ArrayDeque<java.util.List<String>> todo = new java.util.ArrayDeque<>();
    todo.add(java.util.List.of());
    int seen = 0;
    while (!todo.isEmpty()) {
      java.util.List<String> path = todo.poll();
      picocli.CommandLine cl = new picocli.CommandLine(new Main());
      for (String name : path) cl = cl.getSubcommands().get(name);
      for (String name : cl.getSubcommands().keySet())
        if (!name.equals("help")) {
          java.util.List<String> next = new java.util.ArrayList<>(path);
          next.add(name);
          todo.add(next);
        }
      java.util.List<String> args = new java.util.ArrayList<>(path);
      args.add("--help");
      Run r = run(args.toArray(String[]::new));
      assertEquals(0, r.code(), String.join(" ", args) + ": " + r.err());
      assertFalse(r.err().contains("WARN"), String.join(" ", args) + ": " + r.err()); // e.g. a lone '%' in a description
      assertTrue(r.out().contains("Usage:"), r.out());
      seen++;
    }
    assertTrue(seen >= 8, "commands seen: " + seen);
  }

  @Test
  void sampleWritesAGridAndASampleFolderThatEvalGrades(@TempDir Path tmp) throws IOException {
    Path pipe = io.d2g.pipelines.TinyPipeline.write(tmp.resolve("pipe"));
    Path grid = tmp.resolve("grid.png"), folder = tmp.resolve("samples");
    Run r = run("sample", "--model", pipe.toString(), "--steps", "3", "--cfg", "3", "--sampler", "euler", "--out",
        grid.toString(), "--sample-folder", folder.toString(), "a red car, noto style", "a cat, twemoji style");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("2 of 2 images"), r.out());
    var img = javax.imageio.ImageIO.read(grid.toFile());
    assertEquals(32, img.getWidth());
    assertEquals(2, io.d2g.eval.SampleSet.open(folder).size());
    assertEquals(2, run("sample", "--model", pipe.toString(), "--sampler", "plms", "x").code());
    assertEquals(2, run("sample", "--model", pipe.toString(), "--steps", "0", "x").code());
    assertEquals(2, run("sample", "--model", pipe.toString()).code(), "no prompt");
  }

  @Test
  void pairsWritesAFolderAndAnswersBadRequestsWithUsageOrOneLine(@TempDir Path tmp) throws IOException {
    Path pipe = io.d2g.pipelines.TinyPipeline.write(tmp.resolve("pipe"));
    Path prompts = tmp.resolve("prompts.txt"), out = tmp.resolve("pairs");
    Files.writeString(prompts, "a red car, noto style\n\na cat, twemoji style\n");
    String[] ok = {"pairs", "--teacher", pipe.toString(), "--prompts", prompts.toString(), "--n", "5", "--steps", "2",
        "--batch", "2", "--shard-size", "3", "--no-progress", "--out", out.toString()};
    Run r = run(ok);
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("5 pairs made") && r.out().contains("complete"), r.out());
    r = run(ok);
    assertTrue(r.out().contains("0 pairs made") && r.out().contains("5 found done"), r.out());
    for (String[] bad : new String[][] {{"--n", "0"}, {"--steps", "0"}, {"--cfg", "-1"}, {"--dtype", "bf16"},
        {"--sampler", "plms"}, {"--batch", "0"}, {"--device", "tpu"}}) {
      String[] args = java.util.Arrays.copyOf(ok, ok.length + 2);
      args[ok.length] = bad[0];
      args[ok.length + 1] = bad[1];
      r = run(args);
      assertEquals(2, r.code(), String.join(" ", bad) + ": " + r.err());
      assertFalse(r.err().contains("Exception"), r.err());
    }
    String[] other = ok.clone();
    other[8] = "3"; // --steps 3 into the folder made with 2
    r = run(other);
    assertEquals(1, r.code(), r.err());
    assertTrue(r.err().contains("steps: 2 → 3") && !r.err().contains("Exception"), r.err());
    Path notUtf8 = tmp.resolve("bad.txt");
    Files.write(notUtf8, new byte[] {'a', '\n', (byte) 0xff, '\n'});
    String[] badFile = ok.clone();
    badFile[4] = notUtf8.toString();
    badFile[badFile.length - 1] = tmp.resolve("other").toString();
    r = run(badFile);
    assertEquals(1, r.code(), r.err());
    assertTrue(r.err().contains("line 2 is not UTF-8"), r.err());
  }

  @Test
  void samplePromptsFromAnotherFolderKeepItsPromptsAndSeedsWhateverTheBatch(@TempDir Path tmp) throws IOException {
    Path pipe = io.d2g.pipelines.TinyPipeline.write(tmp.resolve("pipe"));
    Path first = tmp.resolve("first"), again = tmp.resolve("again"), lines = tmp.resolve("prompts.txt");
    Run r = run("sample", "--model", pipe.toString(), "--steps", "2", "--seed", "40", "--out", tmp.resolve("a.png").toString(),
        "--sample-folder", first.toString(), "a red car, noto style", "a cat, twemoji style", "a dog, noto style");
    assertEquals(0, r.code(), r.err());
    r = run("sample", "--model", pipe.toString(), "--steps", "2", "--batch", "2", "--out", tmp.resolve("b.png").toString(),
        "--sample-folder", again.toString(), "--prompts", first.resolve("samples.jsonl").toString());
    assertEquals(0, r.code(), r.err());
    var a = io.d2g.eval.SampleSet.open(first).samples();
    var b = io.d2g.eval.SampleSet.open(again).samples();
    assertEquals(3, b.size());
    assertTrue(a.get(0).timedOn().startsWith("cpu ") && a.get(0).timedOn().endsWith(" cores"), a.get(0).timedOn());
    for (int i = 0; i < 3; i++) {
      assertEquals(a.get(i).prompt(), b.get(i).prompt());
      assertEquals(40L + i, b.get(i).seed());
      assertArrayEquals(Files.readAllBytes(a.get(i).image()), Files.readAllBytes(b.get(i).image()), "image " + i);
    }
    Files.writeString(lines, "# prompts\na red car, noto style\n\na cat, twemoji style\n");
    r = run("sample", "--model", pipe.toString(), "--steps", "2", "--out", tmp.resolve("c.png").toString(), "--prompts", lines.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("2 of 2 images"), r.out());
    r = run("sample", "--model", pipe.toString(), "--out", tmp.resolve("d.png").toString(), "--prompts", tmp.resolve("x.jsonl").toString());
    assertEquals(2, r.code(), "no such file");
    Path bad = Files.writeString(tmp.resolve("bad.jsonl"), "{\"prompt\": 3}\n");
    r = run("sample", "--model", pipe.toString(), "--out", tmp.resolve("d.png").toString(), "--prompts", bad.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("has no \"prompt\""), r.err());
    Path notUtf8 = Files.write(tmp.resolve("latin1.txt"), new byte[] {'a', '\n', 'c', (byte) 0xe9, '\n'});
    r = run("sample", "--model", pipe.toString(), "--out", tmp.resolve("d.png").toString(), "--prompts", notUtf8.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("line 2 is not UTF-8"), r.err());
    assertFalse(Files.exists(tmp.resolve("d.png")));
  }

  @Test
  void lpipsDistanceOfLatentsAndOfEncodedPictures(@TempDir Path tmp) throws IOException {
    Path model = io.d2g.models.LatentLpipsTest.fixture();
    try (io.d2g.TensorScope s = new io.d2g.TensorScope();
        io.d2g.hub.SafetensorsFile cases = io.d2g.hub.Safetensors.open(model.resolve("cases.safetensors"))) {
      var c = cases.tensors();
      c.values().forEach(s::track);
      io.d2g.hub.Safetensors.write(tmp.resolve("a.safetensors"), java.util.Map.of("z", s.track(c.get("x0").narrow(0, 0, 1))));
      io.d2g.hub.Safetensors.write(tmp.resolve("b.safetensors"), java.util.Map.of("z", s.track(c.get("x1").narrow(0, 0, 1))));
      io.d2g.hub.Safetensors.write(tmp.resolve("two.safetensors"), java.util.Map.of("z", c.get("x0"), "w", c.get("x1")));
      double want = c.get("distance").toFloatArray()[0];
      Run r = run("lpips", "distance", "--model", model.toString(), tmp.resolve("a.safetensors").toString(),
          tmp.resolve("b.safetensors").toString());
      assertEquals(0, r.code(), r.err());
      assertEquals(want, Double.parseDouble(r.out().strip()), 2e-6, "the official code's distance");
      assertEquals(2, run("lpips", "distance", "--model", model.toString(), tmp.resolve("two.safetensors").toString(),
          tmp.resolve("b.safetensors").toString()).code(), "two tensors and no --key");
      assertEquals(2, run("lpips", "distance", "--model", model.toString(), tmp.resolve("none.safetensors").toString(),
          tmp.resolve("b.safetensors").toString()).code());
      assertEquals(2, run("lpips").code(), "no subcommand");
    }
    // Pictures through an autoencoder with 4 latent channels (16 px -> 8x8 latents).
    Path pipe = io.d2g.pipelines.TinyPipeline.write(tmp.resolve("pipe"));
    byte[] red = new byte[16 * 16 * 4], blue = new byte[16 * 16 * 4];
    for (int p = 0; p < 256; p++) {
      red[p * 4] = (byte) 220;
      red[p * 4 + 3] = (byte) 255;
      blue[p * 4 + 2] = (byte) 200;
      blue[p * 4 + 3] = (byte) 255;
    }
    Path a = Files.write(tmp.resolve("red.png"), ImageCodec.encodePng(new RgbaImage(16, 16, red)));
    Path b = Files.write(tmp.resolve("blue.png"), ImageCodec.encodePng(new RgbaImage(16, 16, blue)));
    Run same = run("lpips", "distance", "--model", model.toString(), "--vae", pipe.resolve("vae").toString(), a.toString(), a.toString());
    assertEquals(0, same.code(), same.err());
    assertEquals(0.0, Double.parseDouble(same.out().strip()), 1e-9);
    Run apart = run("lpips", "distance", "--model", model.toString(), "--vae", pipe.resolve("vae").toString(), a.toString(), b.toString());
    assertEquals(0, apart.code(), apart.err());
    assertTrue(Double.parseDouble(apart.out().strip()) > 0, apart.out());
    Run noVae = run("lpips", "distance", "--model", model.toString(), "--vae", tmp.resolve("no-vae").toString(), a.toString(),
        b.toString());
    assertEquals(2, noVae.code());
    assertTrue(noVae.err().contains("pictures need an autoencoder"), noVae.err());
    Run mixed = run("lpips", "distance", "--model", model.toString(), a.toString(), tmp.resolve("b.safetensors").toString());
    assertEquals(2, mixed.code());
    assertTrue(mixed.err().contains("both be latents"), mixed.err());
  }

  @Test
  void scenesNeedADataset(@TempDir Path tmp) {
    Run r = run("data", "scenes", "--data", tmp.resolve("none").toString(), "--out", tmp.resolve("s").toString());
    assertEquals(1, r.code(), r.err());
    assertTrue(r.err().contains("is not an emoji dataset"), r.err());
    assertFalse(Files.exists(tmp.resolve("s")));
  }

  @Test
  void unknownCommandFails() {
    PrintStream oldErr = System.err;
    System.setErr(new PrintStream(new ByteArrayOutputStream()));
    try {
      assertNotEquals(0, Main.run("no-such-command"));
    } finally {
      System.setErr(oldErr);
    }
  }
}
