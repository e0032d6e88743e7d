package io.d2g.eval;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.Tensor;
import io.d2g.data.emoji.NamedColour;
import io.d2g.data.emoji.SceneComposer;
import io.d2g.eval.JudgeMetrics.Interval;
import io.d2g.models.ImageTextJudge;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Grades one sample set with the judge: the row a model gets in the results tables. Every figure
 * comes with a 95% bootstrap interval ({@link Estimate}); each is left out, with the reason under
 * {@code "skipped"}, when its inputs are missing.
 *
 * <ul>
 *   <li>{@code text_image_score}: each image against its own prompt (the CLIP-score analogue);
 *   <li>{@code prompt_retrieval_top1}: each image against all distinct prompts of the set;
 *   <li>{@code relation_accuracy}, {@code colour_accuracy}: compositional accuracy — each image whose
 *       prompt names a spatial relation (a colour) against its prompt with that relation (colour)
 *       swapped for each of the others; how often the true prompt ranks first (chance 1/4, 1/11);
 *   <li>{@code style_accuracy}: the same with the prompt's style ("noto style", ...) swapped for each
 *       of the seven (chance 1/7);
 *   <li>{@code fd}: Fréchet distance to the real pictures' embeddings (when given; at least
 *       {@link FrechetDistance#minimumSamples 2 per dimension} on each side);
 *   <li>{@code fidelity}: 1 - cos to the teacher's image for the same prompt and seed (when a teacher
 *       set is given; the DreamSim analogue);
 *   <li>{@code diversity}: mean pairwise 1 - cos among the images of one prompt (prompts with two or
 *       more samples; the DreamDiv analogue);
 *   <li>{@code seconds_per_image}: the mean of the samples' recorded wall times, and {@code timed_on}
 *       the device(s) they were measured on, when the samples say.
 * </ul>
 */
