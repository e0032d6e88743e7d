package io.d2g.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.D2g;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

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
