package io.d2g.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.d2g.D2gException;
import io.d2g.Tensor;
import io.d2g.hub.ClipTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The CLIP BPE tokenizer on what users type and on what tokenizer folders hold. Any text encodes to at
 * most the context length of ids inside the vocabulary, quickly (the work per word is bounded); any
 * vocab.json / merges.txt / tokenizer_config.json either loads into a tokenizer that encodes, or is
 * refused with a {@link D2gException}. Regression inputs: TokenizerFuzzTestInputs.
 */
class TokenizerFuzzTest {
  private static final ClipTokenizer SHIPPED = ClipTokenizer.load(root().resolve("models/emoji-teacher/tokenizer"));
  private static final Path DIR = FuzzDirs.create("d2g-fuzz-tokenizer");

  private static Path root() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
      if (Files.isDirectory(p.resolve("models/emoji-teacher/tokenizer"))) return p;
    throw new IllegalStateException("models/emoji-teacher/tokenizer not found");
  }

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void encodeAnyText(String text) {
    if (text == null) return;  // Jazzer's null, not typed text
    int[] ids = SHIPPED.encode(text);
    assertTrue(ids.length <= SHIPPED.maxLength(), ids.length + " ids");
    for (int id : ids) assertTrue(id >= 0 && id < SHIPPED.vocabSize(), "id " + id);
  }

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void loadAnyTokenizerFolder(FuzzedDataProvider data) throws IOException {
    Path dir = Files.createDirectories(DIR.resolve("t"));
    try {
      Files.writeString(dir.resolve("vocab.json"), data.consumeString(2000));
      Files.writeString(dir.resolve("merges.txt"), data.consumeString(2000));
      if (data.consumeBoolean()) Files.writeString(dir.resolve("tokenizer_config.json"), data.consumeString(500));
      String text = data.consumeRemainingAsString();
      try {
        ClipTokenizer t = ClipTokenizer.load(dir);
        int[] ids = t.encode(text);
        assertTrue(ids.length <= t.maxLength(), ids.length + " ids");
        try (Tensor batch = t.encodeBatch(List.of(text, "a cat"))) {
          assertTrue(batch.shape()[0] == 2);
        }
      } catch (D2gException expected) {
        // a clear error for a bad folder or text
      }
    } finally {
      FuzzDirs.empty(dir);
    }
  }
}
