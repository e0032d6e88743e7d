package io.d2g.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.D2g;
import io.d2g.Generator;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.models.LatentLpips;
import io.d2g.models.LatentLpipsConfig;
import io.d2g.models.LpipsRank;
import io.d2g.nn.Linear;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * LatentLPIPS's own training: a tiny trunk learns to classify latents by a property it can see, and a
 * calibration learns lin heads that order distortions as judged — each stage touching only its part.
 */
class LpipsStepsTest {
  private static final Logger LOG = LoggerFactory.getLogger(LpipsStepsTest.class);
  static final LatentLpipsConfig TINY = new LatentLpipsConfig(4, List.of(8, 8, 16, 16, 16), false);

  /** Latents [n, 4, 8, 8]: class 0 has a bright top half in channel 0, class 1 a bright bottom half; style = channel. */
  static Tensor latents(long seed, int n, long[] labels) {
    java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
    float[] x = new float[n * 4 * 64];
    for (int i = 0; i < n; i++) {
      int cls = r.nextInt(2), style = r.nextInt(3) + 1;
      labels[2 * i] = cls;
      labels[2 * i + 1] = style - 1;
      for (int c = 0; c < 4; c++)
        for (int p = 0; p < 64; p++) {
          boolean top = p < 32;
          float v = (float) (0.3 * r.nextGaussian());
          if (c == 0 && top == (cls == 0)) v += 1.5f;
          if (c == style) v += 1f;
          x[(i * 4 + c) * 64 + p] = v;
        }
    }
    return Tensor.of(x, n, 4, 8, 8);
  }

