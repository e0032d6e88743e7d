package io.d2g.data.emoji;

import io.d2g.data.RgbaImage;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Composes captioned scenes from a {@link SpriteAtlas}, deterministically: scene {@code i} of seed
 * {@code s} is always the same picture with the same caption, on any machine and any thread count.
 *
 * <p>A scene is a background (white, a named flat colour, or a vertical gradient between two named
 * colours, top to bottom) and 1 to 3 emoji of one style, possibly tinted a named colour. The caption
 * says exactly that:
 * <ul>
 *   <li>one emoji on white: {@code "<label>, <style> style"} (the dataset's own caption);
 *   <li>otherwise {@code "a red car on a blue background, twemoji style"},
 *       {@code "a cat to the left of a red car on a blue to pink gradient background, noto style"},
 *       {@code "a cat to the left of a car and a dog above the car, emojione style"}.
 * </ul>
 * White backgrounds are not mentioned. Relations hold between the boxes of visible pixels: "A to
 * the left of B" means A's rightmost visible column is left of B's leftmost (likewise for right of,
 * above, below), with the two centres at most a quarter of the image apart across that axis (a third
 * with three objects).
 *
 * <p>The work is split so it can move to a GPU: {@link #plan} draws the random choices (cheap, CPU),
 * and {@link #render} does the pixels (per object: scale a box of the atlas, tint, composite over the
 * background), which on a device is one batched affine resampling (grid_sample) and a few element-wise
 * operations over the atlas tensor.
 */
public final class SceneComposer {
  /** Probabilities of 1, 2 and 3 objects, a tint per object, and of white/flat/gradient backgrounds. */
  public record Options(int size, double pOne, double pTwo, double pTint, double pWhite, double pFlat) {
    public Options {
      if (size < 16) throw new IllegalArgumentException("scene size must be at least 16, got " + size);
    }

    public static Options defaults(int size) {
      return new Options(size, 0.4, 0.35, 0.25, 0.4, 0.4);
    }
  }

  public enum Relation {
    LEFT_OF("to the left of"),
    RIGHT_OF("to the right of"),
    ABOVE("above"),
    BELOW("below");

    public final String words;

    Relation(String words) {
      this.words = words;
    }
  }

  /** An emoji placed in the scene: its visible box {@code [x, x+w) x [y, y+h)} in output pixels. */
  public record Placed(SpriteAtlas.Sprite sprite, int x, int y, int w, int h, NamedColour tint) {}

  /** "subject relation object", indices into the placed list. */
  public record Fact(int subject, Relation relation, int object) {}

  /** Every choice of one scene, and its caption. Background: top == bottom for flat, WHITE for white. */
  public record Plan(long seed, long index, EmojiStyle style, NamedColour top, NamedColour bottom, List<Placed> objects,
      List<Fact> facts, String caption) {
    public boolean gradient() {
      return top != bottom;
    }
  }

  /** A rendered scene: RGB bytes (size x size x 3, rows top to bottom) and its plan. */
  public record Scene(int size, byte[] rgb, Plan plan) {
    public String caption() {
      return plan.caption();
    }

    public RgbaImage toImage() {
      byte[] rgba = new byte[size * size * 4];
      for (int i = 0; i < size * size; i++) {
        rgba[4 * i] = rgb[3 * i];
        rgba[4 * i + 1] = rgb[3 * i + 1];
        rgba[4 * i + 2] = rgb[3 * i + 2];
        rgba[4 * i + 3] = (byte) 255;
      }
      return new RgbaImage(size, size, rgba);
    }
  }

  /** A tinted pixel is the named colour times a factor in [TINT_FLOOR, 1] set by its luminance. */
  public static final float TINT_FLOOR = 0.85f;

  private final SpriteAtlas atlas;
  private final Options options;
  private final List<EmojiStyle> styles;

  public SceneComposer(SpriteAtlas atlas, Options options) {
    this.atlas = atlas;
    this.options = options;
    this.styles = List.copyOf(atlas.byStyle().keySet());
  }

  public Options options() {
    return options;
  }

  /** The random choices and caption of scene {@code index} of {@code seed}. */
  public Plan plan(long seed, long index) {
    SplittableRandom rnd = new SplittableRandom(mix(seed, index));
    int s = options.size;
    EmojiStyle style = styles.get(rnd.nextInt(styles.size()));
    List<SpriteAtlas.Sprite> pool = atlas.byStyle().get(style);
    double u = rnd.nextDouble();
    int n = u < options.pOne ? 1 : u < options.pOne + options.pTwo ? 2 : 3;
    n = Math.min(n, distinctLabels(pool));
    // pick distinct labels
    List<SpriteAtlas.Sprite> chosen = new ArrayList<>(n);
    while (chosen.size() < n) {
      SpriteAtlas.Sprite sp = pool.get(rnd.nextInt(pool.size()));
      boolean dup = false;
      for (SpriteAtlas.Sprite c : chosen) dup |= c.label().equals(sp.label());
      if (!dup) chosen.add(sp);
    }
    // tints
    NamedColour[] tints = new NamedColour[n];
    for (int i = 0; i < n; i++) // distinct tints, so "the red one" is never ambiguous
      if (rnd.nextDouble() < options.pTint && !namesColour(chosen.get(i).label())) {
        NamedColour t;
        boolean used;
        do {
          t = NamedColour.TINTS.get(rnd.nextInt(NamedColour.TINTS.size()));
          used = false;
          for (int j = 0; j < i; j++) used |= tints[j] == t;
        } while (used);
        tints[i] = t;
      }
    // background, never the colour of a tinted object
    NamedColour top = NamedColour.WHITE, bottom = NamedColour.WHITE;
    double b = rnd.nextDouble();
    if (b >= options.pWhite) {
      top = pickBackground(rnd, tints, null);
      bottom = b < options.pWhite + options.pFlat ? top : pickBackground(rnd, tints, top);
    }
    // layout
    List<Placed> placed = new ArrayList<>(n);
    List<Fact> facts = new ArrayList<>(2);
    if (n == 1) {
      int side = (int) Math.round(s * (0.55 + 0.35 * rnd.nextDouble()));
      placed.add(place(chosen.get(0), tints[0], side, 0, 0, s, s, rnd));
    } else if (n == 2) {
      boolean horizontal = rnd.nextBoolean();
      int half = s / 2;
      int maxSide = half - 2;
      int sideA = (int) Math.round(maxSide * (0.6 + 0.4 * rnd.nextDouble()));
      int sideB = (int) Math.round(maxSide * (0.6 + 0.4 * rnd.nextDouble()));
      // object 0 goes first along the axis (left or top), object 1 second
      Placed a, c;
      if (horizontal) {
        a = place(chosen.get(0), tints[0], sideA, 0, 0, half, s, rnd);
        c = placeNear(chosen.get(1), tints[1], sideB, half, 0, s - half, s, a, false, s / 4, rnd);
      } else {
        a = place(chosen.get(0), tints[0], sideA, 0, 0, s, half, rnd);
        c = placeNear(chosen.get(1), tints[1], sideB, 0, half, s, s - half, a, true, s / 4, rnd);
      }
      placed.add(a);
      placed.add(c);
      boolean firstIsSubject = rnd.nextBoolean();
      Relation r = horizontal ? (firstIsSubject ? Relation.LEFT_OF : Relation.RIGHT_OF)
          : (firstIsSubject ? Relation.ABOVE : Relation.BELOW);
      facts.add(firstIsSubject ? new Fact(0, r, 1) : new Fact(1, r, 0));
    } else {
      int cell = s / 3;
      int off = (s - 3 * cell) / 2;
      int[][] cells = {{0, 1}, {2, 1}, {1, 0}, {1, 2}}; // left, right, above, below of the centre
      Relation[] rel = {Relation.LEFT_OF, Relation.RIGHT_OF, Relation.ABOVE, Relation.BELOW};
      int ia = rnd.nextInt(4);
      int ic = rnd.nextInt(3);
      if (ic >= ia) ic++;
      int maxSide = cell - 1;
      // object 0 is the anchor in the centre; 1 and 2 are around it
      placed.add(place(chosen.get(0), tints[0], side(maxSide, rnd), off + cell, off + cell, cell, cell, rnd));
      placed.add(place(chosen.get(1), tints[1], side(maxSide, rnd), off + cells[ia][0] * cell, off + cells[ia][1] * cell,
          cell, cell, rnd));
      placed.add(place(chosen.get(2), tints[2], side(maxSide, rnd), off + cells[ic][0] * cell, off + cells[ic][1] * cell,
          cell, cell, rnd));
      facts.add(new Fact(1, rel[ia], 0));
      facts.add(new Fact(2, rel[ic], 0));
    }
    return new Plan(seed, index, style, top, bottom, List.copyOf(placed), List.copyOf(facts),
        caption(style, top, bottom, placed, facts));
  }

  private static final java.util.regex.Pattern COLOUR_WORD = java.util.regex.Pattern.compile(
      "\\b(red|orange|yellow|green|blue|purple|pink|brown|black|gray|grey|white)\\b");

  /** Labels that already name a colour ("green heart") are never tinted, so captions cannot contradict. */
  static boolean namesColour(String label) {
    return COLOUR_WORD.matcher(label.toLowerCase(java.util.Locale.ROOT)).find();
  }

  private static int side(int maxSide, SplittableRandom rnd) {
    return (int) Math.round(maxSide * (0.7 + 0.3 * rnd.nextDouble()));
  }

  private static int distinctLabels(List<SpriteAtlas.Sprite> pool) {
    java.util.Set<String> l = new java.util.HashSet<>();
    for (SpriteAtlas.Sprite s : pool) {
      l.add(s.label());
      if (l.size() >= 3) break;
    }
    return l.size();
  }

  private static NamedColour pickBackground(SplittableRandom rnd, NamedColour[] tints, NamedColour not) {
    while (true) {
      NamedColour c = NamedColour.BACKGROUNDS.get(rnd.nextInt(NamedColour.BACKGROUNDS.size()));
      boolean clash = c == not;
      for (NamedColour t : tints) clash |= t == c;
      if (!clash) return c;
    }
  }

  /** Fits the sprite's visible box, longest side {@code side}, at a random spot inside a region. */
  private static Placed place(SpriteAtlas.Sprite sp, NamedColour tint, int side, int rx, int ry, int rw, int rh,
      SplittableRandom rnd) {
    int[] wh = fit(sp, Math.min(side, Math.min(rw, rh)));
    int x = rx + rnd.nextInt(rw - wh[0] + 1);
    int y = ry + rnd.nextInt(rh - wh[1] + 1);
    return new Placed(sp, x, y, wh[0], wh[1], tint);
  }

  /** Like place, but keeps the cross-axis centre within {@code maxOffset} of {@code other}'s. */
  private static Placed placeNear(SpriteAtlas.Sprite sp, NamedColour tint, int side, int rx, int ry, int rw, int rh,
      Placed other, boolean crossIsX, int maxOffset, SplittableRandom rnd) {
    int[] wh = fit(sp, Math.min(side, Math.min(rw, rh)));
    int w = wh[0], h = wh[1];
    if (crossIsX) {
      double oc = other.x + other.w / 2.0;
      int lo = Math.max(rx, (int) Math.ceil(oc - maxOffset - w / 2.0)), hi = Math.min(rx + rw - w, (int) Math.floor(oc + maxOffset - w / 2.0));
      int x = hi >= lo ? lo + rnd.nextInt(hi - lo + 1) : Math.max(rx, Math.min(rx + rw - w, (int) Math.round(oc - w / 2.0)));
      int y = ry + rnd.nextInt(rh - h + 1);
      return new Placed(sp, x, y, w, h, tint);
    } else {
      double oc = other.y + other.h / 2.0;
      int lo = Math.max(ry, (int) Math.ceil(oc - maxOffset - h / 2.0)), hi = Math.min(ry + rh - h, (int) Math.floor(oc + maxOffset - h / 2.0));
      int y = hi >= lo ? lo + rnd.nextInt(hi - lo + 1) : Math.max(ry, Math.min(ry + rh - h, (int) Math.round(oc - h / 2.0)));
      int x = rx + rnd.nextInt(rw - w + 1);
      return new Placed(sp, x, y, w, h, tint);
    }
  }

  /** Output width and height of the sprite's visible box scaled so its longer side is {@code side}. */
  private static int[] fit(SpriteAtlas.Sprite sp, int side) {
    int bw = sp.boxWidth(), bh = sp.boxHeight();
    double f = (double) side / Math.max(bw, bh);
    return new int[] {Math.max(1, (int) Math.round(bw * f)), Math.max(1, (int) Math.round(bh * f))};
  }

  static String caption(EmojiStyle style, NamedColour top, NamedColour bottom, List<Placed> objs, List<Fact> facts) {
    String bg = top == NamedColour.WHITE && bottom == NamedColour.WHITE ? null
        : top == bottom ? Captions.article(top.word()) + " " + top.word() + " background"
        : Captions.article(top.word()) + " " + top.word() + " to " + bottom.word() + " gradient background";
    if (objs.size() == 1) {
      Placed p = objs.get(0);
      if (bg == null && p.tint() == null) return Captions.single(p.sprite().label(), style);
      String phrase = Captions.objectPhrase(p.sprite().label(), p.tint() == null ? null : p.tint().word());
      return Captions.withStyle(bg == null ? phrase : phrase + " on " + bg, style);
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < facts.size(); i++) {
      Fact f = facts.get(i);
      Placed subj = objs.get(f.subject()), obj = objs.get(f.object());
      if (i > 0) sb.append(" and ");
      sb.append(Captions.objectPhrase(subj.sprite().label(), tintWord(subj))).append(' ').append(f.relation().words).append(' ');
      if (i == 0) sb.append(Captions.objectPhrase(obj.sprite().label(), tintWord(obj)));
      else sb.append(Captions.definite(obj.sprite().label()));
    }
    if (bg != null) sb.append(" on ").append(bg);
    return Captions.withStyle(sb.toString(), style);
  }

  private static String tintWord(Placed p) {
    return p.tint() == null ? null : p.tint().word();
  }

  // ---- rendering ---------------------------------------------------------------------------------

  public Scene compose(long seed, long index) {
    Plan p = plan(seed, index);
    byte[] rgb = new byte[options.size * options.size * 3];
    render(p, rgb, 0);
    return new Scene(options.size, rgb, p);
  }

  /**
   * Composes scenes {@code first .. first+n-1} of {@code seed} into {@code out} (uint8, N x size x
   * size x 3, C order) in parallel, and returns their captions.
   */
  public String[] composeBatch(long seed, long first, int n, MemorySegment out) {
    int px = options.size * options.size * 3;
    if (out.byteSize() < (long) n * px) throw new IllegalArgumentException("output segment too small");
    String[] captions = new String[n];
    IntStream.range(0, n).parallel().forEach(i -> {
      Plan p = plan(seed, first + i);
      byte[] rgb = RGB.get();
      if (rgb == null || rgb.length != px) RGB.set(rgb = new byte[px]);
      render(p, rgb, 0);
      MemorySegment.copy(rgb, 0, out, ValueLayout.JAVA_BYTE, (long) i * px, px);
      captions[i] = p.caption();
    });
    return captions;
  }

  private static final ThreadLocal<byte[]> RGB = new ThreadLocal<>();
  private static final ThreadLocal<float[][]> SCRATCH = new ThreadLocal<>();

  private float[] scratch(int n) {
    float[][] h = SCRATCH.get();
    if (h == null || h[0].length != n) {
      h = new float[][] {new float[n]};
      SCRATCH.set(h);
    }
    return h[0];
  }

  /** Draws a plan into {@code rgb} (size x size x 3 from {@code offset}). */
  public void render(Plan p, byte[] rgb, int offset) {
    int s = options.size;
    // background, in floats so objects composite without double rounding
    float[] buf = scratch(s * s * 3);
    for (int y = 0; y < s; y++) {
      float t = s == 1 ? 0 : (float) y / (s - 1);
      float r = p.top().r + (p.bottom().r - p.top().r) * t;
      float g = p.top().g + (p.bottom().g - p.top().g) * t;
      float b = p.top().b + (p.bottom().b - p.top().b) * t;
      for (int x = 0, i = y * s * 3; x < s; x++, i += 3) {
        buf[i] = r;
        buf[i + 1] = g;
        buf[i + 2] = b;
      }
    }
    for (Placed o : p.objects()) drawSprite(o, buf, s);
    for (int i = 0; i < s * s * 3; i++) {
      int v = (int) (buf[i] + 0.5f); // values are never negative
      rgb[offset + i] = (byte) (v > 255 ? 255 : v);
    }
  }

  /**
   * Bilinear sampling of the sprite's visible box (from the mip level nearest above), premultiplied
   * over the background. Sprite levels have a one-pixel transparent border, so no bounds checks.
   */
  private static void drawSprite(Placed o, float[] buf, int s) {
    SpriteAtlas.Sprite sp = o.sprite();
    double scale = (double) o.w() / sp.boxWidth(); // output pixels per level-0 pixel
    int level = 0;
    while (level + 1 < sp.levels().length && scale * (1 << (level + 1)) <= 1.0) level++;
    byte[] src = sp.levels()[level];
    int n = (sp.size() >> level) + 2; // padded side
    double f = 1 << level;
    double sx = sp.boxWidth() / (double) o.w() / f, sy = sp.boxHeight() / (double) o.h() / f;
    double bx = sp.x0() / f + 1, by = sp.y0() / f + 1; // +1: the border
    int w = o.w();
    int[] ui = new int[w];
    float[] uf = new float[w];
    for (int ox = 0; ox < w; ox++) {
      double u = bx + (ox + 0.5) * sx - 0.5;
      int u0 = (int) Math.floor(u);
      u0 = Math.max(0, Math.min(n - 2, u0));
      ui[ox] = u0 * 4;
      uf[ox] = (float) Math.max(0, Math.min(1, u - u0));
    }
    NamedColour tint = o.tint();
    float tr = tint == null ? 0 : tint.r, tg = tint == null ? 0 : tint.g, tb = tint == null ? 0 : tint.b;
    int x0 = Math.max(0, o.x()), x1 = Math.min(s, o.x() + w);
    for (int oy = 0; oy < o.h(); oy++) {
      int py = o.y() + oy;
      if (py < 0 || py >= s) continue;
      double v = by + (oy + 0.5) * sy - 0.5;
      int v0 = Math.max(0, Math.min(n - 2, (int) Math.floor(v)));
      float fv = (float) Math.max(0, Math.min(1, v - v0)), gv = 1 - fv;
      int row0 = v0 * n * 4, row1 = row0 + n * 4;
      for (int px = x0; px < x1; px++) {
        int ox = px - o.x();
        float fu = uf[ox], gu = 1 - fu;
        int i00 = row0 + ui[ox], i10 = i00 + 4, i01 = row1 + ui[ox], i11 = i01 + 4;
        float w00 = gu * gv, w10 = fu * gv, w01 = gu * fv, w11 = fu * fv;
        float a = w00 * (src[i00 + 3] & 255) + w10 * (src[i10 + 3] & 255) + w01 * (src[i01 + 3] & 255)
            + w11 * (src[i11 + 3] & 255);
        if (a <= 0) continue;
        float r = w00 * (src[i00] & 255) + w10 * (src[i10] & 255) + w01 * (src[i01] & 255) + w11 * (src[i11] & 255);
        float g = w00 * (src[i00 + 1] & 255) + w10 * (src[i10 + 1] & 255) + w01 * (src[i01 + 1] & 255)
            + w11 * (src[i11 + 1] & 255);
        float b = w00 * (src[i00 + 2] & 255) + w10 * (src[i10 + 2] & 255) + w01 * (src[i01 + 2] & 255)
            + w11 * (src[i11 + 2] & 255);
        if (tint != null) {
          // keep some shading: colour * (0.85 + 0.15 * luminance), premultiplied. Over that range every
          // opaque pixel is still nearest to its named colour (see NamedColour.nearest).
          float lum = (0.299f * r + 0.587f * g + 0.114f * b) / 255f; // = alpha/255 * luminance of the straight colour
          float k = TINT_FLOOR * a / 255f + (1 - TINT_FLOOR) * lum;
          r = tr * k;
          g = tg * k;
          b = tb * k;
        }
        float inv = 1 - a / 255f;
        int di = (py * s + px) * 3;
        buf[di] = r + buf[di] * inv;
        buf[di + 1] = g + buf[di + 1] * inv;
        buf[di + 2] = b + buf[di + 2] * inv;
      }
    }
  }

  private static long mix(long seed, long index) {
    long z = seed * 0x9E3779B97F4A7C15L + index;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
