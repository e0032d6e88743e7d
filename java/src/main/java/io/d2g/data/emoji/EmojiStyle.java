package io.d2g.data.emoji;

import io.d2g.data.DatasetException;
import io.d2g.data.npm.NpmPackage;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The emoji art sets the dataset is built from, each pinned to one npm package version and its
 * registry integrity hash. Apple, Facebook (not licensed for this) and OpenMoji (share-alike) are
 * deliberately absent.
 */
public enum EmojiStyle {
  NOTO("noto", "noto", new NpmPackage("emoji-datasource-google", "16.0.0",
      "sha512-ZRexfzs7MVoLnmzZmNsO4TKhnAJp5D++Vm6PpUpH/jEQQlemp3l88CjZ+DoZ2faM9R4QxZkOPJCoT8DlPhfQ3A=="),
      Format.PNG_DIR, "package/img/google/64/", "Apache-2.0",
      "Noto Emoji by Google (https://github.com/googlefonts/noto-emoji), via emoji-datasource-google"),
  TWEMOJI("twemoji", "twemoji", new NpmPackage("emoji-datasource-twitter", "16.0.0",
      "sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ=="),
      Format.PNG_DIR, "package/img/twitter/64/", "CC-BY-4.0",
      "Twemoji by Twitter, Inc and other contributors (https://github.com/jdecked/twemoji), via emoji-datasource-twitter"),
  FLUENT_3D("fluent-3d", "fluent 3d", new NpmPackage("@lobehub/fluent-emoji-3d", "1.1.0",
      "sha512-Wlq2lVStTnr8BDpIJ0pEnTKO4LuDxxqTEhTvRtD1DLRF0me7ogeRQjKoehDHXuVJ2Qaecgl5wRBv60lUAG3h7g=="),
      Format.WEBP_DIR, "package/assets/", "MIT",
      "Fluent Emoji 3D by Microsoft Corporation (https://github.com/microsoft/fluentui-emoji), via @lobehub/fluent-emoji-3d"),
  FLUENT_FLAT("fluent-flat", "fluent flat", new NpmPackage("@iconify-json/fluent-emoji-flat", "1.2.6",
      "sha512-RY47RgPb47fYUiyrA64sIOL0+UU02s29sXpNBbIQRBUlPlfNFTKUmZDERGuxDs/7yNGWqQYvuaSYM1M4fRXlUw=="),
      Format.ICONIFY, "package/", "MIT",
      "Fluent Emoji Flat by Microsoft Corporation (https://github.com/microsoft/fluentui-emoji), via @iconify-json/fluent-emoji-flat"),
  EMOJIONE("emojione", "emojione", new NpmPackage("@iconify-json/emojione", "1.2.3",
      "sha512-T9+T3HIbJNLKKsmxYKlaYhvnHYkz/HNYTV7SHCXVZPfeUi4FqskY70YeN8yYAZT8cCv7w5vJxS4Q1m8zb9CMMg=="),
      Format.ICONIFY, "package/", "CC-BY-4.0",
      "Emoji One (Colored) by Emoji One (https://github.com/EmojiTwo/emojitwo), via @iconify-json/emojione"),
  FXEMOJI("fxemoji", "fxemoji", new NpmPackage("@iconify-json/fxemoji", "1.2.2",
      "sha512-UAasRaxzFUKfIGSmLwnoarsssA4LX0VLLuEmplIqM6ZNQqIQRtav8tZ4H1neTlBreXuMQyAifr5jP4kn78DpiQ=="),
      Format.ICONIFY, "package/", "Apache-2.0",
      "Firefox OS Emoji by Mozilla (https://github.com/mozilla/fxemoji), via @iconify-json/fxemoji"),
  STREAMLINE("streamline", "streamline", new NpmPackage("@iconify-json/streamline-emojis", "1.2.4",
      "sha512-iNr9T9XuZVTyQPJO8ZlLxBzPkpi7qMl+z1l0C31vpEMqhPMelth3n7CeWQYtixdetDPdI81yeG4ROqjWpYJE6A=="),
      Format.ICONIFY, "package/", "CC-BY-4.0",
      "Streamline Emojis by Streamline (https://github.com/webalys-hq/streamline-vectors), via @iconify-json/streamline-emojis");

  /** Labels, tags, groups and skin tones (Unicode CLDR), keyed by codepoint. MIT. */
  public static final NpmPackage CAPTIONS = new NpmPackage("emojibase-data", "17.0.0",
      "sha512-Yvgb5AWoHViHV/gq1qr5ZAarcBip+B27/ZLRsUJkbgAEaLlZ/fof9g882LTpmEpyhBNEC0m2SEmItljHsTygjA==");

  /** How a package stores its art. */
  public enum Format {
    /** One PNG per emoji, named by lowercase hex codepoints joined with '-'. */
    PNG_DIR,
    /** One WebP per emoji, named like PNG_DIR. */
    WEBP_DIR,
    /** An iconify JSON icon set: icons.json (SVG bodies), optionally chars.json (codepoint to name). */
    ICONIFY
  }

  private final String id;
  private final String captionName;
  private final NpmPackage npm;
  private final Format format;
  private final String prefix;
  private final String licence;
  private final String credit;

  EmojiStyle(String id, String captionName, NpmPackage npm, Format format, String prefix, String licence,
      String credit) {
    this.id = id;
    this.captionName = captionName;
    this.npm = npm;
    this.format = format;
    this.prefix = prefix;
    this.licence = licence;
    this.credit = credit;
  }

  /** The identifier used on the command line and in the index ({@code fluent-3d}). */
  public String id() {
    return id;
  }

  /** The words used in captions ({@code "fluent 3d"} in {@code "cat, fluent 3d style"}). */
  public String captionName() {
    return captionName;
  }

  public NpmPackage npm() {
    return npm;
  }

  public Format format() {
    return format;
  }

  /** Path prefix of the art inside the tarball. */
  public String prefix() {
    return prefix;
  }

  /** SPDX identifier of the art's licence. */
  public String licence() {
    return licence;
  }

  /** Who made the art and where it comes from, for ATTRIBUTION.md. */
  public String credit() {
    return credit;
  }

  public static List<EmojiStyle> all() {
    return List.of(values());
  }

  /** Parses an id ({@code noto}, {@code fluent-3d}, ...), case-insensitively. */
  public static EmojiStyle parse(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
    for (EmojiStyle st : values()) if (st.id.equals(t) || st.captionName.equals(t)) return st;
    throw new DatasetException("unknown emoji style '" + s + "' (expected one of "
        + Arrays.stream(values()).map(EmojiStyle::id).collect(Collectors.joining(", ")) + ")");
  }
}
