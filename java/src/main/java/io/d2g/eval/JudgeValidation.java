package io.d2g.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.DType;
import io.d2g.Tensor;
import io.d2g.data.emoji.Captions;
import io.d2g.data.emoji.EmojiDataset;
import io.d2g.data.emoji.EmojiRecord;
import io.d2g.data.emoji.EmojiStyle;
import io.d2g.data.emoji.NamedColour;
import io.d2g.data.emoji.SceneComposer;
import io.d2g.data.emoji.SpriteAtlas;
import io.d2g.data.emoji.Splits;
import io.d2g.models.ImageTextJudge;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

/**
 * Is the judge good enough to grade? Its validation on the emoji corpus, as one JSON report:
 *
 * <ul>
 *   <li><b>retrieval</b> (top-1 and top-5, both directions) among all captions of a set, on a sample
 *       of training pictures, on held-out pictures of training concepts (concept × style pairs never
 *       seen) and on held-out concepts (never seen in any style);
 *   <li><b>style retrieval</b>: a held-out picture against its own concept's caption in each of the
 *       seven styles — can the judge tell the styles apart when the concept is fixed;
 *   <li><b>composition</b>: a composed scene against its caption with the first spatial relation
 *       swapped for each of the four (on scenes of training concepts and of held-out ones), and with
 *       the background's colour swapped for each of the ten;
 *   <li><b>FD sanity</b>: the Fréchet distance between two disjoint halves of the real training
 *       pictures (near zero), and between one half and the other under growing Gaussian noise, blur
 *       and colour shift (each series should grow monotonically).
 * </ul>
 *
 * Pictures are composited over white here (training draws other backgrounds too), in [-1, 1].
 */
public final class JudgeValidation {
  private JudgeValidation() {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int BATCH = 256;

  /**
   * The records' pictures as judge input [n, 3, S, S] in [-1, 1] on the CPU: RGBA composited over a
   * background that is white, or, when {@code backgrounds} is not null, white half the time and else
   * a uniformly random colour drawn from it.
   */
  public static Tensor images(EmojiDataset ds, List<EmojiRecord> recs, SplittableRandom backgrounds) {
    float[] rgba;
    long[] shape;
    try (Tensor t = ds.tensor(recs, DType.F32, EmojiDataset.Layout.NCHW)) {
      rgba = t.toFloatArray();
      shape = t.shape();
    }
    int n = (int) shape[0], px = (int) (shape[2] * shape[3]);
    float[] rgb = new float[n * 3 * px];
    for (int i = 0; i < n; i++) {
      float[] bg = {1, 1, 1};
      if (backgrounds != null && backgrounds.nextBoolean())
        for (int c = 0; c < 3; c++) bg[c] = (float) backgrounds.nextDouble();
      for (int c = 0; c < 3; c++)
        for (int p = 0; p < px; p++) {
          float a = rgba[(i * 4 + 3) * px + p];
          rgb[(i * 3 + c) * px + p] = 2 * (rgba[(i * 4 + c) * px + p] * a + bg[c] * (1 - a)) - 1;
        }
    }
    return Tensor.of(rgb, n, 3, shape[2], shape[3]);
  }

  /**
   * Scenes {@code first .. first+n-1} of {@code seed} from the composer as judge input [n, 3, S, S] in
   * [-1, 1]; their captions go into {@code captions} (length n).
   */
  public static Tensor scenes(SceneComposer composer, long seed, long first, int n, String[] captions) {
    int s = composer.options().size(), px = s * s;
    byte[] rgb = new byte[n * px * 3];
    String[] c;
    try (Arena arena = Arena.ofShared()) { // the composer writes from parallel threads
      MemorySegment seg = arena.allocate(rgb.length);
      c = composer.composeBatch(seed, first, n, seg);
      MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, 0, rgb, 0, rgb.length);
    }
    System.arraycopy(c, 0, captions, 0, n);
    float[] x = new float[rgb.length];
    for (int i = 0; i < n; i++)
      for (int p = 0; p < px; p++)
        for (int ch = 0; ch < 3; ch++) x[(i * 3 + ch) * px + p] = (rgb[(i * px + p) * 3 + ch] & 255) / 127.5f - 1;
    return Tensor.of(x, n, 3, s, s);
  }

