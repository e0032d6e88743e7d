package io.d2g.data.emoji;

import io.d2g.data.DatasetException;
import io.d2g.data.Resampler;
import io.d2g.data.RgbaImage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The emoji a scene composer draws from, decoded once: premultiplied RGBA at the dataset size plus
 * smaller mip levels, the tight box around each picture's visible pixels, and its label and style.
 * On a GPU the same data is one uint8 tensor [N, size, size, 4] (see {@link EmojiDataset#atlas}).
 */
public final class SpriteAtlas {
  /** Alpha above this counts as visible when computing the content box. */
  public static final int VISIBLE_ALPHA = 24;

  /**
   * One picture. {@code levels[k]} is premultiplied RGBA of side {@code (size >> k) + 2}: the picture
   * at half the size per level, inside a one-pixel transparent border. Box in level-0 pixels, without
   * the border.
   */
  public record Sprite(int id, String label, EmojiStyle style, int concept, int size, byte[][] levels, int x0, int y0,
      int x1, int y1) {
    public int boxWidth() {
      return x1 - x0;
    }

    public int boxHeight() {
      return y1 - y0;
    }
  }

  private final List<Sprite> sprites;
  private final Map<EmojiStyle, List<Sprite>> byStyle;

  public SpriteAtlas(List<Sprite> sprites) {
    if (sprites.isEmpty()) throw new DatasetException("the sprite atlas is empty");
    this.sprites = List.copyOf(sprites);
    Map<EmojiStyle, List<Sprite>> m = new LinkedHashMap<>();
    for (EmojiStyle s : EmojiStyle.values()) {
      List<Sprite> l = new ArrayList<>();
      for (Sprite sp : sprites) if (sp.style() == s) l.add(sp);
      if (!l.isEmpty()) m.put(s, Collections.unmodifiableList(l));
    }
    this.byStyle = Collections.unmodifiableMap(m);
  }

  /** The atlas of a dataset's records that pass the filter (e.g. {@link EmojiRecord#isTrain()}). */
  public static SpriteAtlas of(EmojiDataset ds, Predicate<EmojiRecord> filter) {
    List<EmojiRecord> recs = ds.records().stream().filter(filter).toList();
    List<Sprite> out = recs.parallelStream().map(r -> sprite(r.index(), r.label(), r.emojiStyle(), r.concept(),
        ds.image(r.index()))).toList();
    return new SpriteAtlas(out);
  }

  /** Builds a sprite from a straight-alpha square image. */
  public static Sprite sprite(int id, String label, EmojiStyle style, int concept, RgbaImage img) {
    if (img.width() != img.height()) throw new IllegalArgumentException("sprites are square");
    int n = img.width();
    int x0 = n, y0 = n, x1 = 0, y1 = 0;
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++)
        if (img.alpha(x, y) > VISIBLE_ALPHA) {
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x + 1);
          y1 = Math.max(y1, y + 1);
        }
    if (x1 <= x0) {
      x0 = y0 = 0;
      x1 = y1 = n;
    }
    List<byte[]> levels = new ArrayList<>();
    RgbaImage cur = img;
    while (true) {
      levels.add(premultiply(cur));
      if (cur.width() <= 8 || cur.width() % 2 != 0) break;
      cur = Resampler.resize(cur, cur.width() / 2, cur.height() / 2);
    }
    return new Sprite(id, label, style, concept, n, levels.toArray(byte[][]::new), x0, y0, x1, y1);
  }

  /** Premultiplied RGBA inside a one-pixel transparent border. */
  static byte[] premultiply(RgbaImage img) {
    int w = img.width(), h = img.height(), pw = w + 2;
    byte[] s = img.rgba(), out = new byte[pw * (h + 2) * 4];
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int i = (y * w + x) * 4, o = ((y + 1) * pw + x + 1) * 4;
        int a = s[i + 3] & 255;
        out[o] = (byte) (((s[i] & 255) * a + 127) / 255);
        out[o + 1] = (byte) (((s[i + 1] & 255) * a + 127) / 255);
        out[o + 2] = (byte) (((s[i + 2] & 255) * a + 127) / 255);
        out[o + 3] = (byte) a;
      }
    return out;
  }

  public List<Sprite> sprites() {
    return sprites;
  }

  public Map<EmojiStyle, List<Sprite>> byStyle() {
    return byStyle;
  }

  public int size() {
    return sprites.size();
  }
}
