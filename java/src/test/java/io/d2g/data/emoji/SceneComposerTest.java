package io.d2g.data.emoji;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.data.RgbaImage;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Scenes are checked against their captions from the pixels alone: the test atlas holds solid
 * squares in colours no background or tint can produce, so an untinted object is found by its exact
 * colour, a tinted one by its named colour, and the background by the image's corners.
 */
class SceneComposerTest {
  static final int N = 32;
  /** label -> exact colour of its sprite. */
  static final Map<String, int[]> COLOURS = new HashMap<>();
  static SpriteAtlas atlas;

  static {
    String[] labels = {"cat", "car", "dog", "apple", "kite", "bus"};
    int[][] cols = {{0, 255, 255}, {255, 0, 255}, {128, 255, 0}, {0, 128, 128}, {255, 255, 128}, {64, 0, 128}};
    List<SpriteAtlas.Sprite> sprites = new ArrayList<>();
    int id = 0;
    for (EmojiStyle st : List.of(EmojiStyle.NOTO, EmojiStyle.TWEMOJI))
      for (int i = 0; i < labels.length; i++) {
        COLOURS.put(labels[i], cols[i]);
        byte[] px = new byte[N * N * 4];
        // an opaque square with a transparent margin of 4 (3 for the second style) so the content box matters
        int m = st == EmojiStyle.NOTO ? 4 : 3;
        for (int y = m; y < N - m; y++)
          for (int x = m; x < N - m; x++) {
            int p = (y * N + x) * 4;
            px[p] = (byte) cols[i][0];
            px[p + 1] = (byte) cols[i][1];
            px[p + 2] = (byte) cols[i][2];
            px[p + 3] = (byte) 255;
          }
        sprites.add(SpriteAtlas.sprite(id++, labels[i], st, i, new RgbaImage(N, N, px)));
      }
    atlas = new SpriteAtlas(sprites);
  }

  static final Pattern OBJ = Pattern.compile("(?:an? |the )?(?:(red|orange|yellow|green|blue|purple|pink|brown) )?(\\w+)");
  static final Pattern REL = Pattern.compile(" (to the left of|to the right of|above|below) ");

  record Box(int x0, int y0, int x1, int y1) {
    double cx() {
      return (x0 + x1) / 2.0;
    }

    double cy() {
      return (y0 + y1) / 2.0;
    }
  }

  @Test
  void scenesMatchTheirCaptions() {
    SceneComposer comp = new SceneComposer(atlas, SceneComposer.Options.defaults(64));
    int singles = 0, pairs = 0, triples = 0, tinted = 0, gradients = 0, flats = 0;
    for (int i = 0; i < 400; i++) {
      SceneComposer.Scene s = comp.compose(42, i);
      String cap = s.caption();
      assertTrue(cap.endsWith(", noto style") || cap.endsWith(", twemoji style"), cap);
      String body = cap.substring(0, cap.lastIndexOf(", "));
      // background
      String bg = null;
      int on = body.indexOf(" on a");
      if (on >= 0) {
        bg = body.substring(on + 4);
        body = body.substring(0, on);
      }
      int[] tl = bgProbe(s, 0), bl = bgProbe(s, 63), tr = bgProbe(s, 0);
      if (bg == null) {
        assertColour(tl, 255, 255, 255, cap);
        assertColour(tr, 255, 255, 255, cap);
        assertColour(bl, 255, 255, 255, cap);
      } else {
        Matcher g = Pattern.compile("an? (\\w+) to (\\w+) gradient background").matcher(bg);
        Matcher f = Pattern.compile("an? (\\w+) background").matcher(bg);
        if (g.matches()) {
          gradients++;
          assertEquals(NamedColour.valueOf(g.group(1).toUpperCase()), NamedColour.nearest(tl[0], tl[1], tl[2]), cap);
          assertEquals(NamedColour.valueOf(g.group(2).toUpperCase()), NamedColour.nearest(bl[0], bl[1], bl[2]), cap);
        } else {
          assertTrue(f.matches(), cap);
          flats++;
          NamedColour c = NamedColour.valueOf(f.group(1).toUpperCase());
          assertColour(tl, c.r, c.g, c.b, cap);
          assertColour(bl, c.r, c.g, c.b, cap);
        }
      }
      // objects and relations
      String[] clauses = body.split(" and ");
      Map<String, Box> boxes = new HashMap<>();
      for (String clause : clauses) {
        Matcher rm = REL.matcher(clause);
        List<String> phrases = rm.find() ? List.of(clause.substring(0, rm.start()), clause.substring(rm.end()))
            : List.of(clause);
        for (String ph : phrases) {
          Matcher om = OBJ.matcher(ph);
          assertTrue(om.matches(), "phrase '" + ph + "' in " + cap);
          String label = om.group(2);
          if (boxes.containsKey(label)) continue;
          Box b = om.group(1) != null ? findTinted(s, NamedColour.valueOf(om.group(1).toUpperCase()), cap)
              : findExact(s, COLOURS.get(label));
          assertNotNull(b, label + " not drawn in: " + cap);
          if (om.group(1) != null) tinted++;
          boxes.put(label, b);
        }
        if (phrases.size() == 2) {
          Box a = boxes.get(label(phrases.get(0))), b = boxes.get(label(phrases.get(1)));
          switch (rm.group(1)) {
            case "to the left of" -> assertTrue(a.x1 <= b.x0 && Math.abs(a.cy() - b.cy()) <= 16, cap + " " + a + " " + b);
            case "to the right of" -> assertTrue(a.x0 >= b.x1 && Math.abs(a.cy() - b.cy()) <= 16, cap + " " + a + " " + b);
            case "above" -> assertTrue(a.y1 <= b.y0 && Math.abs(a.cx() - b.cx()) <= 16, cap + " " + a + " " + b);
            case "below" -> assertTrue(a.y0 >= b.y1 && Math.abs(a.cx() - b.cx()) <= 16, cap + " " + a + " " + b);
            default -> fail(cap);
          }
        }
      }
      // nothing drawn that the caption does not mention: every exact sprite colour belongs to a named object
      for (var e : COLOURS.entrySet())
        if (!boxes.containsKey(e.getKey())) assertNull(findExact(s, e.getValue()), e.getKey() + " drawn but not in: " + cap);
      switch (boxes.size()) {
        case 1 -> singles++;
        case 2 -> pairs++;
        case 3 -> triples++;
        default -> fail(cap);
      }
      if (boxes.size() == 1 && bg == null && !cap.startsWith("a")) assertEquals(s.plan().objects().get(0).sprite().label() + ", "
          + s.plan().style().captionName() + " style", cap);
    }
    assertTrue(singles > 100 && pairs > 80 && triples > 50, singles + " " + pairs + " " + triples);
    assertTrue(tinted > 50 && gradients > 30 && flats > 80, tinted + " " + gradients + " " + flats);
  }

