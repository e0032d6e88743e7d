package io.d2g.hub;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.CheckpointException;
import io.d2g.DType;
import io.d2g.Tensor;
import io.d2g.io.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ids against transformers' CLIPTokenizer on the real CLIP vocabulary (test/fixtures/clip-tokenizer). */
class ClipTokenizerTest {
  @TempDir static Path dir;
  static ClipTokenizer sd15;
  static ClipTokenizer sd2;
  static JsonNode reference;

  @BeforeAll
  static void load() throws IOException {
    Path fx = Fixtures.path("clip-tokenizer");
    Path sd15Dir = Files.createDirectories(dir.resolve("sd15"));
    Fixtures.gunzip(fx.resolve("vocab.json.gz"), sd15Dir.resolve("vocab.json"));
    Fixtures.gunzip(fx.resolve("merges.txt.gz"), sd15Dir.resolve("merges.txt"));
    sd15 = ClipTokenizer.load(sd15Dir);
    // SD2's tokenizer folder: the same vocabulary, pad token "!" (as in its special_tokens_map.json)
    Path sd2Dir = Files.createDirectories(dir.resolve("sd2"));
    Files.copy(sd15Dir.resolve("vocab.json"), sd2Dir.resolve("vocab.json"));
    Files.copy(sd15Dir.resolve("merges.txt"), sd2Dir.resolve("merges.txt"));
    Files.writeString(sd2Dir.resolve("tokenizer_config.json"),
        "{\"model_max_length\": 77, \"pad_token\": \"<|endoftext|>\", \"tokenizer_class\": \"CLIPTokenizer\"}");
    Files.writeString(sd2Dir.resolve("special_tokens_map.json"),
        "{\"bos_token\": {\"content\": \"<|startoftext|>\", \"lstrip\": false}, \"pad_token\": \"!\"}");
    sd2 = ClipTokenizer.load(sd2Dir);
    reference = new ObjectMapper().readTree(fx.resolve("reference_ids.json").toFile());
  }

  private static int[] ints(JsonNode a) {
    int[] r = new int[a.size()];
    for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
    return r;
  }

  @Test
  void aPhotoOfACat() {
    assertArrayEquals(new int[] {49406, 320, 1125, 539, 320, 2368, 49407}, sd15.encode("a photo of a cat"));
    assertEquals(List.of("a</w>", "photo</w>", "of</w>", "a</w>", "cat</w>"), sd15.tokenize("a photo of a cat"));
    assertEquals("a photo of a cat", sd15.decode(sd15.encodePadded("a photo of a cat")));
  }

  @Test
  void overLongPromptsAreTruncatedAndSaidSo() {
    String fits = String.join(" ", java.util.Collections.nCopies(75, "cat")); // 75 ids + bos + eos = 77
    String over = fits + " dog";
    assertFalse(sd15.truncates(fits));
    assertTrue(sd15.truncates(over));
    assertEquals(77, sd15.encode(over).length);
    assertEquals(49407, sd15.encode(over)[76], "eos kept at the end");
    assertEquals(1, sd15.warnTruncated(List.of("a photo of a cat", over, "")));
  }

  @Test
  void specialTokensAndLengthsComeFromTheFolder() {
    assertEquals(49408, sd15.vocabSize());
    assertEquals(77, sd15.maxLength());
    assertEquals(49406, sd15.bosId());
    assertEquals(49407, sd15.eosId());
    assertEquals(49407, sd15.padId());
    assertEquals(0, sd2.padId());
    assertEquals("!", sd2.padToken());
  }

  @Test
  void idsMatchTheReferenceOnEveryFixtureString() {
    List<String> failures = new ArrayList<>();
    int n = 0;
    for (JsonNode c : reference.get("cases")) {
      String text = c.get("text").asText();
      check(failures, text, "ids", ints(c.get("ids")), sd15.encode(text));
      check(failures, text, "padded_eos", ints(c.get("padded_eos")), sd15.encodePadded(text));
      check(failures, text, "padded_bang", ints(c.get("padded_bang")), sd2.encodePadded(text));
      int[] full = ints(c.get("ids_untruncated"));
      List<Integer> ours = sd15.tokenIds(text);
      int[] oursFull = new int[ours.size() + 2];
      oursFull[0] = 49406;
      for (int i = 0; i < ours.size(); i++) oursFull[i + 1] = ours.get(i);
      oursFull[oursFull.length - 1] = 49407;
      check(failures, text, "untruncated", full, oursFull);
      n++;
    }
    assertTrue(n >= 30, "fixture has " + n + " strings");
    assertTrue(failures.isEmpty(), String.join("\n", failures));
  }

  private static void check(List<String> failures, String text, String what, int[] want, int[] got) {
    if (!java.util.Arrays.equals(want, got))
      failures.add(what + " of '" + text + "':\n  want " + java.util.Arrays.toString(want) + "\n  got  "
          + java.util.Arrays.toString(got));
  }

  @Test
  void longPromptsAreTruncatedKeepingBosAndEos() {
    String longText = "a ".repeat(200);
    int[] ids = sd15.encode(longText);
    assertEquals(77, ids.length);
    assertEquals(49406, ids[0]);
    assertEquals(49407, ids[76]);
    assertEquals(320, ids[75]);
  }

