package io.d2g.pairs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.InvalidArgumentException;
import io.d2g.data.emoji.EmojiDataset;
import io.d2g.data.emoji.EmojiRecord;
import io.d2g.data.emoji.SceneComposer;
import io.d2g.data.emoji.SpriteAtlas;
import io.d2g.pipelines.TextToImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The prompts of a pair run, deduplicated, each with a stable id: its position in the table (first
 * occurrences kept, in input order), so the same input always gives the same ids. Pair i uses prompt
 * {@link #promptOf(long, long)}: the table in a seeded order, cycled, so N pairs cover the prompts
 * evenly and the assignment depends on (seed, i) alone.
 *
 * <p>Inputs: a text file (one prompt per line; blank lines and lines starting with {@code #}
 * skipped; surrounding white space stripped), a JSON-lines file ({@code .jsonl}: a {@code "prompt"}
 * per line, as {@code samples.jsonl} and {@code eval-prompts.jsonl} have), or the emoji corpus
 * ({@link #emoji}: its training captions and composed scenes of training concepts; held-out prompts
 * never enter). Files must be UTF-8 (a malformed line is refused with its number); a prompt of more
 * than {@link TextToImage#MAX_PROMPT_CHARS} characters is refused; a prompt longer than the text
 * encoder's 77 tokens is truncated when it is encoded, with a logged warning, as diffusers does.
 */
public final class PromptTable {
  private final List<String> prompts;
  private final String sha256;

  private PromptTable(List<String> prompts) {
    this.prompts = List.copyOf(prompts);
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    for (String p : this.prompts) {
      md.update(p.getBytes(StandardCharsets.UTF_8));
      md.update((byte) '\n');
    }
    this.sha256 = HexFormat.of().formatHex(md.digest());
  }

  /** A table of {@code prompts} (stripped, blanks dropped, duplicates after the first dropped). */
  public static PromptTable of(List<String> prompts) {
    LinkedHashSet<String> unique = new LinkedHashSet<>();
    int i = 0;
    for (String p : prompts) {
      if (p == null) throw new InvalidArgumentException("prompt " + i + " is null");
      String s = p.strip();
      if (s.length() > TextToImage.MAX_PROMPT_CHARS)
        throw new InvalidArgumentException("prompt " + i + " has " + s.length() + " characters; at most "
            + TextToImage.MAX_PROMPT_CHARS);
      if (!s.isEmpty()) unique.add(s);
      i++;
    }
    if (unique.isEmpty()) throw new InvalidArgumentException("no prompts: every one was empty");
    return new PromptTable(new ArrayList<>(unique));
  }

  /** The prompts of a text or {@code .jsonl} file (see the class comment). */
  public static PromptTable read(Path file) {
    List<String> out = new ArrayList<>();
    for (Line l : lines(file)) out.add(l.prompt());
    if (out.isEmpty()) throw new InvalidArgumentException(file + " holds no prompts");
    try {
      return of(out);
    } catch (InvalidArgumentException e) {
      throw new InvalidArgumentException(file + ": " + e.getMessage());
    }
  }

  /** One prompt of a prompts file, with its seed when a JSON line gives one (a samples.jsonl does). */
  public record Line(String prompt, Long seed) {}

  /**
   * Every prompt of a text or {@code .jsonl} file in order, duplicates kept: the format the class comment
   * describes (strict UTF-8, blank and {@code #} lines skipped, a JSON line's "prompt" and optional
   * "seed"). Bad lines are refused with their number.
   */
  public static List<Line> lines(Path file) {
    if (!Files.isRegularFile(file)) throw new InvalidArgumentException(file + " is not a file");
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
    boolean jsonl = file.getFileName().toString().endsWith(".jsonl");
    ObjectMapper json = new ObjectMapper();
    List<Line> out = new ArrayList<>();
    var decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    int line = 0;
    for (int start = 0; start < bytes.length; ) {
      int end = start;
      while (end < bytes.length && bytes[end] != '\n') end++;
      line++;
      String text;
      try {
        text = decoder.decode(ByteBuffer.wrap(bytes, start, end - start)).toString();
      } catch (CharacterCodingException e) {
        throw new InvalidArgumentException(file + " line " + line + " is not UTF-8 text");
      }
      start = end + 1;
      if (text.startsWith("\uFEFF") && line == 1) text = text.substring(1); // a byte-order mark
      if (text.isBlank() || text.startsWith("#")) continue;
      if (!jsonl) {
        out.add(new Line(text.strip(), null));
        continue;
      }
      JsonNode row;
      try {
        row = json.readTree(text);
      } catch (IOException e) {
        throw new InvalidArgumentException(file + " line " + line + " is not JSON");
      }
      if (!row.path("prompt").isTextual()) throw new InvalidArgumentException(file + " line " + line + " has no \"prompt\"");
      out.add(new Line(row.path("prompt").asText(), row.path("seed").canConvertToLong() ? row.path("seed").asLong() : null));
    }
    return out;
  }

  /**
   * The emoji corpus's prompts for teacher pairs: every training caption ({@code captions-train.txt})
   * and the captions of {@code scenes} scenes composed from training concepts (the teacher's scene
   * composer with {@code seed}). Held-out concepts and held-out pairs never enter.
   */
  public static PromptTable emoji(Path dataset, int scenes, long seed) {
    if (scenes < 0) throw new InvalidArgumentException("scenes must be 0 or more, not " + scenes);
    List<String> out = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(dataset.resolve("captions-train.txt"), StandardCharsets.UTF_8))
        if (!line.isBlank() && !line.startsWith("#")) out.add(line.contains("\t") ? line.substring(line.indexOf('\t') + 1) : line);
    } catch (IOException e) {
      throw new InvalidArgumentException(dataset + " has no readable captions-train.txt: is it an emoji dataset (d2g data emoji)?");
    }
    if (scenes > 0) {
      try (EmojiDataset ds = EmojiDataset.open(dataset)) {
        SceneComposer composer = new SceneComposer(SpriteAtlas.of(ds, EmojiRecord::isTrain),
            SceneComposer.Options.defaults(ds.manifest().path("size").asInt(64)));
        for (long i = 0; i < scenes; i++) out.add(composer.plan(seed, i).caption());
      }
    }
    return of(out);
  }

  public int size() {
    return prompts.size();
  }

  /** The prompt with this id. */
  public String get(int id) {
    if (id < 0 || id >= prompts.size()) throw new InvalidArgumentException("prompt id " + id + " is not in 0.." + (prompts.size() - 1));
    return prompts.get(id);
  }

  /** All prompts; the list index is the id. */
  public List<String> prompts() {
    return prompts;
  }

  /** SHA-256 of the prompts in id order, each followed by a newline (UTF-8): the table's identity. */
  public String sha256() {
    return sha256;
  }

  /**
   * The prompt id of pair {@code pair} in a run with {@code seed}: position pair mod size of the
   * table in an order shuffled once by the seed (Fisher–Yates, SplittableRandom(seed)).
   */
  public int promptOf(long pair, long seed) {
    if (pair < 0) throw new InvalidArgumentException("pair index must be 0 or more, not " + pair);
    return order(seed)[(int) (pair % prompts.size())];
  }

  /** The shuffled order for one seed, made once and then read by any thread without locking. */
  private record Order(long seed, int[] ids) {}

  private volatile Order order;

  private int[] order(long seed) {
    Order o = order;
    if (o != null && o.seed() == seed) return o.ids();
    int[] ids = new int[prompts.size()];
    for (int i = 0; i < ids.length; i++) ids[i] = i;
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = ids.length - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int t = ids[i];
      ids[i] = ids[j];
      ids[j] = t;
    }
    order = new Order(seed, ids);
    return ids;
  }

  /** The table as JSON lines {@code {"id": k, "prompt": "..."}}, the pairs folder's prompts.jsonl. */
  public String toJsonLines() {
    ObjectMapper json = new ObjectMapper();
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < prompts.size(); i++)
      sb.append(json.createObjectNode().put("id", i).put("prompt", prompts.get(i))).append('\n');
    return sb.toString();
  }

  /** The inverse of {@link #toJsonLines}: ids must run 0, 1, 2, ... */
  public static PromptTable fromJsonLines(Path file) {
    List<String> out = new ArrayList<>();
    ObjectMapper json = new ObjectMapper();
    try {
      int n = 0;
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (line.isBlank()) continue;
        JsonNode row = json.readTree(line);
        if (row.path("id").asInt(-1) != n || !row.path("prompt").isTextual())
          throw new InvalidArgumentException(file + ": line " + (n + 1) + " is not {\"id\": " + n + ", \"prompt\": ...}");
        out.add(row.path("prompt").asText());
        n++;
      }
    } catch (IOException e) {
      throw new InvalidArgumentException("cannot read the prompt table " + file + ": " + e.getMessage());
    }
    PromptTable t = new PromptTable(out);
    if (t.size() != new LinkedHashSet<>(out).size()) throw new InvalidArgumentException(file + " repeats a prompt");
    return t;
  }

  @Override
  public String toString() {
    return "PromptTable[" + prompts.size() + " prompts, sha256 " + sha256.substring(0, 12) + "]";
  }
}
