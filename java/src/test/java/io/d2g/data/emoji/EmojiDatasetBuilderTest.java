package io.d2g.data.emoji;

import static org.junit.jupiter.api.Assertions.*;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.d2g.data.DatasetException;
import io.d2g.data.ImageCodecTest;
import io.d2g.data.RgbaImage;
import io.d2g.data.npm.IntegrityException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class EmojiDatasetBuilderTest {
  @TempDir static Path root;
  static FakeNpm npm;
  static final List<EmojiStyle> STYLES = List.of(EmojiStyle.NOTO, EmojiStyle.FLUENT_3D, EmojiStyle.FLUENT_FLAT,
      EmojiStyle.EMOJIONE);

  @BeforeAll
  static void fakes() throws IOException {
    npm = new FakeNpm(root);
  }

  static EmojiDatasetBuilder.Options options(Path out) {
    return EmojiDatasetBuilder.Options.defaults(out).withCache(root.resolve("cache")).withStyles(STYLES).withSize(32)
        .withShardBytes(2000);
  }

  static BuildReport build(EmojiDatasetBuilder.Options o) {
    return new EmojiDatasetBuilder(npm.fetcher(), npm.pins).build(o);
  }

  static List<String> captions(Path out) {
    try (EmojiDataset ds = EmojiDataset.open(out)) {
      return ds.records().stream().map(EmojiRecord::caption).toList();
    }
  }

  @Test
  void buildsEveryFormatWithCldrCaptions() {
    BuildReport r = build(options(root.resolve("default")));
    assertEquals(List.of("grinning face, noto style", "waving hand, noto style", "cat, noto style", "keycap: #, noto style",
        "black small square, fluent 3d style",
        "grinning face, fluent flat style", "cat, fluent flat style", "dog, fluent flat style", "keycap: #, fluent flat style",
        "grinning face, emojione style", "cat, emojione style", "dog, emojione style", "keycap: #, emojione style"),
        captions(r.out()));
    assertEquals(13, r.images());
    assertEquals(4, r.styles().get("noto").images());
    assertEquals(2, r.styles().get("noto").skipped(), "truncated and garbage PNGs");
    assertEquals(1, r.styles().get("fluent-3d").skipped(), "truncated WebP");
    assertEquals(1, r.styles().get("fluent-flat").skipped(), "malformed SVG");
    try (EmojiDataset ds = EmojiDataset.open(r.out())) {
      EmojiRecord dog = ds.records().stream().filter(x -> x.caption().equals("dog, fluent flat style")).findFirst().orElseThrow();
      assertEquals("MIT", dog.licence());
      assertEquals("1F415", dog.hexcode());
      assertEquals("animals-nature", ds.concept(dog).path("group").asText());
      assertEquals(List.of("pet"), ds.tags(dog));
      RgbaImage img = ds.image(dog.index()); // alias of cat, flipped: blue left, red right
      ImageCodecTest.assertPixel(img, 4, 16, 0, 0, 255, 255);
      ImageCodecTest.assertPixel(img, 27, 16, 255, 0, 0, 255);
      EmojiRecord keycap = ds.records().get(3);
      assertEquals("0023-20E3", keycap.hexcode());
      RgbaImage k = ds.image(keycap.index()); // a 64 px disc scaled to 32: centre is the colour, corner empty
      ImageCodecTest.assertPixel(k, 16, 16, 40, 120, 220, 255);
      assertEquals(0, k.alpha(0, 0));
    }
    assertTrue(Files.exists(r.out().resolve("ATTRIBUTION.md")));
  }

  @Test
  void skinToneModes() {
    List<String> none = captions(build(options(root.resolve("tones-none")).withSkinTones(SkinTones.NONE)
        .withStyles(List.of(EmojiStyle.NOTO))).out());
    assertEquals(List.of("grinning face, noto style", "cat, noto style", "keycap: #, noto style"), none);
    List<String> all = captions(build(options(root.resolve("tones-all")).withSkinTones(SkinTones.ALL)
        .withStyles(List.of(EmojiStyle.NOTO, EmojiStyle.EMOJIONE))).out());
    assertTrue(all.containsAll(List.of("waving hand, noto style", "waving hand: light skin tone, noto style",
        "waving hand: dark skin tone, noto style", "waving hand: dark skin tone, emojione style")), all.toString());
    try (EmojiDataset ds = EmojiDataset.open(root.resolve("tones-all"))) {
      EmojiRecord dark = ds.records().stream().filter(x -> x.label().equals("waving hand: dark skin tone")
          && x.style().equals("noto")).findFirst().orElseThrow();
      assertEquals("dark skin tone", dark.tone());
      assertEquals(ds.records().get(1).concept(), dark.concept(), "a variant belongs to its base concept");
      ImageCodecTest.assertPixel(ds.image(dark.index()), 16, 16, 90, 60, 40, 255);
    }
  }

  @Test
  void corruptPicturesAreSkippedWithAWarningAndCounted() {
    Logger logger = (Logger) LoggerFactory.getLogger(EmojiDatasetBuilder.class);
    ListAppender<ILoggingEvent> app = new ListAppender<>();
    app.start();
    logger.addAppender(app);
    try {
      BuildReport r = build(options(root.resolve("corrupt")).withStyles(List.of(EmojiStyle.NOTO)));
      assertEquals(2, r.skipped());
      List<String> warnings = app.list.stream().filter(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN)
          .map(ILoggingEvent::getFormattedMessage).toList();
      assertEquals(2, warnings.size(), warnings.toString());
      assertTrue(warnings.stream().anyMatch(w -> w.contains("1f415.png") && w.contains("dog")), warnings.toString());
      assertTrue(warnings.stream().anyMatch(w -> w.contains("1f697.png")), warnings.toString());
    } finally {
      logger.detachAppender(app);
    }
  }

  @Test
  void tamperedTarballFailsClearlyAndWritesNothing() throws IOException {
    Path reg = root.resolve("tamper");
    FakeNpm local = new FakeNpm(reg);
    Path t = local.tarball(EmojiStyle.NOTO.npm().name());
    byte[] b = Files.readAllBytes(t);
    b[b.length / 2] ^= 1;
    Files.write(t, b);
    Path out = reg.resolve("out");
    EmojiDatasetBuilder.Options o = options(out).withCache(reg.resolve("cache"));
    IntegrityException e = assertThrows(IntegrityException.class,
        () -> new EmojiDatasetBuilder(local.fetcher(), local.pins).build(o));
    assertTrue(e.getMessage().contains("emoji-datasource-google@0.0.1-test") && e.getMessage().contains("Nothing was written"),
        e.getMessage());
    assertFalse(Files.exists(out));
    try (var s = Files.list(reg)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".out")), "no temporary output left");
    }
  }

  @Test
  void rebuildReusesTheCacheAndIsByteIdentical() throws IOException {
    Path a = build(options(root.resolve("same-a"))).out();
    int fetched = npm.fetches.get();
    Path b = build(options(root.resolve("same-b"))).out();
    assertEquals(fetched, npm.fetches.get(), "second build fetched nothing");
    List<String> files;
    try (var s = Files.list(a)) {
      files = s.map(p -> p.getFileName().toString()).sorted().toList();
    }
    assertTrue(files.contains("images-00001.bin"), "small shards: several of them " + files);
    for (String f : files) assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
  }

  @Test
  void splitIsDeterministicByConceptAndRecorded() throws IOException {
    Splits half = new Splits(3, 0.5, 0.5);
    Path out = build(options(root.resolve("split")).withSplits(half)).out();
    try (EmojiDataset ds = EmojiDataset.open(out)) {
      Map<Integer, List<String>> byConcept = ds.records().stream().collect(
          Collectors.groupingBy(EmojiRecord::concept, Collectors.mapping(EmojiRecord::split, Collectors.toList())));
      for (var e : ds.records()) {
        String hex = ds.concept(e).path("hexcode").asText();
        assertEquals(half.of(hex, e.emojiStyle()), e.split());
        if (e.split().equals(Splits.HELDOUT_CONCEPT))
          assertTrue(byConcept.get(e.concept()).stream().allMatch(Splits.HELDOUT_CONCEPT::equals));
      }
      assertTrue(ds.records().stream().anyMatch(EmojiRecord::isTrain));
      assertTrue(ds.records().stream().anyMatch(r -> !r.isTrain()), "with half held out, some are");
      String splits = Files.readString(out.resolve("splits.json"));
      assertTrue(splits.contains("\"seed\" : 3"), splits);
      // held-out concepts never appear in the training caption corpus
      String corpus = Files.readString(out.resolve("captions-train.txt"));
      for (var e : ds.records())
        assertEquals(e.isTrain(), corpus.contains(e.caption() + "\n"), e.caption());
      String prompts = Files.readString(out.resolve("eval-prompts.jsonl"));
      for (var e : ds.records())
        if (!e.isTrain()) assertTrue(prompts.contains("\"prompt\":\"" + e.caption() + "\""), e.caption());
    }
    // same seed, same answer; another seed, another split
    assertEquals(new Splits(3, 0.5, 0.5).of("1F408", EmojiStyle.NOTO), half.of("1F408", EmojiStyle.NOTO));
    long differs = java.util.stream.IntStream.range(0, 200).filter(i -> new Splits(3, 0.5, 0.2).heldOutConcept("1F" + i)
        != new Splits(4, 0.5, 0.2).heldOutConcept("1F" + i)).count();
    assertTrue(differs > 50, "seeds give different splits: " + differs);
    long held = java.util.stream.IntStream.range(0, 4000).filter(i -> Splits.DEFAULT.heldOutConcept(Integer.toHexString(0x1F000 + i))).count();
    assertTrue(held > 320 && held < 480, "about 10% held out: " + held);
  }

  @Test
  void unknownStyleAndSkinToneAreClearErrors() {
    assertTrue(assertThrows(DatasetException.class, () -> EmojiStyle.parse("apple")).getMessage().contains("noto"));
    assertThrows(DatasetException.class, () -> SkinTones.parse("some"));
    assertEquals(EmojiStyle.FLUENT_3D, EmojiStyle.parse("fluent-3d"));
    var err = new java.io.ByteArrayOutputStream();
    var old = System.err;
    System.setErr(new java.io.PrintStream(err, true));
    try { // the CLI reports it before fetching anything
      assertNotEquals(0, io.d2g.cli.Main.run("data", "emoji", "--styles", "noto,apple", "--no-progress", "--cache",
          root.resolve("cli-cache").toString(), "--out", root.resolve("cli-out").toString()));
    } finally {
      System.setErr(old);
    }
    assertFalse(Files.exists(root.resolve("cli-out")));
    assertFalse(Files.exists(root.resolve("cli-cache")));
  }
}
