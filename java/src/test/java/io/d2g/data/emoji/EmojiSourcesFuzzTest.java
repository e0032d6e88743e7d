package io.d2g.data.emoji;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.d2g.data.DatasetException;
import io.d2g.data.ImageCodec;
import io.d2g.data.npm.NpmTarball;
import io.d2g.fuzz.FuzzDirs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * The emoji packages' contents as the dataset builder reads them, whatever they hold: the npm tarball
 * (gzip + tar), the emojibase-data catalogue (its JSON files), iconify icon sets (icons.json,
 * chars.json) and the pictures (PNG, WebP, SVG). Each is read or refused with a {@link DatasetException}
 * (the pictures' {@link ImageCodec.CorruptImageException} is one); never another exception, a hang or
 * an allocation the input's size does not justify. Regression inputs: EmojiSourcesFuzzTestInputs.
 */
class EmojiSourcesFuzzTest {
  private static final Path DIR = FuzzDirs.create("d2g-fuzz-emoji-sources");

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void readTarball(byte[] data) throws IOException {
    // The tar layer through a valid gzip stream (where the fuzzer can reach it), and the bytes as they are.
    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
      out.write(data);
    }
    for (byte[] bytes : new byte[][] {gz.toByteArray(), data}) {
      Path tgz = DIR.resolve("package.tgz");
      Files.write(tgz, bytes);
      try {
        Map<String, byte[]> files = NpmTarball.read(tgz, p -> true);
        for (String name : files.keySet()) NpmTarball.readOne(tgz, name);
      } catch (DatasetException expected) {
        // a clear error for a bad tarball
      } finally {
        Files.deleteIfExists(tgz);
      }
    }
  }

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void readCatalog(byte[] data) {
    // The input as the catalogue and as each names file; the groups as the package has them.
    Map<String, byte[]> files = new HashMap<>();
    files.put(EmojiCatalog.DATA, data);
    files.put(EmojiCatalog.GROUPS, FakeNpm.emojibase().get(EmojiCatalog.GROUPS));
    files.put(EmojiCatalog.UNICODE_NAMES, data);
    for (String set : EmojiCatalog.SHORTCODE_SETS) files.put("package/en/shortcodes/" + set + ".json", data);
    try {
      EmojiCatalog catalog = EmojiCatalog.parse(files);
      for (Concept c : catalog.concepts()) {
        catalog.find(c.hexcode());
        catalog.altNames(c.hexcode());
        Captions.single(c.label(), EmojiStyle.NOTO);
        for (Concept.Variant v : c.skins()) EmojiCatalog.key(v.hexcode());
      }
    } catch (DatasetException expected) {
      // a clear error for a bad catalogue
    }
  }

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void readIconSet(byte[] data) {
    // The input as icons.json and as chars.json.
    for (byte[] chars : new byte[][] {null, data}) {
      try {
        IconifySet set = IconifySet.parse(data, chars);
        set.chars().forEach((key, name) -> set.icons().get(name));
        set.icons().values().stream().limit(16).forEach(icon -> icon.toSvg(16));
      } catch (DatasetException expected) {
        // a clear error for a bad icon set
      }
    }
  }

  @FuzzTest(maxExecutions = 1_000_000, maxDuration = "60m")
  void decodePictures(byte[] data) {
    try {
      ImageCodec.decode(data, 8);
    } catch (DatasetException expected) {
      // not a picture ImageIO can read, or too large
    }
    try {
      ImageCodec.renderSvg(new String(data, StandardCharsets.UTF_8), 4);
    } catch (DatasetException expected) {
      // not an SVG JSVG can render, or nothing drawn
    }
  }
}
