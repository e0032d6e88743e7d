package io.d2g.eval;

import io.d2g.Generator;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.data.emoji.SceneComposer;
import io.d2g.data.emoji.SpriteAtlas;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Two-alternative forced-choice (2AFC) triplets made from the emoji corpus, for calibrating and
 * grading perceptual distances: a reference scene and two altered versions p0, p1, with the judgement
 * which one is closer to the reference. No people judged these: each family is built so that the answer
 * follows from how it was made (documented here, and in the results that use them).
 *
 * <ul>
 *   <li>{@link Family#SEVERITY}: two strengths of one distortion (Gaussian noise, Gaussian blur, a
 *       colour cast, JPEG); the milder is closer.
 *   <li>{@link Family#SHIFT}: the scene with its emoji moved by one pixel (the background stays) against
 *       a clearly visible distortion; the moved one is closer — the case where the squared error in
 *       pixels disagrees with perception.
 *   <li>{@link Family#CONTENT}: a mild distortion (visible, but every emoji stays recognisable)
 *       against the same scene with one emoji replaced by another of its style at the same place and
 *       size; the mild distortion is closer (the content stayed).
 * </ul>
 *
 * Triplet {@code i} of a seed depends on {@code (seed, i)} alone. Pictures are [n, 3, H, W] in [-1, 1].
 */
public final class TwoAfcTriplets {
  public enum Family { SEVERITY, SHIFT, CONTENT }

  /**
   * A batch: references, the two alternatives, the judgements (1: p1 is closer), the families, and what
   * was done to each triplet ("closer | farther", e.g. "noise 0.07 | noise 0.25", "move 1 px | blur 1.3").
   */
  public record Batch(Tensor ref, Tensor p0, Tensor p1, float[] judgement, Family[] family, String[] detail)
      implements AutoCloseable {
    @Override
    public void close() {
      ref.close();
      p0.close();
      p1.close();
    }
  }

  private final SceneComposer composer;
  private final SpriteAtlas atlas;
  private final int size;

  /** Triplets from the scenes of {@code atlas}'s emoji (e.g. the training or the held-out split). */
  public TwoAfcTriplets(SpriteAtlas atlas, int size) {
    this.atlas = atlas;
    this.size = size;
    this.composer = new SceneComposer(atlas, SceneComposer.Options.defaults(size));
  }

  /** Triplets {@code first .. first + n - 1} of {@code seed}. */
  public Batch make(long seed, long first, int n) {
    int px = 3 * size * size;
    float[] ref = new float[n * px], a0 = new float[n * px], a1 = new float[n * px], judge = new float[n];
    Family[] families = new Family[n];
    String[] details = new String[n];
    for (int i = 0; i < n; i++) {
      SplittableRandom rnd = new SplittableRandom(Generator.mix(seed, first + i));
      SceneComposer.Plan plan = composer.plan(seed, first + i);
      float[] r = render(plan);
      Family f = Family.values()[rnd.nextInt(3)];
      float[] closer, farther;
      switch (f) {
        case SEVERITY -> {
          int kind = rnd.nextInt(4), lo = rnd.nextInt(4), hi = lo + 1 + rnd.nextInt(4 - lo);
          closer = distort(r, kind, LADDER[kind][lo], rnd);
          farther = distort(r, kind, LADDER[kind][hi], rnd);
          details[i] = describe(kind, LADDER[kind][lo]) + " | " + describe(kind, LADDER[kind][hi]);
        }
        case SHIFT -> {
          closer = render(moved(plan, rnd.nextBoolean() ? 1 : -1, rnd.nextBoolean()));
          int kind = rnd.nextInt(4);
          double level = STRONG[kind][0] + rnd.nextDouble() * (STRONG[kind][1] - STRONG[kind][0]);
          farther = distort(r, kind, level, rnd);
          details[i] = "move 1 px | " + describe(kind, level);
        }
        default -> {
          int kind = rnd.nextInt(4);
          double level = MILD[kind][0] + rnd.nextDouble() * (MILD[kind][1] - MILD[kind][0]);
          closer = distort(r, kind, level, rnd);
          farther = render(swapped(plan, rnd));
          for (int tries = 0; java.util.Arrays.equals(farther, r) && tries < 10; tries++) // a look-alike (tinted)
            farther = render(swapped(plan, rnd));
          details[i] = describe(kind, level) + " | another emoji";
        }
      }
      boolean closerSecond = rnd.nextBoolean();
      System.arraycopy(r, 0, ref, i * px, px);
      System.arraycopy(closerSecond ? farther : closer, 0, a0, i * px, px);
      System.arraycopy(closerSecond ? closer : farther, 0, a1, i * px, px);
      judge[i] = closerSecond ? 1 : 0;
      families[i] = f;
    }
    return new Batch(Tensor.of(ref, n, 3, size, size), Tensor.of(a0, n, 3, size, size), Tensor.of(a1, n, 3, size, size),
        judge, families, details);
  }

  private static String describe(int kind, double level) {
    return String.format(java.util.Locale.ROOT, "%s %.2f", KINDS[kind], level);
  }

  private static final String[] KINDS = {"noise", "blur", "colour", "jpeg"};

  // Distortion kinds: 0 Gaussian noise (sigma, [-1, 1] units), 1 Gaussian blur (sigma, pixels), 2 colour
  // cast (amount), 3 JPEG (quality, lower is stronger).
  private static final double[][] LADDER = {
    {0.03, 0.07, 0.14, 0.25, 0.4}, {0.5, 0.9, 1.4, 2.0, 3.0}, {0.05, 0.12, 0.22, 0.35, 0.5}, {0.8, 0.5, 0.3, 0.15, 0.05}};
  private static final double[][] STRONG = {{0.08, 0.2}, {0.8, 1.8}, {0.12, 0.3}, {0.05, 0.25}};
  private static final double[][] MILD = {{0.05, 0.12}, {0.6, 1.2}, {0.1, 0.25}, {0.2, 0.5}};

  private float[] distort(float[] image, int kind, double level, SplittableRandom rnd) {
    try (TensorScope s = new TensorScope()) {
      Tensor x = s.track(Tensor.of(image, 1, 3, size, size));
      Tensor y = s.track(switch (kind) {
        case 0 -> Distortions.noise(x, level, rnd);
        case 1 -> Distortions.gaussianBlur(x, level);
        case 2 -> Distortions.colourShift(x, rnd.nextBoolean() ? level : -level);
        default -> Distortions.jpeg(x, level);
      });
      return y.toFloatArray();
    }
  }

  private float[] render(SceneComposer.Plan plan) {
    byte[] rgb = new byte[size * size * 3];
    composer.render(plan, rgb, 0);
    int px = size * size;
    float[] x = new float[3 * px];
    for (int p = 0; p < px; p++)
      for (int c = 0; c < 3; c++) x[c * px + p] = (rgb[p * 3 + c] & 255) / 127.5f - 1;
    return x;
  }

  private static SceneComposer.Plan moved(SceneComposer.Plan p, int by, boolean horizontal) {
    List<SceneComposer.Placed> objects = new ArrayList<>();
    for (SceneComposer.Placed o : p.objects())
      objects.add(new SceneComposer.Placed(o.sprite(), o.x() + (horizontal ? by : 0), o.y() + (horizontal ? 0 : by), o.w(),
          o.h(), o.tint()));
    return new SceneComposer.Plan(p.seed(), p.index(), p.style(), p.top(), p.bottom(), objects, p.facts(), p.caption());
  }

  private SceneComposer.Plan swapped(SceneComposer.Plan p, SplittableRandom rnd) {
    List<SceneComposer.Placed> objects = new ArrayList<>(p.objects());
    int k = rnd.nextInt(objects.size());
    SceneComposer.Placed o = objects.get(k);
    List<SpriteAtlas.Sprite> pool = atlas.byStyle().get(p.style());
    SpriteAtlas.Sprite other;
    int tries = 0;
    do {
      other = pool.get(rnd.nextInt(pool.size()));
    } while (other.label().equals(o.sprite().label()) && ++tries < 100);
    objects.set(k, new SceneComposer.Placed(other, o.x(), o.y(), o.w(), o.h(), o.tint()));
    return new SceneComposer.Plan(p.seed(), p.index(), p.style(), p.top(), p.bottom(), objects, p.facts(), p.caption());
  }
}