  /**
   * Image embeddings of the records' pictures (over white), after {@code distort} of each batch's
   * pixels (a new tensor, or the same one: {@code x -> x} for none).
   */
  public static Embeddings imageEmbeddings(ImageTextJudge judge, EmojiDataset ds, List<EmojiRecord> recs,
      UnaryOperator<Tensor> distort) {
    List<float[]> parts = new ArrayList<>();
    for (int from = 0; from < recs.size(); from += BATCH) {
      List<EmojiRecord> b = recs.subList(from, Math.min(recs.size(), from + BATCH));
      try (Tensor x = images(ds, b, null)) {
        Tensor d = distort.apply(x);
        try (Tensor e = judge.encodeImage(d)) {
          parts.add(e.toFloatArray());
        } finally {
          if (d != x) d.close();
        }
      }
    }
    return stack(parts, judge.config().embedDim());
  }

  /** Text embeddings of the texts. */
  public static Embeddings textEmbeddings(ImageTextJudge judge, List<String> texts) {
    List<float[]> parts = new ArrayList<>();
    for (int from = 0; from < texts.size(); from += BATCH)
      try (Tensor e = judge.encodeText(texts.subList(from, Math.min(texts.size(), from + BATCH)))) {
        parts.add(e.toFloatArray());
      }
    return stack(parts, judge.config().embedDim());
  }

  /** The whole validation report (see the class comment); samples drawn with {@code seed}. */
  public static ObjectNode run(ImageTextJudge judge, EmojiDataset ds, long seed) {
    ObjectNode report = JSON.createObjectNode();
    List<EmojiRecord> train = shuffled(ds.records(EmojiRecord::isTrain), seed);
    List<EmojiRecord> pairs = ds.records(r -> Splits.HELDOUT_PAIR.equals(r.split()));
    List<EmojiRecord> concepts = ds.records(r -> Splits.HELDOUT_CONCEPT.equals(r.split()));
    ObjectNode retrieval = report.putObject("retrieval");
    retrieval.set("train_sample", retrieval(judge, ds, train.subList(0, Math.min(1000, train.size()))));
    retrieval.set("heldout_pairs", retrieval(judge, ds, pairs));
    retrieval.set("heldout_concepts", retrieval(judge, ds, concepts));
    ObjectNode style = report.putObject("style_retrieval");
    style.set("heldout_pairs", styleRetrieval(judge, ds, pairs));
    style.set("heldout_concepts", styleRetrieval(judge, ds, concepts));
    ObjectNode composition = report.putObject("composition");
    SceneComposer.Options scenes = SceneComposer.Options.defaults(ds.manifest().path("size").asInt(64));
    SceneComposer seen = new SceneComposer(SpriteAtlas.of(ds, EmojiRecord::isTrain), scenes);
    SceneComposer unseen = new SceneComposer(SpriteAtlas.of(ds, r -> !r.isTrain()), scenes);
    long validationSeed = seed ^ 0x5eed_0fL; // scenes training never drew
    composition.set("relation_training_concepts", relationRetrieval(judge, seen, validationSeed, 500));
    composition.set("relation_heldout_concepts", relationRetrieval(judge, unseen, validationSeed, 500));
    composition.set("background_colour_training_concepts", colourRetrieval(judge, seen, validationSeed, 500));
    report.set("fd_sanity", fdSanity(judge, ds, train, seed));
    return report;
  }

  /**
   * Scenes with at least one spatial relation: the scene against its caption with the first
   * relation replaced by each of the four ("to the left of", "to the right of", "above", "below");
   * how often the true one ranks first (chance 1/4).
   */
  static ObjectNode relationRetrieval(ImageTextJudge judge, SceneComposer composer, long seed, int count) {
    List<SceneComposer.Relation> relations = List.of(SceneComposer.Relation.values());
    return swapRetrieval(judge, composer, seed, count, relations.size(), plan -> {
      if (plan.facts().isEmpty()) return null;
      String phrase = " " + plan.facts().get(0).relation().words + " ";
      int at = plan.caption().indexOf(phrase);
      if (at < 0) return null;
      List<String> options = new ArrayList<>();
      for (SceneComposer.Relation r : relations)
        options.add(plan.caption().substring(0, at) + " " + r.words + " " + plan.caption().substring(at + phrase.length()));
      return new Swap(options, relations.indexOf(plan.facts().get(0).relation()));
    });
  }

