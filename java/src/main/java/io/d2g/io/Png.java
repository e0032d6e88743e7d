package io.d2g.io;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/** PNG text chunks: the {@code Software: d2g} mark that lets d2g recognise the pictures it wrote. */
public final class Png {
  /** The value of the {@code Software} text chunk of the PNG files d2g writes. */
  public static final String SOFTWARE = "d2g";

  private Png() {}

  /** The PNG with a {@code tEXt} chunk {@code keyword: text} inserted after its header chunk. */
  public static byte[] withText(byte[] png, String keyword, String text) {
    if (png.length < 33 || png[12] != 'I' || png[13] != 'H' || png[14] != 'D' || png[15] != 'R')
      throw new IllegalArgumentException("not a PNG with an IHDR chunk first");
    byte[] k = keyword.getBytes(StandardCharsets.ISO_8859_1), t = text.getBytes(StandardCharsets.ISO_8859_1);
    byte[] data = new byte[k.length + 1 + t.length];
    System.arraycopy(k, 0, data, 0, k.length);
    System.arraycopy(t, 0, data, k.length + 1, t.length);
    ByteArrayOutputStream out = new ByteArrayOutputStream(png.length + data.length + 12);
    int ihdrEnd = 8 + 8 + 13 + 4;
    out.write(png, 0, ihdrEnd);
    writeInt(out, data.length);
    byte[] type = "tEXt".getBytes(StandardCharsets.ISO_8859_1);
    out.writeBytes(type);
    out.writeBytes(data);
    CRC32 crc = new CRC32();
    crc.update(type);
    crc.update(data);
    writeInt(out, (int) crc.getValue());
    out.write(png, ihdrEnd, png.length - ihdrEnd);
    return out.toByteArray();
  }

  /** The {@code Software} text of a PNG stream, or "" when there is none before the image data. */
  static String software(InputStream raw) throws IOException {
    DataInputStream in = new DataInputStream(raw);
    try {
      in.readNBytes(8);
      for (int i = 0; i < 64; i++) {
        int len = in.readInt();
        byte[] type = in.readNBytes(4);
        String t = new String(type, StandardCharsets.ISO_8859_1);
        if (len < 0 || t.equals("IDAT") || t.equals("IEND")) return "";
        if (t.equals("tEXt") && len < 4096) {
          String s = new String(in.readNBytes(len), StandardCharsets.ISO_8859_1);
          in.readInt();
          int nul = s.indexOf('\0');
          if (nul > 0 && s.substring(0, nul).equals("Software")) return s.substring(nul + 1);
        } else {
          in.skipNBytes(len + 4L);
        }
      }
    } catch (EOFException e) {
      return "";
    }
    return "";
  }

  private static void writeInt(ByteArrayOutputStream out, int v) {
    out.write(v >>> 24);
    out.write(v >>> 16);
    out.write(v >>> 8);
    out.write(v);
  }
}
