package io.d2g.data;

import com.github.weisj.jsvg.SVGDocument;
import com.github.weisj.jsvg.parser.LoaderContext;
import com.github.weisj.jsvg.parser.SVGLoader;
import com.github.weisj.jsvg.view.ViewBox;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Decodes PNG and WebP (ImageIO with TwelveMonkeys), renders SVG (JSVG), and encodes RGBA PNGs
 * deterministically (our own encoder: per-row adaptive filter, zlib level 9, colour of fully
 * transparent pixels cleared), so a rebuilt dataset is byte-identical.
 */
public final class ImageCodec {
  /** SVGs are rendered at this many times the target size and then area-averaged down. */
  public static final int SVG_SUPERSAMPLE = 4;

  private static final java.util.logging.Logger JSVG_LOG = java.util.logging.Logger.getLogger("com.github.weisj.jsvg");

  static {
    ImageIO.setUseCache(false);
    ImageIO.scanForPlugins();
    // JSVG reports unparsable documents through java.util.logging with a stack trace; the builder
    // logs one warning per skipped picture itself.
    JSVG_LOG.setLevel(java.util.logging.Level.OFF);
  }


  private ImageCodec() {}

  /**
   * The most pixels a picture may have (4096 x 4096): a header can declare any size, and the decoder
   * would allocate it before reading a pixel.
   */
  public static final long MAX_PIXELS = 4096L * 4096L;

