package io.d2g.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.d2g.data.RgbaImage;
import io.d2g.data.emoji.EmojiStyle;
import io.d2g.data.emoji.SpriteAtlas;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The 2AFC triplets: reproducible from (seed, index), balanced, and built as their families say. */
class TwoAfcTripletsTest {
  static final int N = 32;

  static SpriteAtlas atlas() {
    int[][] cols = {{230, 40, 40}, {40, 200, 60}, {40, 60, 220}, {240, 220, 30}, {150, 40, 200}};
    String[] labels = {"red thing", "leaf", "drop", "sun", "grape"};
    List<SpriteAtlas.Sprite> sprites = new ArrayList<>();
    int id = 0;
    for (EmojiStyle st : List.of(EmojiStyle.NOTO, EmojiStyle.TWEMOJI))
      for (int i = 0; i < labels.length; i++) {
        byte[] px = new byte[N * N * 4];
        for (int y = 4; y < N - 4; y++)
          for (int x = 4; x < N - 4; x++) {
            if (x < 6 + 3 * i && y < 6 + 3 * i && x + y > 12) continue; // notches differ (a tint gives all one colour)
            int p = (y * N + x) * 4;
            for (int c = 0; c < 3; c++) px[p + c] = (byte) cols[i][c];
            px[p + 3] = (byte) 255;
          }
        sprites.add(SpriteAtlas.sprite(id++, labels[i], st, i, new RgbaImage(N, N, px)));
      }
    return new SpriteAtlas(sprites);
  }

  @Test
  void tripletsDependOnTheirSeedAndIndexAlone() {
    TwoAfcTriplets t = new TwoAfcTriplets(atlas(), 32);
    try (TwoAfcTriplets.Batch a = t.make(7, 0, 12); TwoAfcTriplets.Batch b = t.make(7, 8, 4)) {
      int px = 3 * 32 * 32;
      float[] a1 = a.p1().toFloatArray(), b1 = b.p1().toFloatArray();
      assertArrayEquals(java.util.Arrays.copyOfRange(a1, 8 * px, 12 * px), b1);
      assertArrayEquals(java.util.Arrays.copyOfRange(a.judgement(), 8, 12), b.judgement());
      assertArrayEquals(java.util.Arrays.copyOfRange(a.detail(), 8, 12), b.detail());
    }
  }

  @Test
  void familiesAndJudgementsAreBalancedAndSeveritiesOrderedAsBuilt() {
    TwoAfcTriplets t = new TwoAfcTriplets(atlas(), 32);
    int n = 240, ones = 0, severities = 0, orderedByError = 0;
    Map<TwoAfcTriplets.Family, Integer> count = new EnumMap<>(TwoAfcTriplets.Family.class);
    try (TwoAfcTriplets.Batch b = t.make(3, 0, n)) {
      float[] r = b.ref().toFloatArray(), p0 = b.p0().toFloatArray(), p1 = b.p1().toFloatArray();
      int px = 3 * 32 * 32;
      for (int i = 0; i < n; i++) {
        ones += (int) b.judgement()[i];
        count.merge(b.family()[i], 1, Integer::sum);
        double e0 = 0, e1 = 0;
        for (int k = i * px; k < (i + 1) * px; k++) {
          e0 += (p0[k] - r[k]) * (p0[k] - r[k]);
          e1 += (p1[k] - r[k]) * (p1[k] - r[k]);
        }
        assertTrue(e0 > 0 && e1 > 0, "triplet " + i + " (" + b.detail()[i] + "): both alternatives differ from the reference");
        String d = b.detail()[i];
        switch (b.family()[i]) {
          case SEVERITY -> {
            severities++;
            String[] parts = d.split(" \\| ");
            assertEquals(parts[0].split(" ")[0], parts[1].split(" ")[0], "one kind of distortion: " + d);
            orderedByError += (b.judgement()[i] == 1) == (e1 < e0) ? 1 : 0;
          }
          case SHIFT -> assertTrue(d.startsWith("move 1 px | "), d);
          case CONTENT -> assertTrue(d.endsWith(" | another emoji"), d);
        }
      }
    }
    assertEquals(3, count.size(), "every family appears: " + count);
    for (int c : count.values()) assertTrue(c > n / 6, "families " + count);
    assertTrue(ones > n * 0.35 && ones < n * 0.65, ones + " of " + n + " judge p1 the closer");
    assertTrue(orderedByError >= severities * 0.9, orderedByError + " of " + severities
        + " severity triplets have the milder distortion nearer in squared error");
  }
}
