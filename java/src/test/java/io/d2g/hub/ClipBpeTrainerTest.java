package io.d2g.hub;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.InvalidArgumentException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A compact CLIP vocabulary learnt from captions: its layout, determinism, fallback and round trip. */
class ClipBpeTrainerTest {
  static final List<String> CAPTIONS = new ArrayList<>();

  static {
    String[] labels = {"red apple", "green apple", "cat face", "dog face", "hot springs", "smiling face"};
    String[] styles = {"noto style", "twemoji style", "fluent 3d style"};
    for (String l : labels)
      for (String s : styles) CAPTIONS.add(l + ", " + s);
    CAPTIONS.add("a cat to the left of a red car on a blue background, noto style");
  }

  @Test
  void frequentWordsBecomeTokensAndAnyTextStillEncodes() {
    ClipTokenizer tok = ClipBpeTrainer.train(CAPTIONS, 600, 2);
    assertTrue(tok.vocabSize() <= 600, tok.toString());
    assertEquals(List.of("apple</w>"), tok.tokenize("apple"), "a frequent word is one token");
    assertEquals(List.of("style</w>"), tok.tokenize("Style"), "after lower-casing");
    // a word never seen splits into known pieces, down to bytes: no unknown token
    List<String> unseen = tok.tokenize("zebra ñu");
    assertFalse(unseen.contains("<|endoftext|>"), unseen.toString());
    assertEquals("zebra ñu", tok.decode(tok.encode("zebra ñu")).trim().replaceAll("\\s+", " "));
    assertEquals(List.of("zebra", "ñu"), tok.unseenWords("a Zebra, zebra, ñu, noto style"), "each unseen word once");
    assertEquals(List.of(), tok.unseenWords("a red apple, cat face, fluent 3d style"));
    // CLIP's layout: bytes, bytes + </w>, merges, then the two special tokens
    assertEquals(0, tok.vocab().get("!"));
    assertEquals(256, tok.vocab().get("!</w>"));
    assertEquals(tok.vocabSize() - 1, tok.vocab().get("<|endoftext|>"));
    assertEquals(tok.vocabSize() - 2, tok.vocab().get("<|startoftext|>"));
  }

  @Test
  void trainingIsDeterministicAndTheFolderRoundTrips(@TempDir Path dir) {
    ClipTokenizer a = ClipBpeTrainer.train(CAPTIONS, 700, 1), b = ClipBpeTrainer.train(CAPTIONS, 700, 1);
    assertEquals(a.vocab(), b.vocab());
    a.save(dir.resolve("tokenizer"));
    ClipTokenizer c = ClipTokenizer.load(dir.resolve("tokenizer"));
    for (String s : CAPTIONS) assertEquals(a.tokenIds(s), c.tokenIds(s), s);
    assertThrows(InvalidArgumentException.class, () -> ClipBpeTrainer.train(CAPTIONS, 100, 1));
  }
}
