package io.d2g.io;

import static io.d2g.io.OutputsTest.snapshot;
import static org.junit.jupiter.api.Assertions.*;

import io.d2g.ChildJvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every writer of the library (datasets, contact sheets, weights, results, model and tokenizer
 * folders, pipelines, teacher pairs) against the places a user may point it at by mistake: a folder of unrelated
 * files, a regular file, a symbolic link to something elsewhere, a read-only place and a full disk.
 * Nothing outside the writer's own output may change, and a failed write leaves the previous output
 * as it was. The read-only and full-disk cases run the write in a child JVM (without the right to
 * override permissions when the tests run as root; under a 1 KiB file-size limit, which fails writes
 * the way a full disk does).
 */
class WritersSafetyTest {
  @TempDir static Path shared;
  @TempDir Path tmp;

  @BeforeAll
  static void warmCaches() {
    // the fake npm cache and the gunzipped tokenizer are inputs, made once, outside the places under test
    Writers.DATASET.run(shared.resolve("warm"), false, shared, 1);
    Writers.TOKENIZER.run(shared.resolve("warm-tok"), false, shared, 1);
  }

  private static void refused(Writers w, Path target, Path watched) throws IOException {
    Map<String, String> before = snapshot(watched);
    assertThrows(RuntimeException.class, () -> w.run(target, true, shared, 2), w + " must refuse " + target);
    assertEquals(before, snapshot(watched), w + " changed something it did not create");
  }

  @ParameterizedTest
  @EnumSource(Writers.class)
  void aFolderOfUnrelatedFilesIsLeftAlone(Writers w) throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("mine"));
    Files.writeString(dir.resolve("notes.txt"), "unrelated");
    Files.createDirectories(dir.resolve("photos")).resolve("a.jpg");
    Files.writeString(dir.resolve("photos/a.jpg"), "jpeg");
    refused(w, dir, tmp);
  }

  @ParameterizedTest
  @EnumSource(Writers.class)
  void aRegularFileIsLeftAlone(Writers w) throws IOException {
    Path file = Files.writeString(tmp.resolve("precious.bin"), "irreplaceable");
    refused(w, file, tmp);
  }

  @ParameterizedTest
  @EnumSource(Writers.class)
  void aSymbolicLinkToSomethingElsewhereIsLeftAlone(Writers w) throws IOException {
    Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
    Path pointee;
    if (w.folder) {
      pointee = Files.createDirectories(elsewhere.resolve("home-folder"));
      Files.writeString(pointee.resolve(".bashrc"), "settings");
    } else {
      pointee = Files.writeString(elsewhere.resolve("id_rsa"), "secret");
    }
    Path link = Files.createSymbolicLink(tmp.resolve("out"), pointee);
    refused(w, link, tmp);
    assertTrue(Files.isSymbolicLink(link));
  }

  @ParameterizedTest
  @EnumSource(Writers.class)
  void aReadOnlyPlaceFailsCleanly(Writers w) throws Exception {
    Path parent = Files.createDirectories(tmp.resolve("ro"));
    Path target = parent.resolve("out");
    w.run(target, false, shared, 1);
    Map<String, String> before = snapshot(tmp);
    setWritable(parent, false);
    try {
      Probe p = Probe.run(w, target, 2, null, true);
      assertEquals(3, p.exit, p.output);
      assertTrue(p.output.contains("refused:"), p.output);
      assertEquals(before, snapshot(tmp), w + ": the previous output must be intact");
      Probe fresh = Probe.run(w, parent.resolve("new"), 2, null, true);
      assertEquals(3, fresh.exit, fresh.output);
    } finally {
      setWritable(parent, true);
    }
    assertEquals(before, snapshot(tmp));
  }

  @ParameterizedTest
  @EnumSource(Writers.class)
  void aFullDiskFailsCleanlyAndKeepsThePreviousOutput(Writers w) throws Exception {
    Path target = tmp.resolve("out");
    w.run(target, false, shared, 1);
    Map<String, String> before = snapshot(tmp);
    Probe p = Probe.run(w, target, 2, 1, false);
    assertEquals(3, p.exit, p.output);
    assertTrue(p.output.contains("File too large"), p.output);
    assertEquals(before, snapshot(tmp), w + ": the previous output must be intact, and no temporary file left");
    // and without the limit the same write goes through
    Probe ok = Probe.run(w, target, 2, null, false);
    assertEquals(0, ok.exit, ok.output);
    assertNotEquals(before, snapshot(tmp));
  }

  private static void setWritable(Path root, boolean writable) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.filter(Files::isDirectory).toList())
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(writable ? "rwxr-xr-x" : "r-xr-xr-x"));
    }
  }

  /** A {@link WriterProbe} run in a child JVM. */
  record Probe(int exit, String output) {
    static Probe run(Writers w, Path target, int variant, Integer fileSizeLimitKiB, boolean withoutOverride)
        throws IOException, InterruptedException {
      List<String> java = ChildJvm.command(List.of("-Dd2g.fixtures=" + Fixtures.root()), WriterProbe.class,
          w.name(), target.toString(), shared.toString(), "" + variant);
      StringBuilder cmd = new StringBuilder();
      if (fileSizeLimitKiB != null) cmd.append("ulimit -f ").append(fileSizeLimitKiB).append("; ");
      cmd.append("exec");
      for (String a : java) cmd.append(" '").append(a.replace("'", "'\\''")).append("'");
      List<String> full = new ArrayList<>();
      if (withoutOverride && "root".equals(System.getProperty("user.name"))) {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")),
            "running as root: setpriv is needed to take away the right to override permissions");
        full.addAll(List.of("/usr/bin/setpriv", "--bounding-set=-dac_override,-dac_read_search",
            "--inh-caps=-dac_override,-dac_read_search", "--"));
      }
      full.addAll(List.of("bash", "-c", cmd.toString()));
      Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail("the probe did not finish: " + out);
      }
      return new Probe(p.exitValue(), out);
    }
  }
}
