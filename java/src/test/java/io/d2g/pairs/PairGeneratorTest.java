package io.d2g.pairs;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.CheckpointException;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.io.OutputException;
import io.d2g.pipelines.MultiStepTextToImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Teacher pairs on the tiny pipeline folder of the fixtures (CPU): each stored latent is what the
 * teacher's sampler reaches from the pair's recomputed noise and prompt; one process or three give the
 * same files byte for byte; a rerun finds everything done; a deleted shard is made again identically;
 * other settings, a damaged shard and a foreign folder are refused.
 */
class PairGeneratorTest {
  @TempDir Path tmp;

  static Path teacher() {
    Path root = Path.of("").toAbsolutePath();
    while (!Files.isDirectory(root.resolve("test/fixtures/sd-pipeline-tiny"))) root = root.getParent();
    return root.resolve("test/fixtures/sd-pipeline-tiny");
  }

  static final PromptTable PROMPTS = PromptTable.of(List.of("a red car, noto style", "a cat, twemoji style",
      "hot springs, noto style", "a cat to the left of a red car, twemoji style"));

  /** 21 pairs, 3 DDIM steps, guidance 4, batch 3 in shards of 6 (the last one short), f32. */
  static PairGenerator.Options options() {
    return new PairGenerator.Options(21, 7, 3, 4.0, null, 3, 6, DType.F32, null);
  }

  private static PairGenerator.Summary run(Path out, int rank, int world) {
    return PairGenerator.run(teacher(), PROMPTS, options(), out, Device.CPU, rank, world, k -> {});
  }

  private static void assertSameFiles(Path a, Path b) throws IOException {
    List<String> names;
    try (Stream<Path> s = Files.list(a)) {
      names = s.map(p -> p.getFileName().toString()).sorted().toList();
    }
    try (Stream<Path> s = Files.list(b)) {
      assertEquals(names, s.map(p -> p.getFileName().toString()).sorted().toList());
    }
    for (String n : names) assertArrayEquals(Files.readAllBytes(a.resolve(n)), Files.readAllBytes(b.resolve(n)), n);
  }

  @Test
  void storedLatentsAreTheSamplersFromTheRecomputedNoise() {
    Path out = tmp.resolve("one");
    AtomicLong heard = new AtomicLong();
    PairGenerator.Summary s = PairGenerator.run(teacher(), PROMPTS, options(), out, Device.CPU, 0, 1, heard::addAndGet);
    assertEquals(21, s.made());
    assertEquals(21, heard.get());
    assertEquals(4, s.shards());
    assertTrue(s.complete());
    JsonCheck.manifestLists(out.resolve("manifest.json"), 4);
    // pair 13: shard 2, row 1; its noise and prompt recomputed, sampled alone
    try (SafetensorsFile f = Safetensors.open(out.resolve("shard-000002.safetensors"));
        MultiStepTextToImage pipe = MultiStepTextToImage.load(teacher(), Device.CPU, null);
        TensorScope sc = new TensorScope()) {
      assertTrue(f.verifyDigest());
      long[] pairs = sc.track(f.tensor("pair")).toLongArray();
      assertArrayEquals(new long[] {12, 13, 14, 15, 16, 17}, pairs);
      int[] promptIds = sc.track(f.tensor("prompt_id")).toIntArray();
      assertEquals(PROMPTS.promptOf(13, 7), promptIds[1]);
      float[] stored = sc.track(f.tensor("latents")).toFloatArray();
      Tensor z = sc.track(PairNoise.of(7).tensor(13, 1, pipe.latentShape()));
      float[] again = sc.track(pipe.denoise(List.of(PROMPTS.get(promptIds[1])), z, 3, 4.0)).toFloatArray();
      int per = again.length;
      double worst = 0;
      for (int i = 0; i < per; i++) worst = Math.max(worst, Math.abs(stored[per + i] - again[i]));
      assertTrue(worst < 1e-4, "pair 13 sampled alone differs by " + worst);
    }
  }

