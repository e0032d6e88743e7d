package io.d2g.hub;

import io.d2g.InvalidArgumentException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Learns a compact CLIP byte-level BPE vocabulary from a text corpus — for a small text encoder,
 * where CLIP's 49,408-token table would dwarf the model. The result is an ordinary CLIP tokenizer
 * (vocab.json + merges.txt, loaded by transformers' CLIPTokenizer and by {@link ClipTokenizer}) laid
 * out as CLIP's is: the 256 byte characters, the same with {@code </w>} (end of word), one token per
 * merge in merge order, then {@code <|startoftext|>} and {@code <|endoftext|>}. Every byte is in it,
 * so any text encodes — a word never seen falls back to smaller pieces, down to single bytes — and
 * there is no unknown token.
 *
 * <p>Training (Sennrich et al.): the corpus's words (the tokenizer's own normalisation and word
 * pattern) as byte sequences with their counts; repeatedly the most frequent adjacent pair is merged
 * everywhere, until the vocabulary has the asked size or no pair occurs {@code minCount} times. Ties
 * go to the pair whose text ("left right") sorts first, so the same corpus always gives the same
 * vocabulary.
 */
public final class ClipBpeTrainer {
  private ClipBpeTrainer() {}

  /** The fewest tokens a vocabulary can have: 2 × 256 byte tokens and the two special tokens. */
  public static final int MIN_VOCAB = 2 * 256 + 2;

  /** A tokenizer of at most {@code vocabSize} tokens learnt from {@code texts} (77 tokens long, like CLIP's). */
  public static ClipTokenizer train(Iterable<String> texts, int vocabSize, int minCount) {
    if (vocabSize < MIN_VOCAB || vocabSize > 1_000_000)
      throw new InvalidArgumentException("vocabulary size must be " + MIN_VOCAB + " to 1000000, not " + vocabSize);
    if (minCount < 1) throw new InvalidArgumentException("minCount must be at least 1, not " + minCount);
    Map<String, Integer> wordCounts = new TreeMap<>();
    for (String t : texts)
      for (String w : ClipTokenizer.words(t)) wordCounts.merge(w, 1, Integer::sum);
    // each distinct word as its symbols; counts weigh every pair
    List<List<String>> words = new ArrayList<>();
    List<Integer> counts = new ArrayList<>();
    for (Map.Entry<String, Integer> e : wordCounts.entrySet()) {
      byte[] b = e.getKey().getBytes(StandardCharsets.UTF_8);
      List<String> sym = new ArrayList<>(b.length);
      for (int i = 0; i < b.length; i++) {
        String c = String.valueOf(ClipTokenizer.byteChar(b[i]));
        sym.add(i == b.length - 1 ? c + ClipTokenizer.WORD_END : c);
      }
      words.add(sym);
      counts.add(e.getValue());
    }
    Map<String, Integer> vocab = new LinkedHashMap<>();
    for (String c : ClipTokenizer.byteAlphabet()) vocab.put(c, vocab.size());
    for (String c : ClipTokenizer.byteAlphabet()) vocab.put(c + ClipTokenizer.WORD_END, vocab.size());
    List<String> merges = new ArrayList<>();
    while (vocab.size() + 2 < vocabSize) {
      Map<String, Integer> pairs = new HashMap<>();
      for (int w = 0; w < words.size(); w++) {
        List<String> sym = words.get(w);
        for (int i = 0; i + 1 < sym.size(); i++) pairs.merge(sym.get(i) + " " + sym.get(i + 1), counts.get(w), Integer::sum);
      }
      String best = null;
      int bestCount = 0;
      for (Map.Entry<String, Integer> e : pairs.entrySet())
        if (e.getValue() > bestCount || (e.getValue() == bestCount && e.getKey().compareTo(best) < 0)) {
          best = e.getKey();
          bestCount = e.getValue();
        }
      if (best == null || bestCount < minCount) break;
      int space = best.indexOf(' ');
      String left = best.substring(0, space), right = best.substring(space + 1), joined = left + right;
      merges.add(best);
      vocab.putIfAbsent(joined, vocab.size());
      for (List<String> sym : words)
        for (int i = 0; i + 1 < sym.size(); i++)
          if (sym.get(i).equals(left) && sym.get(i + 1).equals(right)) {
            sym.set(i, joined);
            sym.remove(i + 1);
          }
    }
    vocab.put("<|startoftext|>", vocab.size());
    vocab.put("<|endoftext|>", vocab.size());
    return ClipTokenizer.of(vocab, merges, "<|endoftext|>", 77);
  }
}
