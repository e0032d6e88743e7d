package io.d2g.data;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.data.emoji.FakeNpm;
import io.d2g.data.emoji.IconifySet;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.DeflaterOutputStream;
import org.junit.jupiter.api.Test;

public class ImageCodecTest {
  @Test
  void pngRoundTripIsExactAndDeterministic() {
    byte[] px = new byte[13 * 7 * 4];
    new Random(1).nextBytes(px);
    for (int i = 3; i < px.length; i += 4) if (px[i] == 0) px[i] = 1; // alpha 0 pixels lose their colour
    RgbaImage img = new RgbaImage(13, 7, px);
    byte[] png = ImageCodec.encodePng(img);
    assertArrayEquals(png, ImageCodec.encodePng(img));
    assertArrayEquals(px, ImageCodec.decode(png).rgba());
  }

  @Test
  void transparentPixelsLoseTheirHiddenColour() {
    RgbaImage img = new RgbaImage(1, 1, new byte[] {10, 20, 30, 0});
    assertArrayEquals(new byte[] {0, 0, 0, 0}, ImageCodec.decode(ImageCodec.encodePng(img)).rgba());
  }

  @Test
  void decodesWebpWithAlphaAndScalesItDown() {
    RgbaImage full = ImageCodec.decode(FakeNpm.webp());
    assertEquals(256, full.width());
    RgbaImage small = ImageCodec.decode(FakeNpm.webp(), 64);
    assertEquals(64, small.width());
    assertEquals(0, small.alpha(0, 0), "corner of the black small square is transparent");
    assertEquals(255, small.alpha(32, 32));
    int i = (32 * 64 + 32) * 4;
    assertTrue((small.rgba()[i] & 255) < 90, "the square is dark");
  }

  @Test
  void rendersSvgAtTheRequestedSize() {
    IconifySet set = IconifySet.parse(FakeNpm.iconify(true).get("package/icons.json"), null);
    RgbaImage cat = ImageCodec.renderSvg(set.icons().get("cat").toSvg(64), 16);
    assertEquals(16, cat.width());
    assertPixel(cat, 3, 8, 255, 0, 0, 255); // left half red
    assertPixel(cat, 12, 8, 0, 0, 255, 255); // right half blue
    RgbaImage dog = ImageCodec.renderSvg(set.icons().get("dog").toSvg(64), 16); // alias with hFlip
    assertPixel(dog, 3, 8, 0, 0, 255, 255);
    assertPixel(dog, 12, 8, 255, 0, 0, 255);
  }

  @Test
  void brokenSvgIsACorruptImage() {
    assertThrows(ImageCodec.CorruptImageException.class, () -> ImageCodec.renderSvg("<svg><rect width='", 16));
    assertThrows(ImageCodec.CorruptImageException.class, () -> ImageCodec.decode(new byte[] {1, 2, 3}));
  }

  @Test
  void aPictureDeclaringMorePixelsThanTheLimitIsRefusedBeforeItsPixelsAreAllocated() {
    // A valid 60000 x 60000 PNG header over one tiny IDAT: the decoder would allocate 14 GB first.
    byte[] bomb = png(60_000, 60_000, new byte[] {0});
    ImageCodec.CorruptImageException e = assertThrows(ImageCodec.CorruptImageException.class, () -> ImageCodec.decode(bomb));
    assertTrue(e.getMessage().contains("60000 x 60000"), e.getMessage());
    byte[] ok = png(2, 1, new byte[] {0, 1, 2, 3, 4, 5, 6, 7, 8});  // filter byte + 2 RGBA pixels
    assertEquals(2, ImageCodec.decode(ok).width());
  }

  /** A PNG of the given header (8-bit RGBA) over the deflated scanlines (any bytes). */
  static byte[] png(int w, int h, byte[] scanlines) {
    var out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {(byte) 137, 80, 78, 71, 13, 10, 26, 10});
    chunk(out, "IHDR", ByteBuffer.allocate(13).putInt(w).putInt(h).put(new byte[] {8, 6, 0, 0, 0}).array());
    var z = new ByteArrayOutputStream();
    try (var d = new DeflaterOutputStream(z)) {
      d.write(scanlines);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    chunk(out, "IDAT", z.toByteArray());
    chunk(out, "IEND", new byte[0]);
    return out.toByteArray();
  }

  private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
    byte[] t = type.getBytes(StandardCharsets.US_ASCII);
    var crc = new CRC32();
    crc.update(t);
    crc.update(data);
    out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
    out.writeBytes(t);
    out.writeBytes(data);
    out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
  }

  @Test
  void areaDownscaleAveragesAndDoesNotBleedTransparentColour() {
    // 4x4: left two columns transparent red, right two opaque blue -> 2x2 down, then 1x1
    byte[] px = new byte[4 * 4 * 4];
    for (int y = 0; y < 4; y++)
      for (int x = 0; x < 4; x++) {
        int i = (y * 4 + x) * 4;
        if (x < 2) {
          px[i] = (byte) 255;
        } else {
          px[i + 2] = (byte) 255;
          px[i + 3] = (byte) 255;
        }
      }
    RgbaImage one = Resampler.resize(new RgbaImage(4, 4, px), 1, 1);
    assertPixel(one, 0, 0, 0, 0, 255, 128); // half covered, pure blue: no red from the invisible pixels
    // 2x upscale of a constant stays constant
    RgbaImage grey = new RgbaImage(2, 2, new byte[] {100, 100, 100, (byte) 255, 100, 100, 100, (byte) 255, 100, 100,
        100, (byte) 255, 100, 100, 100, (byte) 255});
    RgbaImage up = Resampler.resize(grey, 5, 5);
    assertPixel(up, 2, 3, 100, 100, 100, 255);
  }

  public static void assertPixel(RgbaImage img, int x, int y, int r, int g, int b, int a) {
    int i = (y * img.width() + x) * 4;
    byte[] p = img.rgba();
    String got = (p[i] & 255) + "," + (p[i + 1] & 255) + "," + (p[i + 2] & 255) + "," + (p[i + 3] & 255);
    assertTrue(Math.abs((p[i] & 255) - r) <= 2 && Math.abs((p[i + 1] & 255) - g) <= 2 && Math.abs((p[i + 2] & 255) - b) <= 2
        && Math.abs((p[i + 3] & 255) - a) <= 2, "pixel " + x + "," + y + " is " + got + ", expected " + r + "," + g + ","
        + b + "," + a);
  }
}
