package io.d2g.io;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rules of {@link Outputs}, on a folder kind and a file kind made for the test. */
class OutputsTest {
  @TempDir Path tmp;

  /** A folder output: "stamp" says "ours"; "part-N" files are its own; nothing else. */
  static final OutputKind FOLDER = new OutputKind() {
    @Override
    public String description() {
      return "test folder";
    }

    @Override
    public boolean recognises(Path dir) throws IOException {
      Path stamp = dir.resolve("stamp");
      if (!Files.isRegularFile(stamp) || !Files.readString(stamp).equals("ours")) return false;
      return replaceableWhenForced(dir);
    }

    @Override
    public boolean replaceableWhenForced(Path dir) throws IOException {
      try (Stream<Path> s = Files.list(dir)) {
        return s.allMatch(p -> p.getFileName().toString().matches("stamp|part-\\d+"));
      }
    }
  };

  /** Writes a complete test folder output with the given payload. */
  static Path writeFolder(Path target, String payload, boolean force) throws IOException {
    try (Outputs.StagedFolder f = Outputs.stageFolder(target, FOLDER, force)) {
      Files.writeString(f.dir().resolve("part-0"), payload);
      Files.writeString(f.dir().resolve("stamp"), "ours");
      return f.commit();
    }
  }

  /** Every file below {@code root} (links not followed) with its bytes or link target. */
  static Map<String, String> snapshot(Path root) throws IOException {
    Map<String, String> m = new TreeMap<>();
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) return m;
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.toList()) {
        String key = root.relativize(p).toString();
        if (Files.isSymbolicLink(p)) m.put(key, "-> " + Files.readSymbolicLink(p));
        else if (Files.isRegularFile(p)) m.put(key, Files.readString(p, StandardCharsets.ISO_8859_1));
        else m.put(key + "/", "");
      }
    }
    return m;
  }

  /** Names in {@code dir} that start with a dot: temporary files left behind. */
  static long leftovers(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().startsWith(".")).count();
    }
  }

  @Test
  void aNewFolderIsWrittenWhole() throws IOException {
    Path out = writeFolder(tmp.resolve("a/b/out"), "one", false);
    assertEquals(tmp.resolve("a/b/out").toRealPath(), out);
    assertEquals(Map.of("part-0", "one", "stamp", "ours"), withoutDirs(snapshot(out)));
    assertEquals(0, leftovers(out.getParent()));
  }

  @Test
  void anEarlierOutputOfTheKindIsReplacedAndAnEmptyFolderToo() throws IOException {
    Path out = tmp.resolve("out");
    writeFolder(out, "one", false);
    writeFolder(out, "two", false);
    assertEquals("two", Files.readString(out.resolve("part-0")));
    assertEquals(0, leftovers(tmp));
    Path empty = Files.createDirectory(tmp.resolve("empty"));
    writeFolder(empty, "three", false);
    assertEquals("three", Files.readString(empty.resolve("part-0")));
  }

  @Test
  void aFolderWithOtherFilesIsRefusedAndUntouched() throws IOException {
    Path out = Files.createDirectory(tmp.resolve("mine"));
    Files.writeString(out.resolve("thesis.tex"), "years of work");
    Files.writeString(out.resolve("stamp"), "ours");
    Map<String, String> before = snapshot(tmp);
    var e = assertThrows(OutputException.class, () -> writeFolder(out, "x", true));
    assertTrue(e.getMessage().contains("thesis.tex") && e.getMessage().contains("not a test folder"), e.getMessage());
    assertEquals(before, snapshot(tmp), "nothing changed, no temporary folder left");
  }

  @Test
  void aRegularFileWhereAFolderGoesIsRefused() throws IOException {
    Path file = Files.writeString(tmp.resolve("out"), "a file");
    Map<String, String> before = snapshot(tmp);
    var e = assertThrows(OutputException.class, () -> writeFolder(file, "x", true));
    assertTrue(e.getMessage().contains("not a folder"), e.getMessage());
    assertEquals(before, snapshot(tmp));
  }

  @Test
  void anOlderOrDamagedOutputNeedsForceAndNothingElseIsForced() throws IOException {
    Path out = Files.createDirectory(tmp.resolve("old"));
    Files.writeString(out.resolve("part-0"), "from an older version");
    Files.writeString(out.resolve("stamp"), "older");
    var e = assertThrows(OutputException.class, () -> writeFolder(out, "new", false));
    assertTrue(e.getMessage().contains("--force"), e.getMessage());
    assertEquals("from an older version", Files.readString(out.resolve("part-0")));
    writeFolder(out, "new", true);
    assertEquals("new", Files.readString(out.resolve("part-0")));
  }

  @Test
  void theRootHomeAndWorkingFolderAndTheirParentsAreNeverOutputs() throws IOException {
    Path cwd = Path.of("").toAbsolutePath();
    for (Path p : new Path[] {cwd, cwd.getParent(), Path.of(System.getProperty("user.home")), cwd.getRoot()}) {
      var e = assertThrows(OutputException.class, () -> writeFolder(p, "x", true), p.toString());
      assertTrue(e.getMessage().contains("nothing was written"), e.getMessage());
    }
    String home = System.getProperty("user.home");
    try {
      Path fakeHome = Files.createDirectories(tmp.resolve("home/user"));
      System.setProperty("user.home", fakeHome.toString());
      assertThrows(OutputException.class, () -> writeFolder(fakeHome, "x", true));
      assertThrows(OutputException.class, () -> writeFolder(fakeHome.getParent(), "x", true));
      assertEquals(Map.of("home/", "", "home/user/", ""), snapshot(tmp).entrySet().stream()
          .filter(x -> !x.getKey().isEmpty() && !x.getKey().equals("/"))
          .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)));
    } finally {
      System.setProperty("user.home", home);
    }
  }

  @Test
  void aLinkToAForeignFolderIsRefusedAndALinkToAnOutputIsFollowed() throws IOException {
    Path elsewhere = Files.createDirectory(tmp.resolve("elsewhere"));
    Files.writeString(elsewhere.resolve("photo.jpg"), "family");
    Path link = Files.createSymbolicLink(tmp.resolve("link"), elsewhere);
    Map<String, String> before = snapshot(tmp);
    assertThrows(OutputException.class, () -> writeFolder(link, "x", true));
    assertEquals(before, snapshot(tmp));

    Path real = writeFolder(tmp.resolve("real"), "one", false);
    Path link2 = Files.createSymbolicLink(tmp.resolve("link2"), real);
    assertEquals(real, writeFolder(link2, "two", false));
    assertTrue(Files.isSymbolicLink(link2), "the link itself stays");
    assertEquals("two", Files.readString(real.resolve("part-0")));

    Path dangling = Files.createSymbolicLink(tmp.resolve("dangling"), tmp.resolve("nowhere"));
    var e = assertThrows(OutputException.class, () -> writeFolder(dangling, "x", false));
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    assertFalse(Files.exists(tmp.resolve("nowhere")));
  }

  @Test
  void aFailedWriteLeavesThePreviousOutputAndNoTemporaryFolder() throws IOException {
    Path out = writeFolder(tmp.resolve("out"), "good", false);
    Map<String, String> before = snapshot(tmp);
    assertThrows(IllegalStateException.class, () -> {
      try (Outputs.StagedFolder f = Outputs.stageFolder(out, FOLDER, false)) {
        Files.writeString(f.dir().resolve("part-0"), "half");
        throw new IllegalStateException("the writer failed");
      }
    });
    assertEquals(before, snapshot(tmp));
  }

  @Test
  void whatAKilledRunLeftIsRemovedButNothingElse() throws IOException, InterruptedException {
    Process p = new ProcessBuilder("true").start();
    p.waitFor();
    long dead = p.pid();
    Path staging = Files.createDirectory(tmp.resolve(".out.d2g-partial-" + dead + "-0000"));
    Files.writeString(staging.resolve(Outputs.STAGING_MARKER), "x");
    Files.writeString(staging.resolve("part-0"), "half");
    Path file = Files.writeString(tmp.resolve(".out.d2g-partial-" + dead + "-0001"), "half a file");
    Path foreign = Files.createDirectory(tmp.resolve(".out.d2g-partial-" + dead + "-0002"));
    Files.writeString(foreign.resolve("notes"), "not ours");
    Path alive = Files.createDirectory(tmp.resolve(".out.d2g-partial-" + ProcessHandle.current().pid() + "-0003"));
    Files.writeString(alive.resolve(Outputs.STAGING_MARKER), "x");
    writeFolder(tmp.resolve("out"), "one", false);
    assertFalse(Files.exists(staging));
    assertFalse(Files.exists(file));
    assertTrue(Files.exists(foreign.resolve("notes")), "a folder that is not recognisably ours stays");
    assertTrue(Files.exists(alive), "a live process's staging folder stays");
  }

  // ---- files ----

  static final OutputKind RESULTS = OutputKind.results("d2g OutputsTest");

  @Test
  void aFileIsWrittenAtomicallyAndReplacesOnlyItsOwnKind() throws IOException {
    Path f = tmp.resolve("r/results.json");
    Outputs.writeResults(f, "d2g OutputsTest", false, Map.of("x", 1));
    assertTrue(Files.readString(f).contains("\"producer\" : \"d2g OutputsTest\""), Files.readString(f));
    Outputs.writeResults(f, "d2g OutputsTest", false, Map.of("x", 2));
    assertTrue(Files.readString(f).contains("\"x\" : 2"));
    assertEquals(0, leftovers(f.getParent()));

    var e = assertThrows(OutputException.class, () -> Outputs.writeResults(f, "d2g Other", false, Map.of("x", 3)));
    assertTrue(e.getMessage().contains("not recognisably a results file of d2g Other"), e.getMessage());
    Outputs.writeResults(f, "d2g Other", true, Map.of("x", 3));
    assertTrue(Files.readString(f).contains("\"x\" : 3"), "forced: any JSON object");

    Path notes = Files.writeString(tmp.resolve("notes.txt"), "plain text");
    assertThrows(OutputException.class, () -> Outputs.writeResults(notes, "d2g OutputsTest", true, Map.of()));
    assertEquals("plain text", Files.readString(notes));
    Path dir = Files.createDirectory(tmp.resolve("dir.json"));
    var e2 = assertThrows(OutputException.class, () -> Outputs.writeResults(dir, "d2g OutputsTest", true, Map.of()));
    assertTrue(e2.getMessage().contains("is a folder"), e2.getMessage());
  }

  @Test
  void aFailedFileWriteKeepsTheOldFile() throws IOException {
    Path f = tmp.resolve("results.json");
    Outputs.writeResults(f, "d2g OutputsTest", false, Map.of("x", 1));
    String before = Files.readString(f);
    assertThrows(OutputException.class, () -> Outputs.writeFile(f, RESULTS, false, out -> {
      out.write("{\"half".getBytes());
      throw new IOException("No space left on device");
    }));
    assertEquals(before, Files.readString(f));
    assertEquals(0, leftovers(tmp));
  }

  @Test
  void aFileThroughALinkIsWrittenWhereTheLinkPointsAndTheLinkStays() throws IOException {
    Path real = tmp.resolve("real.json");
    Outputs.writeResults(real, "d2g OutputsTest", false, Map.of("x", 1));
    Path link = Files.createSymbolicLink(tmp.resolve("link.json"), real);
    Outputs.writeResults(link, "d2g OutputsTest", false, Map.of("x", 2));
    assertTrue(Files.isSymbolicLink(link));
    assertTrue(Files.readString(real).contains("\"x\" : 2"));
    Path secret = Files.writeString(tmp.resolve("secret"), "key");
    Path link2 = Files.createSymbolicLink(tmp.resolve("link2.json"), secret);
    assertThrows(OutputException.class, () -> Outputs.writeResults(link2, "d2g OutputsTest", true, Map.of()));
    assertEquals("key", Files.readString(secret));
  }

  @Test
  void aPreparedFolderMustBeNewEmptyOrOfItsKind() throws IOException {
    OutputKind kind = OutputKind.filesFolder("component", java.util.Set.of("config.json"), n -> n.endsWith(".json"));
    Path fresh = Outputs.prepareFolder(tmp.resolve("c"), kind, false);
    assertTrue(Files.isDirectory(fresh));
    Files.writeString(fresh.resolve("config.json"), "{}");
    assertEquals(fresh, Outputs.prepareFolder(fresh, kind, false));
    Files.writeString(fresh.resolve("README.md"), "mine");
    assertThrows(OutputException.class, () -> Outputs.prepareFolder(fresh, kind, false));
  }

  @Test
  void pngTextMarksD2gPictures() throws IOException {
    var img = new java.awt.image.BufferedImage(3, 2, java.awt.image.BufferedImage.TYPE_INT_ARGB);
    img.setRGB(1, 1, 0xff123456);
    var bytes = new java.io.ByteArrayOutputStream();
    javax.imageio.ImageIO.write(img, "png", bytes);
    byte[] png = bytes.toByteArray();
    byte[] marked = Png.withText(png, "Software", Png.SOFTWARE);
    var back = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(marked));
    assertEquals(0xff123456, back.getRGB(1, 1), "still a valid PNG with the same pixels");
    assertEquals("d2g", Png.software(new java.io.ByteArrayInputStream(marked)));
    assertEquals("", Png.software(new java.io.ByteArrayInputStream(png)));
  }

  private static Map<String, String> withoutDirs(Map<String, String> m) {
    Map<String, String> r = new TreeMap<>(m);
    r.keySet().removeIf(k -> k.endsWith("/") || k.isEmpty());
    return r;
  }
}