  @Test
  void theTrunkLearnsToClassifyAndLeavesTheLinHeadsAlone() {
    D2g.manualSeed(3);
    int n = 32;
    long[] labels = new long[2 * n];
    try (LatentLpips lpips = new LatentLpips(TINY); Linear head = new Linear(16, 2 + 3, true); TensorScope s = new TensorScope()) {
      Map<String, Tensor> params = new LinkedHashMap<>(LpipsClassifyStep.trunkParameters(lpips));
      assertFalse(params.keySet().stream().anyMatch(k -> k.startsWith("lin")), "the lin heads are no trunk parameters");
      head.parameters().forEach((k, v) -> params.put("head." + k, v));
      params.values().forEach(s::track);
      float[] linsBefore = lins(lpips), meanBefore = entry(lpips, "net.slice1.1.running_mean");
      try (Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(3e-3).withWeightDecay(0), params);
          LpipsClassifyStep step = LpipsClassifyStep.create(lpips, head, opt,
              new LpipsClassifyStep.Options(new int[] {2, 3}, "none", false, 1.0))) {
        Tensor x = s.track(latents(1, n, labels)), y = s.track(Tensor.of(labels, n, 2));
        LpipsClassifyStep.Metrics first = step.run(x, y, 0), last = first;
        for (int i = 1; i < 60; i++) last = step.run(x, y, i);
        LOG.info("tiny trunk on 32 latents: loss {} -> {}, accuracy {}", first.loss(), last.loss(), last.accuracy());
        assertTrue(last.loss() < first.loss() / 4, "loss " + first.loss() + " -> " + last.loss());
        assertEquals(1.0, last.accuracy());
        assertTrue(last.stepped());
        // With BatchNorm on running statistics (eval, as the distance runs) new latents are classified too.
        long[] newLabels = new long[2 * n];
        Tensor fresh = s.track(latents(2, n, newLabels));
        List<Tensor> taps = lpips.features(fresh);
        taps.forEach(s::track);
        float[] logits = s.track(head.forward(s.track(taps.get(4).mean(false, 2, 3)))).toFloatArray();
        int right = 0;
        for (int i = 0; i < n; i++) right += (logits[i * 5] > logits[i * 5 + 1] ? 0 : 1) == newLabels[2 * i] ? 1 : 0;
        assertTrue(right >= n * 0.9, right + " of " + n + " new latents classified");
        // Labels of the wrong shape or past their class count are refused.
        assertThrows(InvalidArgumentException.class, () -> step.run(x, s.track(Tensor.of(new long[n], n, 1)), 0));
        long[] tooBig = labels.clone();
        tooBig[1] = 3;
        assertThrows(InvalidArgumentException.class, () -> step.run(x, s.track(Tensor.of(tooBig, n, 2)), 0));
      }
      // The augmented variant of the same step runs too.
      try (Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-3).withWeightDecay(0), params);
          LpipsClassifyStep step = LpipsClassifyStep.create(lpips, head, opt,
              new LpipsClassifyStep.Options(new int[] {2, 3}, "bgc", false, 1.0))) {
        LpipsClassifyStep.Metrics m = step.run(s.track(latents(3, n, labels)), s.track(Tensor.of(labels, n, 2)), 1);
        assertTrue(m.stepped() && Double.isFinite(m.loss()), "with augmentation: " + m);
      }
      assertArrayEquals(linsBefore, lins(lpips), "classification does not touch the lin heads");
      assertFalse(java.util.Arrays.equals(meanBefore, entry(lpips, "net.slice1.1.running_mean")),
          "the BatchNorm running statistics follow the training batches");
    }
  }

  @Test
  void theCalibrationOrdersDistortionsAsJudgedAndLeavesTheTrunkAlone() {
    D2g.manualSeed(4);
    int n = 32;
    try (LatentLpips lpips = new LatentLpips(TINY); LpipsRank rank = new LpipsRank(8); TensorScope s = new TensorScope();
        Generator g = Generator.cpu(9)) {
      // Judged closer: a change of channel 1 (half the batch gets it on p0, half on p1); farther: an
      // equally large change of channel 0. Uniform heads cannot tell them apart; calibrated ones must.
      Tensor ref = s.track(Tensor.randn(g, io.d2g.DType.F32, n, 4, 8, 8));
      float[] r = ref.toFloatArray(), a = r.clone(), b = r.clone(), judge = new float[n];
      java.util.SplittableRandom rnd = new java.util.SplittableRandom(5);
      for (int i = 0; i < n; i++) {
        judge[i] = i % 2;
        float[] mild = judge[i] == 1 ? b : a, strong = judge[i] == 1 ? a : b;
        for (int p = 0; p < 64; p++) {
          mild[(i * 4 + 1) * 64 + p] += (float) rnd.nextGaussian();
          strong[(i * 4) * 64 + p] += (float) rnd.nextGaussian();
        }
      }
      Tensor p0 = s.track(Tensor.of(a, n, 4, 8, 8)), p1 = s.track(Tensor.of(b, n, 4, 8, 8));
      Tensor j = s.track(Tensor.of(judge, n));
      float[] trunkBefore = entry(lpips, "net.slice1.0.weight");
      Map<String, Tensor> params = new LinkedHashMap<>(Lpips2afcStep.linParameters(lpips));
      params.values().forEach(s::track);
      try (Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-2).withBetas(0.5, 0.999).withWeightDecay(0), params);
          Lpips2afcStep step = Lpips2afcStep.create(lpips, null, opt, Lpips2afcStep.Options.DEFAULT)) {
        Lpips2afcStep.Metrics first = step.run(ref, p0, p1, j), last = first;
        for (int i = 1; i < 200; i++) last = step.run(ref, p0, p1, j);
        LOG.info("calibration on 32 triplets: loss {} -> {}, 2AFC {} -> {}", first.loss(), last.loss(), first.score(),
            last.score());
        // A random trunk with non-negative heads cannot always separate the two channels' changes; the
        // calibration must still order clearly more triplets as judged than it started with.
        assertTrue(last.score() >= first.score() + 0.1, "2AFC " + first.score() + " -> " + last.score());
        assertTrue(last.loss() < first.loss() * 0.75, "loss " + first.loss() + " -> " + last.loss());
        for (float w : lins(lpips)) assertTrue(w >= 0, "lin weights stay non-negative: " + w);
        float[] d0 = s.track(lpips.distance(ref, p0)).toFloatArray(), d1 = s.track(lpips.distance(ref, p1)).toFloatArray();
        int ordered = 0;
        for (int i = 0; i < n; i++) ordered += (judge[i] == 1) == (d1[i] < d0[i]) ? 1 : 0;
        assertTrue(ordered >= (first.score() + 0.1) * n, ordered + " of " + n + " ordered as judged by the module's distance");
        assertThrows(InvalidArgumentException.class, () -> step.run(ref, p0, p1, s.track(Tensor.of(new float[n], n, 1))));
        float[] bad = judge.clone();
        bad[0] = -0.5f;
        assertThrows(InvalidArgumentException.class, () -> step.run(ref, p0, p1, s.track(Tensor.of(bad, n))));
      }
      assertArrayEquals(trunkBefore, entry(lpips, "net.slice1.0.weight"), "calibration does not touch the trunk");

      // LPIPS's own ranking head fits the same judgements from the distances' sizes alone (here: the
      // farther alternative's distance is the large one), without ordering them: its loss falls all the same.
      Map<String, Tensor> withRank = new LinkedHashMap<>(Lpips2afcStep.linParameters(lpips));
      rank.parameters().forEach((k, v) -> withRank.put("rank." + k, v));
      withRank.values().forEach(s::track);
      try (Optimizer opt = Optimizer.create(OptimizerConfig.AdamW.lr(1e-2).withBetas(0.5, 0.999).withWeightDecay(0), withRank);
          Lpips2afcStep step = Lpips2afcStep.create(lpips, rank, opt, Lpips2afcStep.Options.DEFAULT)) {
        Lpips2afcStep.Metrics first = step.run(ref, p0, p1, j), last = first;
        for (int i = 1; i < 100; i++) last = step.run(ref, p0, p1, j);
        assertTrue(last.loss() < first.loss(), "ranking head: loss " + first.loss() + " -> " + last.loss());
      }
    }
  }

  private static float[] lins(LatentLpips lpips) {
    Map<String, Tensor> st = lpips.state();
    try {
      int size = 0;
      for (var e : st.entrySet()) if (e.getKey().startsWith("lin")) size += (int) e.getValue().numel();
      float[] out = new float[size];
      int at = 0;
      for (var e : st.entrySet())
        if (e.getKey().startsWith("lin")) {
          float[] v = e.getValue().toFloatArray();
          System.arraycopy(v, 0, out, at, v.length);
          at += v.length;
        }
      return out;
    } finally {
      st.values().forEach(Tensor::close);
    }
  }

  private static float[] entry(LatentLpips lpips, String name) {
    Map<String, Tensor> st = lpips.state();
    try {
      return st.get(name).toFloatArray();
    } finally {
      st.values().forEach(Tensor::close);
    }
  }
}
