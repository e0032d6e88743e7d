package io.d2g.data.emoji;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.DType;
import io.d2g.Tensor;
import io.d2g.data.DatasetException;
import io.d2g.data.ImageCodec;
import io.d2g.data.ImageCodecTest;
import io.d2g.data.RgbaImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmojiDatasetTest {
  @TempDir static Path root;
  static Path out;

  @BeforeAll
  static void build() throws IOException {
    FakeNpm npm = new FakeNpm(root);
    out = new EmojiDatasetBuilder(npm.fetcher(), npm.pins).build(EmojiDatasetBuilder.Options.defaults(root.resolve("ds"))
        .withCache(root.resolve("cache")).withStyles(EmojiDatasetBuilderTest.STYLES).withSize(16).withShardBytes(1500)).out();
  }

  @Test
  void shardsRoundTripTheExactPngBytes() {
    try (EmojiDataset ds = EmojiDataset.open(out)) {
      assertEquals(16, ds.size());
      assertTrue(ds.manifest().path("shards").size() > 1);
      for (EmojiRecord r : ds.records()) {
        byte[] png = ds.png(r.index());
        assertEquals(r.length(), png.length);
        RgbaImage img = ds.image(r.index());
        assertArrayEquals(png, ImageCodec.encodePng(img), "stored bytes are the deterministic encoding of the picture");
      }
      RgbaImage cat = ds.image(ds.records().get(2).index()); // noto cat: solid disc
      ImageCodecTest.assertPixel(cat, 8, 8, 200, 120, 40, 255);
    }
  }

  @Test
  void batchesAreTensorsInTheRequestedLayoutAndType() {
    try (EmojiDataset ds = EmojiDataset.open(out)) {
      List<EmojiRecord> recs = ds.records();
      List<Integer> seen = new ArrayList<>();
      for (EmojiDataset.Batch b : ds.batches(recs, 5, DType.U8, EmojiDataset.Layout.NHWC, null, false)) {
        try (b) {
          assertArrayEquals(new long[] {b.records().size(), 16, 16, 4}, b.images().shape());
          assertEquals(DType.U8, b.images().dtype());
          byte[] got = b.images().toByteArray();
          for (int i = 0; i < b.records().size(); i++) {
            byte[] want = ds.image(b.records().get(i).index()).rgba();
            assertArrayEquals(want, java.util.Arrays.copyOfRange(got, i * want.length, (i + 1) * want.length));
            seen.add(b.records().get(i).index());
          }
          assertEquals(b.records().get(0).caption(), b.captions().get(0));
        }
      }
      assertEquals(recs.stream().map(EmojiRecord::index).toList(), seen, "in order, every record once");

      EmojiRecord r = recs.get(2);
      byte[] rgba = ds.image(r.index()).rgba();
      try (Tensor f = ds.tensor(List.of(r), DType.F32, EmojiDataset.Layout.NCHW)) {
        assertArrayEquals(new long[] {1, 4, 16, 16}, f.shape());
        float[] v = f.toFloatArray();
        int p = 8 * 16 + 8;
        for (int c = 0; c < 4; c++) assertEquals((rgba[p * 4 + c] & 255) / 255f, v[c * 256 + p], 1e-6);
      }
      // shuffled batches: a permutation, the same for the same seed, dropLast honoured
      List<Integer> a = new ArrayList<>(), b2 = new ArrayList<>();
      for (var x : ds.batches(recs, 4, DType.U8, EmojiDataset.Layout.NHWC, 9L, true)) try (x) { x.records().forEach(q -> a.add(q.index())); }
      for (var x : ds.batches(recs, 4, DType.U8, EmojiDataset.Layout.NHWC, 9L, true)) try (x) { x.records().forEach(q -> b2.add(q.index())); }
      assertEquals(a, b2);
      assertEquals(recs.size() / 4 * 4, a.size());
      assertNotEquals(recs.stream().map(EmojiRecord::index).toList().subList(0, a.size()), a);
      try (Tensor atlas = ds.atlas(recs)) {
        assertArrayEquals(new long[] {recs.size(), 16, 16, 4}, atlas.shape());
      }
    }
  }

  @Test
  void notADatasetIsAClearError() {
    DatasetException e = assertThrows(DatasetException.class, () -> EmojiDataset.open(root));
    assertTrue(e.getMessage().contains("d2g data emoji"), e.getMessage());
  }

  @Test
  void recordsOutsideTheirShardAndShardsOutsideTheFolderAreClearErrors() throws IOException {
    Path copy = root.resolve("damaged");
    for (String bad : new String[] {"\"offset\":0", "\"shard\":0", "\"style\":\"noto\""}) {
      copyDataset(copy);
      List<String> lines = Files.readAllLines(copy.resolve("index.jsonl"));
      String first = lines.get(0);
      assertTrue(first.contains(bad), first);
      lines.set(0, first.replace(bad, switch (bad) {
        case "\"offset\":0" -> "\"offset\":999999999";
        case "\"shard\":0" -> "\"shard\":-1";
        default -> "\"nostyle\":1";
      }));
      Files.write(copy.resolve("index.jsonl"), lines);
      DatasetException e = assertThrows(DatasetException.class, () -> EmojiDataset.open(copy), bad);
      assertTrue(e.getMessage().contains("index.jsonl line 1"), e.getMessage());
    }
    copyDataset(copy);
    Path manifest = copy.resolve("manifest.json");
    String m = Files.readString(manifest);
    String shard = ds0ShardName();
    Files.writeString(manifest, m.replace("\"" + shard + "\"", "\"../ds/" + shard + "\""));
    DatasetException e = assertThrows(DatasetException.class, () -> EmojiDataset.open(copy));
    assertTrue(e.getMessage().contains("not a file name of this folder"), e.getMessage());
  }

  private static String ds0ShardName() {
    try (EmojiDataset ds = EmojiDataset.open(out)) {
      return ds.manifest().path("shards").get(0).path("file").asText();
    }
  }

  private static void copyDataset(Path to) throws IOException {
    if (Files.exists(to))
      try (var files = Files.list(to)) {
        for (Path f : files.toList()) Files.delete(f);
      }
    Files.createDirectories(to);
    try (var files = Files.list(out)) {
      for (Path f : files.toList()) Files.copy(f, to.resolve(f.getFileName()));
    }
  }
}