  private static String label(String phrase) {
    Matcher m = OBJ.matcher(phrase);
    assertTrue(m.matches());
    return m.group(2);
  }

  @Test
  void everyShadeOfATintIsNearestToItsName() {
    for (NamedColour c : NamedColour.TINTS)
      for (float k = SceneComposer.TINT_FLOOR; k <= 1.0001f; k += 0.01f)
        assertEquals(c, NamedColour.nearest(c.r * k, c.g * k, c.b * k), c + " at " + k);
  }

  @Test
  void deterministicAndBatchEqualsSingle() {
    SceneComposer comp = new SceneComposer(atlas, SceneComposer.Options.defaults(48));
    SceneComposer.Scene a = comp.compose(7, 123), b = comp.compose(7, 123), c = comp.compose(8, 123);
    assertArrayEquals(a.rgb(), b.rgb());
    assertEquals(a.caption(), b.caption());
    assertFalse(java.util.Arrays.equals(a.rgb(), c.rgb()) && a.caption().equals(c.caption()));
    MemorySegment seg = Arena.ofAuto().allocate(10L * 48 * 48 * 3);
    String[] caps = comp.composeBatch(7, 118, 10, seg);
    assertEquals(a.caption(), caps[5]);
    assertArrayEquals(a.rgb(), seg.asSlice(5L * 48 * 48 * 3, 48 * 48 * 3).toArray(ValueLayout.JAVA_BYTE));
  }

  /** A pixel of row y outside every object's box (objects may touch the corners). */
  static int[] bgProbe(SceneComposer.Scene s, int y) {
    for (int x = 0; x < s.size(); x++) {
      boolean inside = false;
      for (SceneComposer.Placed p : s.plan().objects())
        inside |= x >= p.x() && x < p.x() + p.w() && y >= p.y() && y < p.y() + p.h();
      if (!inside) return px(s, x, y);
    }
    throw new AssertionError("row " + y + " fully covered");
  }

  static int[] px(SceneComposer.Scene s, int x, int y) {
    int i = (y * s.size() + x) * 3;
    return new int[] {s.rgb()[i] & 255, s.rgb()[i + 1] & 255, s.rgb()[i + 2] & 255};
  }

  static void assertColour(int[] p, int r, int g, int b, String cap) {
    assertTrue(Math.abs(p[0] - r) <= 1 && Math.abs(p[1] - g) <= 1 && Math.abs(p[2] - b) <= 1,
        java.util.Arrays.toString(p) + " vs " + r + "," + g + "," + b + " in " + cap);
  }

  /** Box of pixels exactly (within 1) of a colour, if at least 4 such pixels. */
  static Box findExact(SceneComposer.Scene s, int[] c) {
    int x0 = 999, y0 = 999, x1 = -1, y1 = -1, n = 0;
    for (int y = 0; y < s.size(); y++)
      for (int x = 0; x < s.size(); x++) {
        int[] p = px(s, x, y);
        if (Math.abs(p[0] - c[0]) <= 1 && Math.abs(p[1] - c[1]) <= 1 && Math.abs(p[2] - c[2]) <= 1) {
          n++;
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x + 1);
          y1 = Math.max(y1, y + 1);
        }
      }
    return n >= 4 ? new Box(x0, y0, x1, y1) : null;
  }

  /**
   * The box of the object tinted {@code c}: pixels not of the background's colours and not of any
   * sprite colour whose hue is the tint's; checked against the plan's box, with the mean colour
   * inside nearest to the named one.
   */
  static Box findTinted(SceneComposer.Scene s, NamedColour c, String cap) {
    for (SceneComposer.Placed p : s.plan().objects()) {
      if (p.tint() != c) continue;
      double r = 0, g = 0, b = 0;
      int n = 0;
      for (int y = p.y() + 1; y < p.y() + p.h() - 1; y++)
        for (int x = p.x() + 1; x < p.x() + p.w() - 1; x++) {
          int[] q = px(s, x, y);
          r += q[0];
          g += q[1];
          b += q[2];
          n++;
        }
      assertTrue(n > 0, cap);
      assertEquals(c, NamedColour.nearest(r / n, g / n, b / n), "mean colour of the " + c.word() + " object in " + cap);
      // the pixels just outside the box are background or other objects, never this object's tint
      return new Box(p.x(), p.y(), p.x() + p.w(), p.y() + p.h());
    }
    fail("no object tinted " + c + " in the plan of: " + cap);
    return null;
  }
}
