package io.d2g.it;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.cli.Main;
import io.d2g.data.emoji.EmojiDatasetBuilder;
import io.d2g.data.emoji.EmojiStyle;
import io.d2g.data.emoji.FakeNpm;
import io.d2g.eval.SampleSet;
import io.d2g.examples.LpipsRecon;
import io.d2g.examples.TrainAutoencoder;
import io.d2g.examples.TrainLpips;
import io.d2g.examples.TrainTeacher;
import io.d2g.examples.TrainTextEncoder;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The teacher's whole road on a tiny dataset, as a user walks it: a dataset, the autoencoder, the
 * teacher (with a sample grid on the way), then `d2g sample` on the teacher's folder with another
 * folder's prompts and seeds. Tiny sizes; what is checked is that each stage takes the previous one's
 * output and writes what the next one needs.
 */
class TeacherPipelineTest {
  @TempDir Path tmp;

  private static int run(Object command, String... args) {
    return new CommandLine(command).execute(args);
  }

  /** The dtypes named in a safetensors file's header. */
  private static java.util.Set<String> dtypes(Path file) throws java.io.IOException {
    byte[] b = Files.readAllBytes(file);
    long n = java.nio.ByteBuffer.wrap(b, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    var header = new com.fasterxml.jackson.databind.ObjectMapper().readTree(new String(b, 8, (int) n,
        java.nio.charset.StandardCharsets.UTF_8));
    java.util.Set<String> out = new java.util.TreeSet<>();
    header.properties().forEach(e -> {
      if (!e.getKey().equals("__metadata__")) out.add(e.getValue().path("dtype").asText());
    });
    return out;
  }

  /** A safetensors file's tensors as f32 arrays. */
  private static Map<String, float[]> weights(Path file) {
    Map<String, float[]> out = new TreeMap<>();
    try (SafetensorsFile f = Safetensors.open(file)) {
      f.tensors().forEach((k, t) -> {
        try (t; io.d2g.Tensor f32 = t.to(io.d2g.DType.F32)) {
          out.put(k, f32.toFloatArray());
        }
      });
    }
    return out;
  }

  @Test
  void datasetToAutoencoderToTeacherToSamples() throws Exception {
    FakeNpm npm = new FakeNpm(tmp.resolve("npm"));
    Path data = new EmojiDatasetBuilder(npm.fetcher(), npm.pins).build(EmojiDatasetBuilder.Options.defaults(tmp.resolve("ds"))
        .withCache(tmp.resolve("cache")).withSize(16).withStyles(List.of(EmojiStyle.NOTO, EmojiStyle.FLUENT_3D,
            EmojiStyle.FLUENT_FLAT, EmojiStyle.EMOJIONE))).out();

    Path vaeRun = tmp.resolve("vae");
    assertEquals(0, run(new TrainAutoencoder(), "--data", data.toString(), "--out", vaeRun.toString(), "--steps", "3",
        "--batch", "4", "--widths", "8,8", "--eval-scenes", "8", "--log-every", "1"));
    Path vae = vaeRun.resolve("vae");
    assertTrue(Files.isRegularFile(vae.resolve("config.json")));
    assertTrue(Files.isRegularFile(vaeRun.resolve("autoencoder-validation.json")));

    // LatentLPIPS weights for that latent space: classify, calibrate, validate; a rerun resumes at its end.
    Path lpipsRun = tmp.resolve("lpips");
    String[] lpipsArgs = {"--data", data.toString(), "--vae", vae.toString(), "--out", lpipsRun.toString(),
        "--classify-steps", "3", "--calibrate-steps", "2", "--batch", "4", "--widths", "8,8,8,8,8", "--eval-triplets", "16",
        "--log-every", "1"};
    assertEquals(0, run(new TrainLpips(), lpipsArgs));
    assertEquals(Set.of("F16", "I64"), dtypes(lpipsRun.resolve("lpips/diffusion_pytorch_model.safetensors")),
        "f16 weights (and BatchNorm's int64 counters, as the official checkpoints have them)");
    var report = new com.fasterxml.jackson.databind.ObjectMapper().readTree(lpipsRun.resolve("lpips-validation.json").toFile());
    for (String d : List.of("pixel_l2", "latent_l2", "latent_lpips_uniform_heads", "latent_lpips", "e_latent_lpips_bg")) {
      double a = report.path("two_afc").path("agreement").path(d).path("all").asDouble(-1);
      assertTrue(a >= 0 && a <= 1, d + ": " + a);
    }
    assertEquals(5, Files.readAllLines(lpipsRun.resolve("metrics.jsonl")).size());
    assertTrue(Files.isRegularFile(lpipsRun.resolve("lpips-calibrated/diffusion_pytorch_model.safetensors")));
    assertEquals("uniform", report.path("shipped_heads").asText());
    assertEquals(0, run(new TrainLpips(), lpipsArgs));
    assertEquals(5, Files.readAllLines(lpipsRun.resolve("metrics.jsonl")).size(), "the rerun trained nothing");
    // Its reconstruction experiment: plain LatentLPIPS and one ensemble preset, a few steps each.
    Path recon = tmp.resolve("recon");
    assertEquals(0, run(new LpipsRecon(), "--model", lpipsRun.resolve("lpips").toString(), "--vae", vae.toString(), "--data",
        data.toString(), "--out", recon.toString(), "--images", "2", "--steps", "4", "--every", "2", "--presets", "none,bg"));
    var curves = new com.fasterxml.jackson.databind.ObjectMapper().readTree(recon.resolve("recon.json").toFile()).path("runs");
    for (String p : List.of("none", "bg")) {
      assertEquals(2, curves.path(p).path("psnr_db").size(), p);
      assertTrue(Double.isFinite(curves.path(p).path("final_psnr_db").asDouble(Double.NaN)), p);
    }
    assertTrue(Files.isRegularFile(recon.resolve("reconstructions.png")));

    Path teacherRun = tmp.resolve("teacher");
    String[] args = {"--data", data.toString(), "--vae", vae.toString(), "--out", teacherRun.toString(), "--steps", "4",
        "--batch", "4", "--widths", "32,32", "--text-width", "32", "--text-layers", "1", "--vocab", "600",
        "--sample-steps", "2", "--sample-every", "2", "--log-every", "2", "--checkpoint-every", "2"};
    assertEquals(0, run(new TrainTeacher(), args));
    Path teacher = teacherRun.resolve("teacher");
    for (String part : List.of("model_index.json", "unet/config.json", "text_encoder/config.json", "vae/config.json",
        "tokenizer/vocab.json", "scheduler/scheduler_config.json"))
      assertTrue(Files.isRegularFile(teacher.resolve(part)), part);
    assertTrue(Files.isRegularFile(teacherRun.resolve("samples/step-00000002.png")), "the grid on the way");
    assertTrue(Files.isRegularFile(teacherRun.resolve("samples.png")));
    assertEquals(2, Files.readAllLines(teacherRun.resolve("metrics.jsonl")).size());
    for (String w : List.of("unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
        "vae/diffusion_pytorch_model.safetensors"))
      assertEquals(java.util.Set.of("F16"), dtypes(teacher.resolve(w)), w + ": the teacher ships in fp16");

    // The same command again resumes at the end and changes nothing it did not make.
    assertEquals(0, run(new TrainTeacher(), args));

    // A text encoder pretrained contrastively, then a teacher on it: frozen, its weights ship unchanged;
    // trained on, they move.
    Path textRun = tmp.resolve("text");
    assertEquals(0, run(new TrainTextEncoder(), "--data", data.toString(), "--out", textRun.toString(), "--steps", "3",
        "--batch", "4", "--text-width", "32", "--text-layers", "1", "--vocab", "600", "--image-widths", "8,8",
        "--eval-scenes", "8", "--log-every", "1"));
    assertTrue(Files.isRegularFile(textRun.resolve("text-encoder-validation.json")));
    Map<String, float[]> pretrained = weights(textRun.resolve("text_encoder/model.safetensors"));
    for (boolean freeze : new boolean[] {true, false}) {
      Path run = tmp.resolve(freeze ? "teacher-frozen" : "teacher-tuned");
      List<String> a = new java.util.ArrayList<>(List.of("--data", data.toString(), "--vae", vae.toString(), "--out",
          run.toString(), "--steps", "3", "--batch", "4", "--widths", "32,32", "--text-encoder", textRun.toString(),
          "--sample-steps", "1", "--sample-every", "0", "--log-every", "1", "--lr", "1e-2"));
      if (freeze) a.add("--freeze-text-encoder");
      assertEquals(0, run(new TrainTeacher(), a.toArray(String[]::new)));
      Map<String, float[]> shipped = weights(run.resolve("teacher/text_encoder/model.safetensors"));
      assertEquals(pretrained.keySet(), shipped.keySet());
      double moved = 0;
      for (var e : pretrained.entrySet())
        for (int i = 0; i < e.getValue().length; i++)
          moved = Math.max(moved, Math.abs(e.getValue()[i] - shipped.get(e.getKey())[i]) / (1e-3 + Math.abs(e.getValue()[i])));
      if (freeze) assertTrue(moved < 1e-3, "frozen: only fp16 rounding, got " + moved);
      else assertTrue(moved > 1e-2, "trained on: the weights move, got " + moved);
    }
    assertEquals(2, run(new TrainTeacher(), "--data", data.toString(), "--vae", vae.toString(), "--out",
        tmp.resolve("refused").toString(), "--text-encoder", textRun.toString(), "--vocab", "700"), "--vocab comes from the folder");

    // Samples on another folder's prompts and seeds.
    Path prompts = Files.writeString(tmp.resolve("samples.jsonl"),
        "{\"image\": \"0.png\", \"prompt\": \"cat face, noto style\", \"seed\": 5}\n"
            + "{\"image\": \"1.png\", \"prompt\": \"a red car on a blue background, emojione style\", \"seed\": 6}\n");
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    int code;
    try {
      code = Main.run(new String[] {"sample", "--model", teacher.toString(), "--steps", "2", "--prompts", prompts.toString(),
          "--out", tmp.resolve("grid.png").toString(), "--sample-folder", tmp.resolve("rows").toString()});
    } finally {
      System.setOut(old);
    }
    assertEquals(0, code, out.toString());
    SampleSet rows = SampleSet.open(tmp.resolve("rows"));
    assertEquals(2, rows.size());
    assertEquals(16, rows.width());
    assertEquals(6L, rows.samples().get(1).seed());
    // twemoji was not among this dataset's styles: the teacher's vocabulary never saw it
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream oldErr = System.err;
    System.setErr(new PrintStream(err, true));
    try {
      code = Main.run(new String[] {"sample", "--model", teacher.toString(), "--steps", "2", "--out",
          tmp.resolve("grid2.png").toString(), "a red car, twemoji style"});
    } finally {
      System.setErr(oldErr);
    }
    assertEquals(1, code, err.toString());
    assertTrue(err.toString().contains("\"twemoji\"") && !err.toString().contains("Exception"), err.toString());
    assertFalse(Files.exists(tmp.resolve("grid2.png")));
  }
}