  /**
   * Scenes on a flat coloured background: the scene against its caption with the background's colour
   * replaced by each of the ten colours a background can have (white is never named); chance 1/10.
   */
  static ObjectNode colourRetrieval(ImageTextJudge judge, SceneComposer composer, long seed, int count) {
    List<NamedColour> colours = java.util.Arrays.stream(NamedColour.values()).filter(c -> c != NamedColour.WHITE).toList();
    return swapRetrieval(judge, composer, seed, count, colours.size(), plan -> {
      if (plan.gradient() || plan.top() == NamedColour.WHITE) return null;
      String phrase = " on a " + plan.top().word() + " background";
      int at = plan.caption().indexOf(phrase);
      if (at < 0) return null;
      List<String> options = new ArrayList<>();
      for (NamedColour c : colours)
        options.add(plan.caption().substring(0, at) + " on a " + c.word() + " background"
            + plan.caption().substring(at + phrase.length()));
      return new Swap(options, colours.indexOf(plan.top()));
    });
  }

  /** A caption's variants and which one is true. */
  private record Swap(List<String> options, int truth) {}

  private static ObjectNode swapRetrieval(ImageTextJudge judge, SceneComposer composer, long seed, int count, int choices,
      java.util.function.Function<SceneComposer.Plan, Swap> variants) {
    int hits = 0, found = 0;
    for (long index = 0; found < count && index < 100L * count; index += BATCH) {
      String[] captions = new String[BATCH];
      List<Integer> keep = new ArrayList<>();
      List<Swap> swaps = new ArrayList<>();
      for (int i = 0; i < BATCH && found + keep.size() < count; i++) {
        Swap sw = variants.apply(composer.plan(seed, index + i));
        if (sw != null) {
          keep.add(i);
          swaps.add(sw);
        }
      }
      if (keep.isEmpty()) continue;
      Embeddings img;
      try (Tensor x = scenes(composer, seed, index, BATCH, captions); Tensor e = judge.encodeImage(x)) {
        img = Embeddings.of(BATCH, judge.config().embedDim(), e.toFloatArray());
      }
      for (int k = 0; k < keep.size(); k++) {
        Swap sw = swaps.get(k);
        Embeddings txt = textEmbeddings(judge, sw.options());
        double own = img.cosine(keep.get(k), txt, sw.truth());
        boolean best = true;
        for (int j = 0; j < sw.options().size() && best; j++)
          if (j != sw.truth() && img.cosine(keep.get(k), txt, j) > own) best = false;
        if (best) hits++;
      }
      found += keep.size();
    }
    ObjectNode o = JSON.createObjectNode();
    o.put("scenes", found).put("choices", choices).put("top1", found == 0 ? 0 : (double) hits / found)
        .put("chance", 1.0 / choices);
    return o;
  }

  /** Top-1/top-5 retrieval among the set's distinct captions, image -> caption and caption -> image. */
  static ObjectNode retrieval(ImageTextJudge judge, EmojiDataset ds, List<EmojiRecord> recs) {
    Map<String, Integer> captionIndex = new LinkedHashMap<>();
    int[] imageTruth = new int[recs.size()];
    List<Integer> firstImage = new ArrayList<>();
    for (int i = 0; i < recs.size(); i++) {
      String c = recs.get(i).caption();
      Integer k = captionIndex.get(c);
      if (k == null) {
        k = captionIndex.size();
        captionIndex.put(c, k);
        firstImage.add(i);
      }
      imageTruth[i] = k;
    }
    Embeddings img = imageEmbeddings(judge, ds, recs, x -> x);
    Embeddings txt = textEmbeddings(judge, new ArrayList<>(captionIndex.keySet()));
    int[] textTruth = firstImage.stream().mapToInt(Integer::intValue).toArray();
    JudgeMetrics.Interval iv = new JudgeMetrics.Interval(200, 0);
    ObjectNode o = JSON.createObjectNode();
    o.put("pictures", recs.size()).put("captions", captionIndex.size());
    o.put("image_to_caption_top1", JudgeMetrics.retrievalAccuracy(img, txt, imageTruth, 1, iv).value());
    o.put("image_to_caption_top5", JudgeMetrics.retrievalAccuracy(img, txt, imageTruth, 5, iv).value());
    o.put("caption_to_image_top1", JudgeMetrics.retrievalAccuracy(txt, img, textTruth, 1, iv).value());
    o.put("caption_to_image_top5", JudgeMetrics.retrievalAccuracy(txt, img, textTruth, 5, iv).value());
    o.put("text_image_score", JudgeMetrics.textImageScore(img, txt.select(imageTruth), iv).value());
    return o;
  }

