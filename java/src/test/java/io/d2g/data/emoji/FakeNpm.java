package io.d2g.data.emoji;

import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.data.npm.Integrity;
import io.d2g.data.npm.NpmPackage;
import io.d2g.data.npm.PackageFetcher;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Tiny fake npm packages in the real layouts (emojibase-data, emoji-datasource PNGs, Fluent 3D WebP,
 * iconify SVG sets with and without chars.json), a "registry" folder of their tarballs, a fetcher
 * that copies from it, and pins with their integrity. No network.
 */
public final class FakeNpm {
  final Path registry;
  public final Map<String, NpmPackage> pins = new HashMap<>();
  final AtomicInteger fetches = new AtomicInteger();

  /** Known solid colours of the fake PNG art, by codepoint key. */
  static final Map<String, Color> PNG_COLOURS = new LinkedHashMap<>();

  static {
    PNG_COLOURS.put("1F600", new Color(250, 200, 0));
    PNG_COLOURS.put("1F44B", new Color(255, 204, 77));
    PNG_COLOURS.put("1F44B-1F3FB", new Color(250, 220, 190));
    PNG_COLOURS.put("1F44B-1F3FF", new Color(90, 60, 40));
    PNG_COLOURS.put("1F408", new Color(200, 120, 40));
    PNG_COLOURS.put("0023-20E3", new Color(40, 120, 220));
  }

  public FakeNpm(Path root) throws IOException {
    this.registry = Files.createDirectories(root.resolve("registry"));
    add(EmojiStyle.CAPTIONS.name(), emojibase());
    add(EmojiStyle.NOTO.npm().name(), google());
    add(EmojiStyle.FLUENT_3D.npm().name(), fluent3d());
    add(EmojiStyle.FLUENT_FLAT.npm().name(), iconify(true));
    add(EmojiStyle.EMOJIONE.npm().name(), iconify(false));
  }

