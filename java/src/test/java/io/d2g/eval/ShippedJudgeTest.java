package io.d2g.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.hub.DiffusersFolder;
import io.d2g.models.ImageTextJudge;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The judge in {@code models/judge} still gives the figures recorded for it: the fixed sample folder
 * {@code judge-fixture} (32 composed scenes of held-out concepts, written by {@code ./d2g data scenes
 * --held-out}) graded now, against row {@code judge-fixture} of {@code benchmarks/results/eval.json}
 * (written by {@code ./d2g tables} when the judge was shipped). Every figure that needs no dataset is
 * compared: the values and their bootstrap bounds.
 */
class ShippedJudgeTest {
  static Path repo() {
    return Path.of(System.getProperty("d2g.header")).toAbsolutePath().getParent().getParent().getParent();
  }

  @Test
  void theShippedJudgeReproducesItsRecordedFigures() throws IOException {
    Path root = repo();
    JsonNode recorded = new ObjectMapper().readTree(root.resolve("benchmarks/results/eval.json").toFile())
        .path("models").path("judge-fixture");
    assertTrue(recorded.isObject(), "benchmarks/results/eval.json has no judge-fixture row");
    SampleSet fixture = SampleSet.open(root.resolve("java/src/test/resources/io/d2g/eval/judge-fixture"));
    ObjectNode now;
    try (ImageTextJudge judge = DiffusersFolder.load(root.resolve("models/judge"), ImageTextJudge.FAMILY)) {
      int rounds = recorded.path("rounds").asInt(1000);
      now = Evaluation.evaluate(judge, fixture, null, null, new JudgeMetrics.Interval(rounds, recorded.path("seed").asLong()));
    }
    assertEquals(recorded.path("samples").asInt(), now.path("samples").asInt());
    for (String metric : new String[] {"text_image_score", "prompt_retrieval_top1"})
      for (String field : new String[] {"value", "low", "high"})
        assertEquals(recorded.path(metric).path(field).asDouble(), now.path(metric).path(field).asDouble(), 1e-4,
            metric + "." + field);
  }
}