public final class Evaluation {
  private Evaluation() {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int BATCH = 256;

  /** real (may be null): the real pictures' image embeddings; teacher (may be null): the teacher's samples. */
  public static ObjectNode evaluate(ImageTextJudge judge, SampleSet samples, Embeddings real, SampleSet teacher,
      Interval interval) {
    ObjectNode o = JSON.createObjectNode();
    ObjectNode skipped = JSON.createObjectNode();
    o.put("samples", samples.size()).put("size", samples.width() + "x" + samples.height())
        .put("rounds", interval.rounds()).put("seed", interval.seed());
    Embeddings img = embed(judge, samples);
    List<String> prompts = samples.samples().stream().map(SampleSet.Sample::prompt).toList();
    Map<String, Integer> distinct = new LinkedHashMap<>();
    int[] own = new int[prompts.size()];
    for (int i = 0; i < own.length; i++) own[i] = distinct.computeIfAbsent(prompts.get(i), p -> distinct.size());
    Embeddings txt = JudgeValidation.textEmbeddings(judge, new ArrayList<>(distinct.keySet()));
    put(o, "text_image_score", JudgeMetrics.textImageScore(img, txt.select(own), interval));
    if (distinct.size() >= 2)
      put(o, "prompt_retrieval_top1", JudgeMetrics.retrievalAccuracy(img, txt, own, 1, interval));
    else skipped.put("prompt_retrieval_top1", "one distinct prompt");

    Estimate relation = swapAccuracy(judge, img, prompts, RELATIONS, interval);
    if (relation != null) put(o, "relation_accuracy", relation);
    else skipped.put("relation_accuracy", "fewer than 2 prompts name a spatial relation");
    Estimate colour = swapAccuracy(judge, img, prompts, COLOURS, interval);
    if (colour != null) put(o, "colour_accuracy", colour);
    else skipped.put("colour_accuracy", "fewer than 2 prompts name a colour");
    Estimate style = swapAccuracy(judge, img, prompts, STYLES, interval);
    if (style != null) put(o, "style_accuracy", style);
    else skipped.put("style_accuracy", "fewer than 2 prompts name a style");

    if (real == null) skipped.put("fd", "no real pictures given");
    else put(o, "fd", FrechetDistance.withInterval(real, img, interval.rounds(), interval.seed()));

    if (teacher == null) skipped.put("fidelity", "no teacher samples given");
    else put(o, "fidelity", fidelity(judge, samples, img, teacher, interval));

    Map<Integer, Integer> perPrompt = new HashMap<>();
    for (int k : own) perPrompt.merge(k, 1, Integer::sum);
    List<Integer> rows = new ArrayList<>();
    for (int i = 0; i < own.length; i++) if (perPrompt.get(own[i]) >= 2) rows.add(i);
    if (rows.size() >= 4) {
      int[] idx = rows.stream().mapToInt(Integer::intValue).toArray();
      int[] groups = rows.stream().mapToInt(i -> own[i]).toArray();
      put(o, "diversity", JudgeMetrics.diversity(img.select(idx), groups, interval));
    } else {
      skipped.put("diversity", "fewer than two prompts with two or more samples each");
    }
    double seconds = samples.samples().stream().mapToDouble(SampleSet.Sample::seconds).filter(Double::isFinite)
        .average().orElse(Double.NaN);
    if (Double.isFinite(seconds)) {
      o.put("seconds_per_image", seconds);
      String on = String.join("; ", samples.samples().stream().map(SampleSet.Sample::timedOn)
          .filter(java.util.Objects::nonNull).distinct().toList());
      if (!on.isEmpty()) o.put("timed_on", on);
    } else {
      skipped.put("seconds_per_image", "the samples record no times");
    }
    if (!skipped.isEmpty()) o.set("skipped", skipped);
    return o;
  }

  /** The phrases a prompt is tested on: the four relations, the eleven colours (the styles below). */
  static final List<String> RELATIONS = java.util.Arrays.stream(SceneComposer.Relation.values()).map(r -> r.words).toList();
  static final List<String> COLOURS = java.util.Arrays.stream(NamedColour.values()).map(NamedColour::word).toList();
  /** The seven styles as captions name them ("noto style", "fluent 3d style", ...). */
  static final List<String> STYLES = java.util.Arrays.stream(io.d2g.data.emoji.EmojiStyle.values())
      .map(st -> st.captionName() + " style").toList();

  /**
   * Compositional accuracy: for each sample whose prompt contains one of the phrases (as whole
   * words), the image against its prompt with that first phrase replaced by each of the others;
   * 1 when the true prompt ranks first. Null when fewer than 2 prompts qualify.
   */
  static Estimate swapAccuracy(ImageTextJudge judge, Embeddings img, List<String> prompts, List<String> phrases,
      Interval interval) {
    List<Double> hits = new ArrayList<>();
    for (int i = 0; i < prompts.size(); i++) {
      String p = " " + prompts.get(i).replace(",", " ,") + " ";
      int at = -1, which = -1;
      for (int k = 0; k < phrases.size(); k++) {
        int a = p.indexOf(" " + phrases.get(k) + " ");
        if (a >= 0 && (at < 0 || a < at)) {
          at = a;
          which = k;
        }
      }
      if (at < 0) continue;
      List<String> options = new ArrayList<>();
      for (String alt : phrases)
        options.add((p.substring(0, at) + " " + alt + " " + p.substring(at + phrases.get(which).length() + 2))
            .replace(" ,", ",").trim());
      Embeddings txt = JudgeValidation.textEmbeddings(judge, options);
      double own = img.cosine(i, txt, which);
      boolean best = true;
      for (int j = 0; j < options.size() && best; j++) if (j != which && img.cosine(i, txt, j) > own) best = false;
      hits.add(best ? 1.0 : 0.0);
    }
    if (hits.size() < 2) return null;
    double[] h = hits.stream().mapToDouble(Double::doubleValue).toArray();
    return Bootstrap.estimate(h.length, interval.rounds(), interval.seed(), idx -> {
      double sum = 0;
      for (int k : idx) sum += h[k];
      return sum / idx.length;
    });
  }

  /** The judge's image embeddings of every sample. */
  public static Embeddings embed(ImageTextJudge judge, SampleSet set) {
    int d = judge.config().embedDim();
    float[] all = new float[set.size() * d];
    for (int from = 0; from < set.size(); from += BATCH) {
      int to = Math.min(set.size(), from + BATCH);
      try (Tensor x = set.pixels(from, to); Tensor e = judge.encodeImage(x)) {
        System.arraycopy(e.toFloatArray(), 0, all, from * d, (to - from) * d);
      }
    }
    return Embeddings.of(set.size(), d, all);
  }

  /** How many of {@code samples} have a sample of {@code teacher} with the same prompt and seed (fidelity's pairs). */
  public static int teacherPairs(SampleSet samples, SampleSet teacher) {
    java.util.Set<String> keys = new java.util.HashSet<>();
    for (SampleSet.Sample t : teacher.samples()) if (t.seed() != null) keys.add(t.prompt() + "\u0000" + t.seed());
    int n = 0;
    for (SampleSet.Sample s : samples.samples()) if (s.seed() != null && keys.contains(s.prompt() + "\u0000" + s.seed())) n++;
    return n;
  }

  private static Estimate fidelity(ImageTextJudge judge, SampleSet samples, Embeddings img, SampleSet teacher,
      Interval interval) {
    Map<String, Integer> teacherIndex = new HashMap<>();
    for (int i = 0; i < teacher.size(); i++) {
      SampleSet.Sample t = teacher.samples().get(i);
      if (t.seed() != null) teacherIndex.put(t.prompt() + "\u0000" + t.seed(), i);
    }
    List<Integer> mine = new ArrayList<>(), theirs = new ArrayList<>();
    for (int i = 0; i < samples.size(); i++) {
      SampleSet.Sample s = samples.samples().get(i);
      Integer j = s.seed() == null ? null : teacherIndex.get(s.prompt() + "\u0000" + s.seed());
      if (j != null) {
        mine.add(i);
        theirs.add(j);
      }
    }
    if (mine.size() < 2)
      throw new InsufficientSamplesException("fidelity pairs samples with the teacher's by prompt and seed; only "
          + mine.size() + " of " + samples.size() + " have a teacher sample with the same prompt and seed (at least 2 needed)", 2);
    Embeddings t = embed(judge, teacher);
    return JudgeMetrics.fidelity(img.select(mine.stream().mapToInt(Integer::intValue).toArray()),
        t.select(theirs.stream().mapToInt(Integer::intValue).toArray()), interval);
  }

  private static void put(ObjectNode o, String name, Estimate e) {
    o.putObject(name).put("value", e.value()).put("low", e.low()).put("high", e.high()).put("n", e.samples());
  }
}