  @Test
  void batchesBecomeAnI64TensorOfPaddedRows() {
    try (Tensor t = sd2.encodeBatch(List.of("a photo of a cat", ""))) {
      assertEquals(DType.I64, t.dtype());
      assertArrayEquals(new long[] {2, 77}, t.shape());
      long[] v = t.toLongArray();
      assertEquals(49406, v[0]);
      assertEquals(49407, v[6]);
      assertEquals(0, v[7]);
      assertEquals(49406, v[77]);
      assertEquals(49407, v[78]);
      assertEquals(0, v[79]);
    }
  }

  @Test
  void badFoldersAreClearErrors() throws IOException {
    Path empty = Files.createDirectories(dir.resolve("empty"));
    var e = assertThrows(CheckpointException.class, () -> ClipTokenizer.load(empty));
    assertTrue(e.getMessage().contains("vocab.json + merges.txt nor tokenizer.json"), e.getMessage());
    Path bad = Files.createDirectories(dir.resolve("bad"));
    Files.writeString(bad.resolve("vocab.json"), "{\"a</w>\": 0, \"<|startoftext|>\": 1, \"<|endoftext|>\": 2}");
    Files.writeString(bad.resolve("merges.txt"), "#version: 0.2\na b c\n");
    var e2 = assertThrows(CheckpointException.class, () -> ClipTokenizer.load(bad));
    assertTrue(e2.getMessage().contains("merges.txt line 2"), e2.getMessage());
    Files.writeString(bad.resolve("merges.txt"), "#version: 0.2\n");
    Files.writeString(bad.resolve("special_tokens_map.json"), "{\"pad_token\": \"<pad>\"}");
    var e3 = assertThrows(CheckpointException.class, () -> ClipTokenizer.load(bad));
    assertTrue(e3.getMessage().contains("pad token '<pad>' is not in the vocabulary"), e3.getMessage());
    Files.writeString(bad.resolve("vocab.json"), "{\"a\": ");
    assertThrows(CheckpointException.class, () -> ClipTokenizer.load(bad));
  }

  @Test
  void anEmptySpecialTokenIsRefusedInsteadOfLoopingForever() throws IOException {
    Path d = Files.createDirectories(dir.resolve("empty-pad"));
    Files.writeString(d.resolve("vocab.json"), "{\"\": 0, \"a</w>\": 1, \"<|startoftext|>\": 2, \"<|endoftext|>\": 3}");
    Files.writeString(d.resolve("merges.txt"), "#version: 0.2\n");
    Files.writeString(d.resolve("special_tokens_map.json"), "{\"pad_token\": \"\"}");
    var e = assertThrows(CheckpointException.class, () -> ClipTokenizer.load(d));
    assertTrue(e.getMessage().contains("pad token is empty"), e.getMessage());
  }

  @Test
  void aHugeWordCostsLittleAndOnlyTheKeptTokensAreComputed() {
    // a 30,000-letter word once took 18 s (quadratic merging over the whole text); both the merging
    // and the amount of text processed are bounded now
    String word = "ab".repeat(15_000);
    int[] ids = assertTimeoutPreemptively(java.time.Duration.ofSeconds(10), () -> sd15.encode(word + " cat"));
    assertEquals(77, ids.length);
    assertEquals(sd15.bosId(), ids[0]);
    assertEquals(sd15.eosId(), ids[76]);
    String many = "cat ".repeat(200_000);
    assertEquals(77, assertTimeoutPreemptively(java.time.Duration.ofSeconds(10), () -> sd15.encode(many)).length);
  }

  /** The merging as the reference's slow tokenizer writes it: every occurrence of the best pair, repeatedly. */
  private static List<String> slowBpe(ClipTokenizer tok, List<String> symbols, java.util.Map<String, Integer> ranks) {
    while (symbols.size() > 1) {
      int best = Integer.MAX_VALUE, at = -1;
      for (int i = 0; i + 1 < symbols.size(); i++) {
        Integer r = ranks.get(symbols.get(i) + " " + symbols.get(i + 1));
        if (r != null && r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      String a = symbols.get(at), b = symbols.get(at + 1);
      List<String> next = new ArrayList<>();
      for (int i = 0; i < symbols.size(); )
        if (i + 1 < symbols.size() && symbols.get(i).equals(a) && symbols.get(i + 1).equals(b)) {
          next.add(a + b);
          i += 2;
        } else {
          next.add(symbols.get(i++));
        }
      symbols = next;
    }
    return symbols;
  }

  @Test
  void theHeapMergeGivesTheSlowTokenizersTokensOnRandomWords() throws IOException {
    Path merges = dir.resolve("sd15/merges.txt");
    List<String> m;
    try (var in = Files.newInputStream(merges)) {
      m = ClipTokenizer.readMerges(in);
    }
    java.util.Map<String, Integer> ranks = new java.util.HashMap<>();
    for (int i = 0; i < m.size(); i++) ranks.putIfAbsent(m.get(i), i);
    java.util.Random r = new java.util.Random(1);
    String letters = "aabcdeeefghiijklmnoooprrsstttuuvwxyz";
    for (int n = 0; n < 2000; n++) {
      StringBuilder w = new StringBuilder();
      int len = 1 + r.nextInt(n < 1900 ? 12 : 200);
      for (int i = 0; i < len; i++) w.append(letters.charAt(r.nextInt(letters.length())));
      String word = w.toString();
      List<String> symbols = new ArrayList<>();
      for (int i = 0; i < word.length(); i++)
        symbols.add(word.charAt(i) + (i == word.length() - 1 ? "</w>" : ""));
      assertEquals(slowBpe(sd15, symbols, ranks), sd15.tokenize(word), word);
    }
  }
}
