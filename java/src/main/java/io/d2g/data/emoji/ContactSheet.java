package io.d2g.data.emoji;

import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import io.d2g.io.Png;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A grid of captioned samples for the README: for each style a row of single emoji from the training
 * split, then rows of composed scenes. Pictures are shown at twice their size, nearest-neighbour, so
 * the real resolution is visible; transparent pixels show on a light checkerboard.
 */
public final class ContactSheet {
  private ContactSheet() {}

  public static BufferedImage render(EmojiDataset ds, SceneComposer composer, int columns, int sceneRows, long seed) {
    int scale = 2, img = ds.size() * scale, pad = 6, textH = 40, cellW = Math.max(img, 124) + pad,
        cellH = img + textH + pad;
    List<List<Cell>> rows = new ArrayList<>();
    SplittableRandom rnd = new SplittableRandom(seed);
    for (EmojiStyle st : EmojiStyle.values()) {
      List<EmojiRecord> recs = ds.records(r -> r.isTrain() && r.emojiStyle() == st && r.tone() == null);
      if (recs.isEmpty()) continue;
      List<Cell> row = new ArrayList<>();
      for (int c = 0; c < columns; c++) {
        EmojiRecord r = recs.get(rnd.nextInt(recs.size()));
        row.add(new Cell(ds.image(r.index()), r.caption(), true));
      }
      rows.add(row);
    }
    for (int rr = 0; rr < sceneRows; rr++) {
      List<Cell> row = new ArrayList<>();
      for (int c = 0; c < columns; c++) {
        SceneComposer.Scene s = composer.compose(seed, (long) rr * columns + c);
        row.add(new Cell(s.toImage(), s.caption(), false));
      }
      rows.add(row);
    }
    int w = columns * cellW + pad, h = rows.size() * cellH + pad;
    BufferedImage sheet = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = sheet.createGraphics();
    try {
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, w, h);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      Font font = new Font(Font.SANS_SERIF, Font.PLAIN, 10);
      g.setFont(font);
      FontMetrics fm = g.getFontMetrics();
      for (int r = 0; r < rows.size(); r++)
        for (int c = 0; c < rows.get(r).size(); c++) {
          Cell cell = rows.get(r).get(c);
          int x0 = pad + c * cellW + (cellW - pad - img) / 2, y0 = pad + r * cellH;
          drawImage(sheet, cell.image, x0, y0, scale, cell.checker);
          g.setColor(Color.DARK_GRAY);
          int ty = y0 + img + fm.getAscent() + 1;
          for (String line : wrap(cell.caption, fm, cellW - pad, 3)) {
            g.drawString(line, pad + c * cellW, ty);
            ty += fm.getHeight() - 1;
          }
        }
    } finally {
      g.dispose();
    }
    return sheet;
  }

  /** The contact sheet as an output: a PNG that d2g wrote (when forced, any PNG). */
  public static final OutputKind KIND = OutputKind.png("contact sheet PNG");

  /**
   * Writes the sheet as a PNG marked as d2g's, atomically; an existing file is replaced only when
   * {@link #KIND} recognises it (with {@code force}, any PNG). Returns the file written.
   */
  public static Path write(BufferedImage sheet, Path file, boolean force) {
    return Outputs.writeBytes(file, KIND, force,
        Png.withText(ImageCodec.encodePng(RgbaImage.of(sheet)), "Software", Png.SOFTWARE));
  }

  private record Cell(RgbaImage image, String caption, boolean checker) {}

  private static void drawImage(BufferedImage dst, RgbaImage src, int x0, int y0, int scale, boolean checker) {
    for (int y = 0; y < src.height() * scale; y++)
      for (int x = 0; x < src.width() * scale; x++) {
        int i = ((y / scale) * src.width() + x / scale) * 4;
        byte[] p = src.rgba();
        int a = p[i + 3] & 255;
        int bg = !checker ? 255 : (((x / 8) + (y / 8)) % 2 == 0 ? 236 : 250);
        int r = ((p[i] & 255) * a + bg * (255 - a)) / 255;
        int gg = ((p[i + 1] & 255) * a + bg * (255 - a)) / 255;
        int b = ((p[i + 2] & 255) * a + bg * (255 - a)) / 255;
        dst.setRGB(x0 + x, y0 + y, r << 16 | gg << 8 | b);
      }
  }

  static List<String> wrap(String text, FontMetrics fm, int width, int maxLines) {
    List<String> lines = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    for (String word : text.split(" ")) {
      String cand = cur.isEmpty() ? word : cur + " " + word;
      if (fm.stringWidth(cand) <= width || cur.isEmpty()) cur = new StringBuilder(cand);
      else {
        lines.add(cur.toString());
        cur = new StringBuilder(word);
      }
    }
    if (!cur.isEmpty()) lines.add(cur.toString());
    if (lines.size() > maxLines) {
      List<String> cut = new ArrayList<>(lines.subList(0, maxLines));
      String last = cut.get(maxLines - 1);
      while (!last.isEmpty() && fm.stringWidth(last + "…") > width) last = last.substring(0, last.length() - 1);
      cut.set(maxLines - 1, last + "…");
      return cut;
    }
    return lines;
  }
}
