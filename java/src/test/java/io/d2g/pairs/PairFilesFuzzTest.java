package io.d2g.pairs;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.d2g.D2gException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The pairs' own files read back from disk, whatever they hold: a manifest.json is read and compared
 * with a run's settings, a prompts file (text or JSON lines) is read into a table, or either is refused
 * with a {@link D2gException}; never another exception. Regression inputs: PairFilesFuzzTestInputs.
 */
class PairFilesFuzzTest {
  private static final Path DIR = io.d2g.fuzz.FuzzDirs.create("d2g-fuzz-pairs");

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void readManifestsAndPrompts(byte[] data) throws IOException {
    Path manifest = DIR.resolve("manifest.json"), prompts = DIR.resolve("prompts.txt"), jsonl = DIR.resolve("prompts.jsonl");
    Files.write(manifest, data);
    Files.write(prompts, data);
    Files.write(jsonl, data);
    try {
      try {
        PairManifest.differences(PairManifest.read(manifest), PairManifest.newObject().put("format", PairManifest.FORMAT));
      } catch (D2gException expected) {
        // refused with a clear message
      }
      for (Path p : new Path[] {prompts, jsonl}) {
        try {
          PromptTable t = PromptTable.read(p);
          if (t.size() > 0) t.promptOf(data.length, 7);
          t.toJsonLines();
        } catch (D2gException expected) {
          // refused with a clear message
        }
      }
    } finally {
      Files.deleteIfExists(manifest);
      Files.deleteIfExists(prompts);
      Files.deleteIfExists(jsonl);
    }
  }
}
