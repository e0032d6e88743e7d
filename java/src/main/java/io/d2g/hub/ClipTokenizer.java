package io.d2g.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.CheckpointException;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CLIP's byte-level BPE tokenizer, as transformers' {@code CLIPTokenizer} runs it (the one
 * diffusers' Stable Diffusion pipelines use), on a {@code vocab.json} + {@code merges.txt} pair:
 *
 * <ol>
 *   <li>special tokens (bos, eos, unk, pad) are split out of the raw text first and map straight
 *       to their ids; so with SD2's pad token "!", every "!" in a prompt becomes id 0, as in the
 *       reference;
 *   <li>the rest is normalised: Unicode NFC, every run of whitespace to one space, lower case per
 *       code point (no ftfy, no HTML unescaping: the reference does neither);
 *   <li>split into words with CLIP's pattern {@code 's|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+}
 *       (letters runs, single digits, punctuation runs; whitespace dropped);
 *   <li>each word's UTF-8 bytes are mapped to printable characters (GPT-2's byte table), the last
 *       one gets the end-of-word suffix {@code </w>}, and merges are applied lowest rank first;
 *   <li>the ids are wrapped in bos (49406) ... eos (49407), truncated to {@code maxLength} (77)
 *       keeping bos and eos, and, where asked, padded to {@code maxLength} with the pad token.
 * </ol>
 *
 * Immutable and thread-safe.
 */