  /** Each picture against its label's caption in every style: how often its own style ranks first. */
  static ObjectNode styleRetrieval(ImageTextJudge judge, EmojiDataset ds, List<EmojiRecord> recs) {
    List<EmojiStyle> styles = EmojiStyle.all();
    Embeddings img = imageEmbeddings(judge, ds, recs, x -> x);
    int hits = 0;
    for (int i = 0; i < recs.size(); i++) {
      EmojiRecord r = recs.get(i);
      List<String> options = styles.stream().map(s -> Captions.single(r.label(), s)).toList();
      Embeddings txt = textEmbeddings(judge, options);
      int truth = styles.indexOf(r.emojiStyle());
      double own = img.cosine(i, txt, truth);
      boolean best = true;
      for (int j = 0; j < options.size() && best; j++) if (j != truth && img.cosine(i, txt, j) > own) best = false;
      if (best) hits++;
    }
    ObjectNode o = JSON.createObjectNode();
    o.put("pictures", recs.size()).put("styles", styles.size()).put("top1", (double) hits / recs.size())
        .put("chance", 1.0 / styles.size());
    return o;
  }

  /** FD between halves of the training pictures, then with one half distorted more and more. */
  static ObjectNode fdSanity(ImageTextJudge judge, EmojiDataset ds, List<EmojiRecord> shuffledTrain, long seed) {
    int half = Math.min(1500, shuffledTrain.size() / 2);
    List<EmojiRecord> a = shuffledTrain.subList(0, half), b = shuffledTrain.subList(half, 2 * half);
    Embeddings ea = imageEmbeddings(judge, ds, a, x -> x);
    ObjectNode o = JSON.createObjectNode();
    o.put("pictures_per_half", half);
    o.put("halves", FrechetDistance.withInterval(ea, imageEmbeddings(judge, ds, b, x -> x), 100, seed)
        .value());
    Map<String, List<Double>> series = new LinkedHashMap<>();
    series.put("gaussian_noise_sigma", List.of(0.05, 0.1, 0.2, 0.4));
    series.put("box_blur_radius", List.of(1.0, 2.0, 3.0, 4.0));
    series.put("colour_shift", List.of(0.1, 0.2, 0.4, 0.8));
    for (Map.Entry<String, List<Double>> s : series.entrySet()) {
      ObjectNode node = o.putObject(s.getKey());
      ArrayNode levels = node.putArray("levels"), fd = node.putArray("fd");
      double previous = Double.NEGATIVE_INFINITY;
      boolean monotonic = true;
      for (double level : s.getValue()) {
        SplittableRandom r = new SplittableRandom(seed);
        UnaryOperator<Tensor> distort = switch (s.getKey()) {
          case "gaussian_noise_sigma" -> x -> Distortions.noise(x, level, r);
          case "box_blur_radius" -> x -> Distortions.boxBlur(x, (int) level);
          default -> x -> Distortions.colourShift(x, level);
        };
        double v = FrechetDistance.between(ea, imageEmbeddings(judge, ds, b, distort));
        levels.add(level);
        fd.add(v);
        monotonic &= v > previous;
        previous = v;
      }
      node.put("monotonic", monotonic);
    }
    return o;
  }

  private static List<EmojiRecord> shuffled(List<EmojiRecord> recs, long seed) {
    List<EmojiRecord> o = new ArrayList<>(recs);
    Collections.shuffle(o, new java.util.Random(seed));
    return o;
  }

  private static Embeddings stack(List<float[]> parts, int dim) {
    int total = parts.stream().mapToInt(p -> p.length).sum();
    float[] all = new float[total];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, all, at, p.length);
      at += p.length;
    }
    return Embeddings.of(total / dim, dim, all);
  }
}