  /**
   * Decodes PNG, WebP or any other format ImageIO can read, of at most {@link #MAX_PIXELS} pixels.
   * Throws {@link CorruptImageException}.
   */
  public static RgbaImage decode(byte[] bytes) {
    BufferedImage img;
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
      Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
      if (readers == null || !readers.hasNext()) throw new CorruptImageException("not an image format ImageIO can read", null);
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        long w = reader.getWidth(0), h = reader.getHeight(0);
        if (w < 1 || h < 1 || w * h > MAX_PIXELS)
          throw new CorruptImageException("the picture declares " + w + " x " + h + " pixels; at most " + MAX_PIXELS
              + " are read", null);
        img = reader.read(0);
      } finally {
        reader.dispose();
      }
    } catch (IOException | RuntimeException e) {
      if (e instanceof CorruptImageException c) throw c;
      throw new CorruptImageException("cannot decode image (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", e);
    }
    if (img == null) throw new CorruptImageException("not an image format ImageIO can read", null);
    return RgbaImage.of(img);
  }

  /** Decodes and scales to size x size (area averaging down, linear up; alpha-correct). */
  public static RgbaImage decode(byte[] bytes, int size) {
    RgbaImage img = decode(bytes);
    return Resampler.resize(squared(img), size, size);
  }

  /** Renders an SVG document to size x size RGBA (supersampled, then area-averaged). */
  public static RgbaImage renderSvg(String svg, int size) {
    int r = size * SVG_SUPERSAMPLE;
    SVGDocument doc;
    try {
      doc = new SVGLoader().load(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)), null,
          LoaderContext.createDefault());
    } catch (RuntimeException e) {
      throw new CorruptImageException("cannot parse SVG: " + e.getMessage(), e);
    }
    if (doc == null) throw new CorruptImageException("cannot parse SVG", null);
    BufferedImage img = new BufferedImage(r, r, BufferedImage.TYPE_INT_ARGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
      g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
      g.setRenderingHint(RenderingHints.KEY_COLOR_RENDERING, RenderingHints.VALUE_COLOR_RENDER_QUALITY);
      doc.render(null, g, new ViewBox(0, 0, r, r));
    } catch (RuntimeException e) {
      throw new CorruptImageException("cannot render SVG: " + e.getMessage(), e);
    } finally {
      g.dispose();
    }
    RgbaImage out = RgbaImage.of(img);
    if (out.opaqueCount(0) == 0) throw new CorruptImageException("SVG rendered to an empty image", null);
    return Resampler.resize(out, size, size);
  }

  /** Pads a non-square image with transparency, centred, so scaling keeps its aspect ratio. */
  static RgbaImage squared(RgbaImage img) {
    if (img.width() == img.height()) return img;
    int s = Math.max(img.width(), img.height());
    byte[] out = new byte[s * s * 4];
    int ox = (s - img.width()) / 2, oy = (s - img.height()) / 2;
    for (int y = 0; y < img.height(); y++)
      System.arraycopy(img.rgba(), y * img.width() * 4, out, ((y + oy) * s + ox) * 4, img.width() * 4);
    return new RgbaImage(s, s, out);
  }

  // ---- PNG encoding ------------------------------------------------------------------------------

  private static final byte[] SIGNATURE = {(byte) 137, 80, 78, 71, 13, 10, 26, 10};

  /** Encodes as an 8-bit RGBA PNG (colour of alpha-0 pixels cleared first). Deterministic. */
  public static byte[] encodePng(RgbaImage image) {
    RgbaImage img = image.clearTransparent();
    int w = img.width(), h = img.height(), stride = w * 4;
    byte[] src = img.rgba();
    byte[] filtered = new byte[h * (stride + 1)];
    byte[] cand = new byte[stride];
    byte[] best = new byte[stride];
    for (int y = 0; y < h; y++) {
      long bestScore = Long.MAX_VALUE;
      int bestType = 0;
      for (int type = 0; type < 5; type++) {
        long score = 0;
        for (int i = 0; i < stride; i++) {
          int x = src[y * stride + i] & 255;
          int a = i >= 4 ? src[y * stride + i - 4] & 255 : 0;
          int b = y > 0 ? src[(y - 1) * stride + i] & 255 : 0;
          int c = (i >= 4 && y > 0) ? src[(y - 1) * stride + i - 4] & 255 : 0;
          int v = switch (type) {
            case 0 -> x;
            case 1 -> x - a;
            case 2 -> x - b;
            case 3 -> x - ((a + b) >>> 1);
            default -> x - paeth(a, b, c);
          };
          cand[i] = (byte) v;
          score += Math.abs((byte) v);
        }
        if (score < bestScore) {
          bestScore = score;
          bestType = type;
          System.arraycopy(cand, 0, best, 0, stride);
        }
      }
      filtered[y * (stride + 1)] = (byte) bestType;
      System.arraycopy(best, 0, filtered, y * (stride + 1) + 1, stride);
    }
    try {
      ByteArrayOutputStream z = new ByteArrayOutputStream();
      Deflater def = new Deflater(9);
      try (DeflaterOutputStream dos = new DeflaterOutputStream(z, def, 1 << 15)) {
        dos.write(filtered);
      } finally {
        def.end();
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream(z.size() + 64);
      DataOutputStream d = new DataOutputStream(out);
      d.write(SIGNATURE);
      ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
      DataOutputStream ih = new DataOutputStream(ihdr);
      ih.writeInt(w);
      ih.writeInt(h);
      ih.write(new byte[] {8, 6, 0, 0, 0}); // 8-bit, RGBA, deflate, adaptive filter, no interlace
      chunk(d, "IHDR", ihdr.toByteArray());
      chunk(d, "IDAT", z.toByteArray());
      chunk(d, "IEND", new byte[0]);
      return out.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static int paeth(int a, int b, int c) {
    int p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  }

  private static void chunk(DataOutputStream d, String type, byte[] data) throws IOException {
    byte[] t = type.getBytes(StandardCharsets.US_ASCII);
    d.writeInt(data.length);
    d.write(t);
    d.write(data);
    CRC32 crc = new CRC32();
    crc.update(t);
    crc.update(data);
    d.writeInt((int) crc.getValue());
  }

  /** An image that could not be decoded or rendered; the builder skips it and counts it. */
  public static final class CorruptImageException extends DatasetException {
    public CorruptImageException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