public final class ClipTokenizer {
  /**
   * CLIP's word pattern, with Unicode classes. The reference's Split pattern also lists the lower-cased
   * special-token texts, but transformers 5's byte-level pre-tokenizer then splits those pieces again
   * (into "<|", letters, "|>"), so they end up exactly as this pattern splits them.
   */
  private static final Pattern WORDS = Pattern.compile("'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
      Pattern.UNICODE_CHARACTER_CLASS);
  private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);
  private static final String END_OF_WORD = "</w>";
  private static final char[] BYTE_TO_CHAR = byteToUnicode();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int CACHE_LIMIT = 100_000;

  private final Map<String, Integer> vocab;
  private final String[] idToToken;
  private final Map<String, Integer> mergeRanks; // "a b" -> rank
  private final List<String> merges;
  private final String bosToken, eosToken, unkToken, padToken;
  private final int bosId, eosId, unkId, padId;
  private final int maxLength;
  private final List<String> specials; // longest first
  private final Map<String, int[]> cache = new ConcurrentHashMap<>();

  private ClipTokenizer(Map<String, Integer> vocab, List<String> merges, String bos, String eos, String unk,
      String pad, int maxLength) {
    if (maxLength < 2) throw new InvalidArgumentException("maxLength must be at least 2 (bos and eos), got " + maxLength);
    this.vocab = Collections.unmodifiableMap(new HashMap<>(vocab));
    int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
    this.idToToken = new String[maxId + 1];
    vocab.forEach((t, i) -> {
      if (i < 0) throw new InvalidArgumentException("vocabulary id of '" + t + "' is negative: " + i);
      idToToken[i] = t;
    });
    Map<String, Integer> ranks = new HashMap<>(merges.size() * 2);
    for (int i = 0; i < merges.size(); i++) ranks.putIfAbsent(merges.get(i), i);
    this.mergeRanks = ranks;
    this.merges = List.copyOf(merges);
    this.bosToken = bos;
    this.eosToken = eos;
    this.unkToken = unk;
    this.padToken = pad;
    for (String[] t : new String[][] {{bos, "bos"}, {eos, "eos"}, {unk, "unk"}, {pad, "pad"}})
      if (t[0] == null || t[0].isBlank())
        throw new InvalidArgumentException("the " + t[1] + " token is empty; a special token is a non-blank text");
    this.bosId = id(bos, "bos");
    this.eosId = id(eos, "eos");
    this.unkId = id(unk, "unk");
    this.padId = id(pad, "pad");
    this.maxLength = maxLength;
    LinkedHashSet<String> sp = new LinkedHashSet<>(List.of(bos, eos, unk, pad));
    List<String> s = new ArrayList<>(sp);
    s.sort(Comparator.comparingInt(String::length).reversed());
    this.specials = List.copyOf(s);
  }

  private int id(String token, String what) {
    Integer i = vocab.get(token);
    if (i == null)
      throw new InvalidArgumentException("the " + what + " token '" + token + "' is not in the vocabulary");
    return i;
  }

  // ---- loading -----------------------------------------------------------------------------------

  /** A tokenizer from its parts; SD1.5's settings are bos {@code <|startoftext|>}, eos = unk = pad {@code <|endoftext|>}, 77. */
  public static ClipTokenizer of(Map<String, Integer> vocab, List<String> merges, String padToken, int maxLength) {
    return new ClipTokenizer(vocab, merges, "<|startoftext|>", "<|endoftext|>", "<|endoftext|>", padToken, maxLength);
  }

  /**
   * Loads a diffusers/transformers {@code tokenizer/} folder: {@code vocab.json} and {@code
   * merges.txt} (transformers 4), or {@code tokenizer.json} alone (transformers 5 saves only that and
   * {@code tokenizer_config.json}); and where present {@code tokenizer_config.json} and {@code
   * special_tokens_map.json} for the special tokens (SD1.5 pads with {@code <|endoftext|>}, SD2 with
   * {@code !}; plain strings or {@code {"content": ...}} objects) and {@code model_max_length} (77 when
   * absent).
   */
  public static ClipTokenizer load(Path dir) {
    Path vocabFile = dir.resolve("vocab.json");
    Path mergesFile = dir.resolve("merges.txt");
    Path tokenizerJson = dir.resolve("tokenizer.json");
    boolean pair = Files.isRegularFile(vocabFile) && Files.isRegularFile(mergesFile);
    if (!pair && !Files.isRegularFile(tokenizerJson))
      throw new CheckpointException("tokenizer folder " + dir + " has neither vocab.json + merges.txt nor tokenizer.json");
    try {
      Map<String, Integer> vocab;
      List<String> merges;
      if (pair) {
        try (InputStream v = Files.newInputStream(vocabFile); InputStream m = Files.newInputStream(mergesFile)) {
          vocab = readVocab(v, vocabFile.toString());
          merges = readMerges(m);
        }
      } else {
        JsonNode model = readJson(tokenizerJson).path("model");
        if (!"BPE".equals(model.path("type").asText()) || !END_OF_WORD.equals(model.path("end_of_word_suffix").asText()))
          throw new CheckpointException(tokenizerJson + " is not a CLIP tokenizer (a BPE model with the end-of-word "
              + "suffix " + END_OF_WORD + "; it has " + model.path("type") + " with " + model.path("end_of_word_suffix") + ")");
        vocab = vocabOf(model.path("vocab"), tokenizerJson + " model.vocab");
        merges = mergesOf(model.path("merges"), tokenizerJson + " model.merges");
      }
      Map<String, String> special = new HashMap<>();
      int maxLength = 77;
      for (String name : List.of("tokenizer_config.json", "special_tokens_map.json")) {
        Path f = dir.resolve(name);
        if (!Files.isRegularFile(f)) continue;
        JsonNode cfg = readJson(f);
        for (String k : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
          String t = tokenContent(cfg.get(k));
          if (t != null) special.put(k, t);
        }
        JsonNode ml = cfg.get("model_max_length");
        // transformers writes a huge sentinel (1e30) when there is no limit; keep 77 then.
        if (ml != null && ml.isNumber() && ml.asDouble() >= 2 && ml.asDouble() <= 1_000_000) maxLength = ml.asInt();
      }
      return new ClipTokenizer(vocab, merges, special.getOrDefault("bos_token", "<|startoftext|>"),
          special.getOrDefault("eos_token", "<|endoftext|>"), special.getOrDefault("unk_token", "<|endoftext|>"),
          special.getOrDefault("pad_token", "<|endoftext|>"), maxLength);
    } catch (IOException e) {
      throw new CheckpointException("cannot read tokenizer folder " + dir + ": " + e.getMessage(), e);
    } catch (InvalidArgumentException e) {
      throw new CheckpointException("tokenizer folder " + dir + ": " + e.getMessage(), e);
    }
  }

  /** tokenizer.json's model.vocab: an object of token to id. */
  private static Map<String, Integer> vocabOf(JsonNode root, String what) {
    if (!root.isObject() || root.isEmpty()) throw new CheckpointException(what + " must be a JSON object of token to id");
    Map<String, Integer> vocab = new HashMap<>(root.size() * 2);
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      var e = it.next();
      if (!e.getValue().isInt() || e.getValue().intValue() < 0)
        throw new CheckpointException(what + ": the id of token '" + e.getKey() + "' is not a non-negative integer");
      vocab.put(e.getKey(), e.getValue().intValue());
    }
    return vocab;
  }

  /** tokenizer.json's model.merges: "left right" strings (older files) or [left, right] pairs (newer). */
  private static List<String> mergesOf(JsonNode root, String what) {
    if (!root.isArray()) throw new CheckpointException(what + " must be a list of merges");
    List<String> merges = new ArrayList<>(root.size());
    int i = 0;
    for (JsonNode m : root) {
      String pair;
      if (m.isTextual()) pair = m.textValue();
      else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual())
        pair = m.get(0).textValue() + " " + m.get(1).textValue();
      else throw new CheckpointException(what + "[" + i + "] is not a merge (\"a b\" or [\"a\", \"b\"])");
      String[] parts = pair.split(" ");
      if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty())
        throw new CheckpointException(what + "[" + i + "] is not two tokens: '" + pair + "'");
      merges.add(pair);
      i++;
    }
    return merges;
  }

  /** Reads a vocab.json (a JSON object of token to id). */
  public static Map<String, Integer> readVocab(InputStream in, String what) throws IOException {
    JsonNode root;
    try {
      root = JSON.readTree(in);
    } catch (IOException e) {
      throw new CheckpointException(what + " is not valid JSON: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) throw new CheckpointException(what + " must be a JSON object of token to id");
    Map<String, Integer> vocab = new HashMap<>(root.size() * 2);
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      var e = it.next();
      if (!e.getValue().isInt() || e.getValue().intValue() < 0)
        throw new CheckpointException(what + ": the id of token '" + e.getKey() + "' is not a non-negative integer");
      vocab.put(e.getKey(), e.getValue().intValue());
    }
    return vocab;
  }

  /** Reads a merges.txt: an optional "#version" line, then one "left right" pair per line. */
  public static List<String> readMerges(InputStream in) throws IOException {
    String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    List<String> merges = new ArrayList<>();
    int lineNo = 0;
    for (String line : text.split("\n", -1)) {
      lineNo++;
      if (line.endsWith("\r")) line = line.substring(0, line.length() - 1);
      if (line.isEmpty() || (lineNo == 1 && line.startsWith("#version"))) continue;
      String[] parts = line.split(" ");
      if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty())
        throw new CheckpointException("merges.txt line " + lineNo + " is not two tokens separated by a space: '" + line + "'");
      merges.add(line);
    }
    return merges;
  }

  private static JsonNode readJson(Path f) throws IOException {
    try {
      return JSON.readTree(Files.readString(f));
    } catch (NoSuchFileException e) {
      throw e;
    } catch (IOException e) {
      throw new CheckpointException(f + " is not valid JSON: " + e.getMessage(), e);
    }
  }

  /** A special token given as a string or as {"content": ...}. */
  private static String tokenContent(JsonNode n) {
    if (n == null || n.isNull()) return null;
    if (n.isTextual()) return n.textValue();
    if (n.isObject() && n.has("content") && n.get("content").isTextual()) return n.get("content").textValue();
    return null;
  }

  // ---- encoding ----------------------------------------------------------------------------------

  /** Ids with bos and eos, truncated to {@link #maxLength()} (bos and eos kept), not padded. */
  public int[] encode(String text) {
    // only the first maxLength - 2 ids are kept: stop there (the work stays bounded for any text)
    List<Integer> ids = tokenIds(text, maxLength - 2);
    int n = Math.min(ids.size(), maxLength - 2);
    int[] out = new int[n + 2];
    out[0] = bosId;
    for (int i = 0; i < n; i++) out[i + 1] = ids.get(i);
    out[n + 1] = eosId;
    return out;
  }

  /** Whether {@link #encode} cuts {@code text} short: it has more ids than {@link #maxLength()} holds. */
  public boolean truncates(String text) {
    return tokenIds(text, maxLength - 1).size() > maxLength - 2;
  }

  /**
   * Logs a warning for each text that {@link #encode} cuts short (as diffusers' pipelines do), and
   * returns how many there were.
   */
  public int warnTruncated(List<String> texts) {
    int n = 0;
    for (String t : texts)
      if (truncates(t)) {
        n++;
        org.slf4j.LoggerFactory.getLogger(ClipTokenizer.class).warn("prompt truncated to {} tokens (CLIP's limit, bos and eos "
            + "included): \"{}\"", maxLength, t.length() > 80 ? t.substring(0, 77) + "..." : t);
      }
    return n;
  }

  /**
   * The words of a text that this vocabulary has no single token for, in order, each once: with a
   * vocabulary learnt from captions ({@link ClipBpeTrainer}) these are words its training captions never
   * held, which the model meets as byte pieces it never learnt; CLIP's full vocabulary has a token for
   * nearly every English word.
   */
  public List<String> unseenWords(String text) {
    List<String> out = new ArrayList<>();
    List<Integer> word = new ArrayList<>();
    for (int id : tokenIds(text)) {
      word.add(id);
      if (idToToken[id] != null && idToToken[id].endsWith(END_OF_WORD)) {
        String w = decode(word.stream().mapToInt(Integer::intValue).toArray());
        if (word.size() > 1 && !out.contains(w)) out.add(w);
        word.clear();
      }
    }
    return out;
  }

  /** {@link #encode} padded with the pad token to exactly {@link #maxLength()} ids. */
  public int[] encodePadded(String text) {
    int[] ids = encode(text);
    int[] out = Arrays.copyOf(ids, maxLength);
    Arrays.fill(out, ids.length, maxLength, padId);
    return out;
  }

  /** Padded ids of a batch as an i64 tensor [batch, maxLength], the text encoder's input. */
  public Tensor encodeBatch(List<String> texts) {
    if (texts.isEmpty()) throw new InvalidArgumentException("encodeBatch needs at least one text");
    long[] ids = new long[texts.size() * maxLength];
    for (int b = 0; b < texts.size(); b++) {
      int[] row = encodePadded(texts.get(b));
      for (int i = 0; i < maxLength; i++) ids[b * maxLength + i] = row[i];
    }
    return Tensor.of(ids, texts.size(), maxLength);
  }

  /** The BPE tokens of a text, without bos/eos and without truncation. */
  public List<String> tokenize(String text) {
    List<String> out = new ArrayList<>();
    for (int id : tokenIds(text)) out.add(idToToken[id]);
    return out;
  }

  /** The ids of a text without bos/eos and without truncation. */
  public List<Integer> tokenIds(String text) {
    return tokenIds(text, Integer.MAX_VALUE);
  }

  /** The first {@code limit} (or more) ids of a text, without bos/eos. */
  private List<Integer> tokenIds(String text, int limit) {
    if (text == null) throw new InvalidArgumentException("text is null");
    List<Integer> ids = new ArrayList<>();
    int start = 0;
    while (start <= text.length() && ids.size() < limit) {
      // the next special token (leftmost, then longest)
      int best = -1;
      String bestTok = null;
      for (String s : specials) {
        int i = text.indexOf(s, start);
        if (i >= 0 && (best < 0 || i < best)) {
          best = i;
          bestTok = s;
        }
      }
      int end = best < 0 ? text.length() : best;
      if (end > start) encodeOrdinary(text.substring(start, end), ids, limit);
      if (best < 0) break;
      ids.add(vocab.get(bestTok));
      start = best + bestTok.length();
    }
    return ids;
  }

  /**
   * The words BPE runs on, after the normalisation every encoding applies (NFC, whitespace folded,
   * lower case, CLIP's word pattern); special tokens are not recognised here. For vocabulary training.
   */
  static List<String> words(String raw) {
    String text = lowerCase(WHITESPACE.matcher(Normalizer.normalize(raw, Normalizer.Form.NFC)).replaceAll(" "));
    Matcher m = WORDS.matcher(text);
    List<String> out = new ArrayList<>();
    while (m.find()) out.add(m.group());
    return out;
  }

  /** The printable character standing for each byte (GPT-2/CLIP's table), in byte order. */
  static char byteChar(int b) {
    return BYTE_TO_CHAR[b & 0xff];
  }

  /** The 256 byte characters in CLIP's vocabulary order (printable bytes first, then the rest). */
  static List<String> byteAlphabet() {
    List<String> out = new ArrayList<>(256);
    List<Integer> order = new ArrayList<>();
    for (int c = '!'; c <= '~'; c++) order.add(c);
    for (int c = 0xA1; c <= 0xAC; c++) order.add(c);
    for (int c = 0xAE; c <= 0xFF; c++) order.add(c);
    for (int b = 0; b < 256; b++) if (!order.contains(b)) order.add(b);
    for (int b : order) out.add(String.valueOf(BYTE_TO_CHAR[b]));
    return out;
  }

  static final String WORD_END = END_OF_WORD;

  private void encodeOrdinary(String raw, List<Integer> ids, int limit) {
    String text = Normalizer.normalize(raw, Normalizer.Form.NFC);
    text = lowerCase(WHITESPACE.matcher(text).replaceAll(" "));
    Matcher m = WORDS.matcher(text);
    while (ids.size() < limit && m.find()) {
      for (int id : bpe(m.group())) ids.add(id);
    }
  }

  /**
   * Lower case one code point at a time, with each one's full Unicode mapping ("İ" becomes "i̇"),
   * as the reference's normaliser does; unlike String.toLowerCase there is no context, so a final
   * "Σ" becomes "σ", not "ς".
   */
  static String lowerCase(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); ) {
      int cp = s.codePointAt(i);
      int n = Character.charCount(cp);
      if (cp < 0x80) sb.append((char) (cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
      else sb.append(s.substring(i, i + n).toLowerCase(Locale.ROOT));
      i += n;
    }
    return sb.toString();
  }

  /**
   * Byte-level BPE of one word, as the reference's (tokenizers') BPE model merges: always the
   * lowest-ranked adjacent pair next, the leftmost of equal ones, found through a heap, so a word of
   * n bytes costs O(n log n) and a word of any length stays cheap.
   */
  private int[] bpe(String word) {
    int[] cached = cache.get(word);
    if (cached != null) return cached;
    byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
    int n = bytes.length;
    String[] sym = new String[n];
    int[] prev = new int[n], next = new int[n];
    for (int i = 0; i < n; i++) {
      String c = String.valueOf(BYTE_TO_CHAR[bytes[i] & 0xff]);
      sym[i] = i == n - 1 ? c + END_OF_WORD : c;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    // candidate merges: {rank, left position}; stale ones are skipped when popped
    PriorityQueue<long[]> heap = new PriorityQueue<>((x, y) -> x[0] != y[0] ? Long.compare(x[0], y[0])
        : Long.compare(x[1], y[1]));
    for (int i = 0; i + 1 < n; i++) push(heap, sym, i, i + 1);
    while (!heap.isEmpty()) {
      long[] top = heap.poll();
      int left = (int) top[1];
      int right = sym[left] == null ? -1 : next[left];
      if (right < 0) continue;
      Integer rank = mergeRanks.get(sym[left] + " " + sym[right]);
      if (rank == null || rank != top[0]) continue; // the pair changed since it was queued
      sym[left] = sym[left] + sym[right];
      sym[right] = null;
      next[left] = next[right];
      if (next[left] >= 0) prev[next[left]] = left;
      if (prev[left] >= 0) push(heap, sym, prev[left], left);
      if (next[left] >= 0) push(heap, sym, left, next[left]);
    }
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i >= 0 && i < n; i = next[i]) out.add(vocab.getOrDefault(sym[i], unkId));
    int[] ids = out.stream().mapToInt(Integer::intValue).toArray();
    if (cache.size() < CACHE_LIMIT && word.length() <= 256) cache.put(word, ids);
    return ids;
  }

  private void push(PriorityQueue<long[]> heap, String[] sym, int left, int right) {
    Integer r = mergeRanks.get(sym[left] + " " + sym[right]);
    if (r != null) heap.add(new long[] {r, left});
  }

  /** Text back from ids: special tokens dropped, {@code </w>} as word breaks, bytes decoded as UTF-8. */
  public String decode(int[] ids) {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    StringBuilder sb = new StringBuilder();
    for (int id : ids) {
      if (id == bosId || id == eosId || id == padId) continue;
      if (id < 0 || id >= idToToken.length || idToToken[id] == null)
        throw new InvalidArgumentException("id " + id + " is not in the vocabulary");
      String t = idToToken[id];
      boolean eow = t.endsWith(END_OF_WORD);
      if (eow) t = t.substring(0, t.length() - END_OF_WORD.length());
      for (char c : t.toCharArray()) bytes.write(charToByte(c));
      if (eow) {
        sb.append(bytes.toString(StandardCharsets.UTF_8)).append(' ');
        bytes.reset();
      }
    }
    sb.append(bytes.toString(StandardCharsets.UTF_8));
    return sb.toString().strip();
  }

  private static int charToByte(char c) {
    for (int b = 0; b < 256; b++) if (BYTE_TO_CHAR[b] == c) return b;
    return '?';
  }

  // ---- saving ----------------------------------------------------------------------------------

  /** Files of a tokenizer folder as transformers writes them. */
  private static final Set<String> FOLDER_FILES = Set.of("vocab.json", "merges.txt", "tokenizer_config.json",
      "special_tokens_map.json", "tokenizer.json", "added_tokens.json");

  /**
   * A tokenizer folder as an output: recognised when it holds a vocabulary and nothing but tokenizer
   * files.
   */
  public static final OutputKind FOLDER = OutputKind.filesFolder("tokenizer folder",
      Set.of("vocab.json", "tokenizer.json"), FOLDER_FILES::contains);

  /**
   * Writes a tokenizer folder that transformers' CLIPTokenizer (and this class) load: vocab.json,
   * merges.txt, tokenizer_config.json and special_tokens_map.json, each file atomically. The folder
   * must be new, empty or a tokenizer folder ({@link #FOLDER}); anything else raises an {@link
   * io.d2g.io.OutputException} and is left as it is.
   */
  public void save(Path dir) {
    Path real = Outputs.prepareFolder(dir, FOLDER, false);
    var ordered = JSON.createObjectNode();
    for (int i = 0; i < idToToken.length; i++) if (idToToken[i] != null) ordered.put(idToToken[i], i);
    OutputKind json = OutputKind.jsonFile("tokenizer JSON file");
    Outputs.writeBytes(real.resolve("vocab.json"), json, false, ordered.toString().getBytes(StandardCharsets.UTF_8));
    Outputs.writeBytes(real.resolve("merges.txt"), OutputKind.textFile("BPE merges file"), false,
        ("#version: 0.2\n" + String.join("\n", merges) + "\n").getBytes(StandardCharsets.UTF_8));
    var special = JSON.createObjectNode();
    special.put("bos_token", bosToken).put("eos_token", eosToken).put("unk_token", unkToken).put("pad_token", padToken);
    var config = special.deepCopy();
    config.put("model_max_length", maxLength).put("tokenizer_class", "CLIPTokenizer").put("do_lower_case", true)
        .put("errors", "replace").put("add_prefix_space", false);
    Outputs.writeJson(real.resolve("special_tokens_map.json"), json, false, special);
    Outputs.writeJson(real.resolve("tokenizer_config.json"), json, false, config);
  }

  // ---- accessors ---------------------------------------------------------------------------------

  public int bosId() {
    return bosId;
  }

  public int eosId() {
    return eosId;
  }

  public int padId() {
    return padId;
  }

  public String padToken() {
    return padToken;
  }

  public int maxLength() {
    return maxLength;
  }

  public int vocabSize() {
    return vocab.size();
  }

  /** The id of a token, or -1. */
  public int tokenToId(String token) {
    return vocab.getOrDefault(token, -1);
  }

  /** The vocabulary (token to id), unmodifiable. */
  public Map<String, Integer> vocab() {
    return vocab;
  }

  /** GPT-2/CLIP's byte to printable character table. */
  private static char[] byteToUnicode() {
    List<Integer> bs = new ArrayList<>();
    for (int c = '!'; c <= '~'; c++) bs.add(c);
    for (int c = 0xA1; c <= 0xAC; c++) bs.add(c);
    for (int c = 0xAE; c <= 0xFF; c++) bs.add(c);
    char[] table = new char[256];
    for (int b : bs) table[b] = (char) b;
    int n = 0;
    for (int b = 0; b < 256; b++) {
      if (!bs.contains(b)) table[b] = (char) (256 + n++);
    }
    return table;
  }

  @Override
  public String toString() {
    return "ClipTokenizer(" + vocab.size() + " tokens, pad '" + padToken + "', max " + maxLength + ")";
  }
}