  @Test
  void anyNumberOfProcessesWritesTheSameFilesAndRerunsResume() throws IOException {
    Path one = tmp.resolve("one"), three = tmp.resolve("three");
    run(one, 0, 1);
    assertFalse(run(three, 2, 3).complete(), "ranks 0 and 1 have not run yet");
    assertFalse(run(three, 0, 3).complete());
    assertTrue(run(three, 1, 3).complete());
    assertSameFiles(one, three);

    PairGenerator.Summary again = run(one, 0, 1);
    assertEquals(0, again.made());
    assertEquals(21, again.found());

    Files.delete(one.resolve("shard-000001.safetensors")); // as if its process had died before writing it
    Files.writeString(one.resolve(".shard-000001.safetensors.d2g-partial-999999999-0a0b0c0d"), "half a shard");
    PairGenerator.Summary mended = run(one, 0, 1);
    assertEquals(6, mended.made());
    assertSameFiles(one, three);
  }

  @Test
  void otherSettingsDamageAndForeignFoldersAreRefused() throws IOException {
    Path out = tmp.resolve("p");
    run(out, 0, 1);
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> PairGenerator.run(teacher(), PROMPTS,
        options().withSampling(null, 4, 4.0), out, Device.CPU, 0, 1, k -> {}));
    assertTrue(e.getMessage().contains("steps: 3 → 4"), e.getMessage());
    e = assertThrows(InvalidArgumentException.class, () -> PairGenerator.run(teacher(), PromptTable.of(List.of("a dog")),
        options(), out, Device.CPU, 0, 1, k -> {}));
    assertTrue(e.getMessage().contains("prompts_sha256"), e.getMessage());
    e = assertThrows(InvalidArgumentException.class, () -> PairGenerator.run(teacher(), PROMPTS,
        options().withPrecision(DType.BF16), out, Device.CPU, 0, 1, k -> {}));
    assertTrue(e.getMessage().contains("precision: \"F32\" → \"BF16\"") || e.getMessage().contains("precision: F32 → BF16"),
        e.getMessage());

    Path shard = out.resolve("shard-000003.safetensors");
    long size = Files.size(shard);
    try (FileChannel c = FileChannel.open(shard, StandardOpenOption.WRITE)) {
      c.write(ByteBuffer.wrap(new byte[] {0x5a}), size - 3);
    }
    byte[] damaged = Files.readAllBytes(shard);
    CheckpointException d = assertThrows(CheckpointException.class, () -> run(out, 0, 1));
    assertTrue(d.getMessage().contains("damaged") && d.getMessage().contains("Delete it") && d.getMessage().contains("shard-000003"), d.getMessage());
    assertArrayEquals(damaged, Files.readAllBytes(shard), "left as it was");

    Path foreign = tmp.resolve("foreign");
    Files.createDirectories(foreign);
    Files.writeString(foreign.resolve("notes.txt"), "mine");
    assertThrows(OutputException.class, () -> run(foreign, 0, 1));
    assertEquals("mine", Files.readString(foreign.resolve("notes.txt")));
    assertEquals(1, Files.list(foreign).count(), "nothing added");
    assertThrows(InvalidArgumentException.class, () -> run(tmp.resolve("x"), 3, 3));
    assertThrows(InvalidArgumentException.class, () -> PairGenerator.run(tmp, PROMPTS, options(), tmp.resolve("y"),
        Device.CPU, 0, 1, k -> {}));
  }

  /** The finished manifest names every shard with its checksum. */
  static final class JsonCheck {
    static void manifestLists(Path manifest, int shards) {
      var m = PairManifest.read(manifest);
      assertTrue(m.path("complete").asBoolean());
      assertEquals(shards, m.path("shards").size());
      for (int k = 0; k < shards; k++) {
        assertEquals(PairManifest.shardName(k), m.path("shards").get(k).path("file").asText());
        assertEquals(64, m.path("shards").get(k).path("sha256").asText().length());
      }
    }
  }
}
