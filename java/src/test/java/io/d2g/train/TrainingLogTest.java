package io.d2g.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.InvalidArgumentException;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A JSON-lines log and its curves: appended lines read back, a PNG of the asked size, clear refusals. */
class TrainingLogTest {
  @Test
  void logsAndPlots(@TempDir Path dir) throws Exception {
    Path log = dir.resolve("metrics.jsonl");
    ObjectMapper om = new ObjectMapper();
    for (int s = 1; s <= 50; s++)
      TrainingLog.append(log, om.createObjectNode().put("step", s).put("loss", 1.0 / s).put("grad_norm", 2 + Math.sin(s)));
    assertEquals(50, Files.readAllLines(log).size());
    Path png = TrainingLog.plot(log, List.of("loss", "grad_norm"), "test run", dir.resolve("curves.png"));
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(800, img.getWidth());
    assertEquals(450, img.getHeight());
    TrainingLog.plot(log, List.of("loss"), "again", dir.resolve("curves.png")); // replaces its own picture
    var e = assertThrows(InvalidArgumentException.class, () -> TrainingLog.plot(log, List.of("accuracy"), "x", dir.resolve("a.png")));
    assertTrue(e.getMessage().contains("no numeric \"accuracy\""), e.getMessage());
    assertThrows(InvalidArgumentException.class, () -> TrainingLog.append(log, om.createObjectNode().put("loss", 1)));
    assertThrows(InvalidArgumentException.class, () -> TrainingLog.plot(dir.resolve("none.jsonl"), List.of("loss"), "x",
        dir.resolve("b.png")));
    // At the end of a run: no log is no curve, a log is a curve, a refusal still stands.
    assertFalse(TrainingLog.plotIfPossible(dir.resolve("none.jsonl"), List.of("loss"), "x", dir.resolve("c.png")));
    assertFalse(Files.exists(dir.resolve("c.png")));
    assertTrue(TrainingLog.plotIfPossible(log, List.of("loss"), "x", dir.resolve("c.png")));
    assertTrue(Files.isRegularFile(dir.resolve("c.png")));
    Files.writeString(dir.resolve("mine.png"), "not a curve");
    assertThrows(io.d2g.io.OutputException.class, () -> TrainingLog.plotIfPossible(log, List.of("loss"), "x", dir.resolve("mine.png")));
    assertEquals("not a curve", Files.readString(dir.resolve("mine.png")));
  }
}