  /** A fetcher like npm pack: copies the tarball from the fake registry into the cache unless there. */
  public PackageFetcher fetcher() {
    return (pkg, cache) -> {
      try {
        Path t = cache.resolve(pkg.tarballName());
        if (Files.exists(t)) return t;
        fetches.incrementAndGet();
        Files.createDirectories(cache);
        Files.copy(registry.resolve(pkg.tarballName()), t, StandardCopyOption.REPLACE_EXISTING);
        return t;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
  }

  Path tarball(String name) {
    return registry.resolve(pins.get(name).tarballName());
  }

  private void add(String name, Map<String, byte[]> files) throws IOException {
    NpmPackage p = new NpmPackage(name, "0.0.1-test", null);
    Path t = registry.resolve(p.tarballName());
    ByteArrayOutputStream os = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(os);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(gz)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (var e : files.entrySet()) {
        TarArchiveEntry en = new TarArchiveEntry(e.getKey());
        en.setModTime(0); // the same tarball, and pin, in every process
        en.setSize(e.getValue().length);
        tar.putArchiveEntry(en);
        tar.write(e.getValue());
        tar.closeArchiveEntry();
      }
    }
    byte[] bytes = os.toByteArray();
    // written only when it differs, so that a second FakeNpm over the same folder writes nothing
    if (!Files.isRegularFile(t) || !java.util.Arrays.equals(Files.readAllBytes(t), bytes)) Files.write(t, bytes);
    pins.put(name, new NpmPackage(name, "0.0.1-test", Integrity.of(t, "sha512")));
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static Map<String, byte[]> emojibase() {
    Map<String, byte[]> f = new LinkedHashMap<>();
    f.put("package/package.json", utf8("{\"name\":\"emojibase-data\"}"));
    f.put("package/en/data.json", utf8("""
        [
         {"label":"regional indicator A","hexcode":"1F1E6","emoji":"🇦","type":1,"version":0},
         {"label":"grinning face","hexcode":"1F600","emoji":"😀","tags":["face","grin"],"group":0,"subgroup":0,"order":1},
         {"label":"waving hand","hexcode":"1F44B","emoji":"👋","tags":["hand","wave"],"group":1,"subgroup":1,"order":2,
          "skins":[{"label":"waving hand: light skin tone","hexcode":"1F44B-1F3FB","group":1,"subgroup":1,"order":3,"tone":1},
                   {"label":"waving hand: dark skin tone","hexcode":"1F44B-1F3FF","group":1,"subgroup":1,"order":4,"tone":5}]},
         {"label":"light skin tone","hexcode":"1F3FB","emoji":"🏻","group":2,"subgroup":2,"order":5},
         {"label":"cat","hexcode":"1F408","emoji":"🐈","tags":["pet"],"group":3,"subgroup":3,"order":6},
         {"label":"dog","hexcode":"1F415","emoji":"🐕","tags":["pet"],"group":3,"subgroup":3,"order":7},
         {"label":"automobile","hexcode":"1F697","emoji":"🚗","tags":["car"],"group":5,"subgroup":4,"order":8},
         {"label":"black small square","hexcode":"25AA","emoji":"▪️","tags":["square"],"group":8,"subgroup":5,"order":9},
         {"label":"keycap: #","hexcode":"0023-FE0F-20E3","emoji":"#️⃣","tags":["keycap"],"group":8,"subgroup":6,"order":10}
        ]"""));
    f.put("package/meta/groups.json", utf8("""
        {"groups":{"0":"smileys-emotion","1":"people-body","2":"component","3":"animals-nature","5":"travel-places","8":"symbols"},
         "subgroups":{"0":"face-smiling","1":"hand-fingers-open","2":"skin-tone","3":"animal-mammal","4":"transport-ground","5":"geometric","6":"keycap"}}"""));
    f.put("package/meta/unicode-names.json", utf8("{\"1F415\":\"DOG\",\"1F697\":\"AUTOMOBILE\"}"));
    f.put("package/en/shortcodes/joypixels.json", utf8("{\"1F697\":[\"red_car\",\"car\"],\"0023-FE0F-20E3\":\"hash\"}"));
    return f;
  }

  /** Square art: a solid colour disc on transparency, 64 px, as PNG. */
  static byte[] discPng(Color c, int size) {
    BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_ARGB);
    Graphics2D g = img.createGraphics();
    g.setColor(c);
    g.fillOval(size / 8, size / 8, size * 3 / 4, size * 3 / 4);
    g.dispose();
    return ImageCodec.encodePng(RgbaImage.of(img));
  }

  static Map<String, byte[]> google() {
    Map<String, byte[]> f = new LinkedHashMap<>();
    f.put("package/package.json", utf8("{\"name\":\"emoji-datasource-google\"}"));
    f.put("package/img/google/64/1f600.png", discPng(PNG_COLOURS.get("1F600"), 64));
    f.put("package/img/google/64/1f44b.png", discPng(PNG_COLOURS.get("1F44B"), 64));
    f.put("package/img/google/64/1f44b-1f3fb.png", discPng(PNG_COLOURS.get("1F44B-1F3FB"), 64));
    f.put("package/img/google/64/1f44b-1f3ff.png", discPng(PNG_COLOURS.get("1F44B-1F3FF"), 64));
    f.put("package/img/google/64/1f408.png", discPng(PNG_COLOURS.get("1F408"), 64));
    f.put("package/img/google/64/0023-fe0f-20e3.png", discPng(PNG_COLOURS.get("0023-20E3"), 64));
    byte[] good = discPng(Color.GREEN, 64);
    f.put("package/img/google/64/1f415.png", java.util.Arrays.copyOf(good, good.length / 2)); // truncated
    f.put("package/img/google/64/1f697.png", utf8("this is not a png")); // garbage
    f.put("package/img/google/64/1f9ff.png", discPng(Color.RED, 64)); // no such concept: ignored
    f.put("package/img/google/sheets/sheet_google_64.png", discPng(Color.RED, 64)); // not in the 64/ folder
    return f;
  }

  public static byte[] webp() {
    try (InputStream in = FakeNpm.class.getResourceAsStream("/io/d2g/data/25aa-fe0f.webp")) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Map<String, byte[]> fluent3d() {
    Map<String, byte[]> f = new LinkedHashMap<>();
    f.put("package/package.json", utf8("{\"name\":\"@lobehub/fluent-emoji-3d\"}"));
    f.put("package/assets/25aa-fe0f.webp", webp());
    f.put("package/assets/1f408.webp", java.util.Arrays.copyOf(webp(), 100)); // truncated
    return f;
  }

  /** A red square (left half) and blue (right half) icon, and a green circle, in a 32 box. */
  public static Map<String, byte[]> iconify(boolean withChars) {
    Map<String, byte[]> f = new LinkedHashMap<>();
    f.put("package/package.json", utf8("{\"name\":\"iconify\"}"));
    String icons = """
        {"prefix":"x","width":32,"height":32,"icons":{
          "cat":{"body":"<rect x='0' y='0' width='16' height='32' fill='#ff0000'/><rect x='16' y='0' width='16' height='32' fill='#0000ff'/>"},
          "grinning-face":{"body":"<circle cx='16' cy='16' r='12' fill='#00c000'/>"},
          "hash":{"body":"<rect x='4' y='4' width='24' height='24' fill='#808080'/>"},
          "black-small-square":{"body":"<rect x='0' y='0' width='"},
          "waving-hand-dark-skin-tone":{"body":"<circle cx='16' cy='16' r='12' fill='#5a3c28'/>"}
        },
        "aliases":{"dog":{"parent":"cat","hFlip":true}}}""";
    f.put("package/icons.json", utf8(icons));
    if (withChars) f.put("package/chars.json", utf8("{\"1f408\":\"cat\",\"1f415\":\"dog\"}"));
    return f;
  }
}
