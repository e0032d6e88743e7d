package io.d2g.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.D2g;
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
