package io.d2g.data.emoji;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.d2g.data.DatasetException;
import io.d2g.data.ImageCodec;
import io.d2g.data.RgbaImage;
import io.d2g.data.npm.Integrity;
import io.d2g.data.npm.NpmFetcher;
import io.d2g.data.npm.NpmPackage;
import io.d2g.data.npm.PackageFetcher;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds the emoji dataset: fetches the pinned npm packages (reusing the cache), verifies each
 * tarball's integrity, maps pictures to CLDR concepts, decodes or renders them, scales them to the
 * target size, and writes PNG shards with their index, the split, the caption corpus, the held-out
 * prompts and the attribution. Output goes to a temporary folder that is put in place of {@code out}
 * only when everything succeeded, and only where {@code out} may be replaced ({@link #KIND}); the
 * same inputs and options give byte-identical files.
 */
public final class EmojiDatasetBuilder {
  private static final Logger log = LoggerFactory.getLogger(EmojiDatasetBuilder.class);
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
      .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
  static final ObjectMapper JSONL = new ObjectMapper();
  public static final String FORMAT = "d2g-emoji-shards";
  public static final int FORMAT_VERSION = 1;

  /** The files of a dataset besides its shards ({@code images-NNNNN.bin}); the manifest comes last. */
  static final List<String> FILES = List.of("index.jsonl", "concepts.json", "splits.json", "captions-train.txt",
      "eval-prompts.jsonl", "ATTRIBUTION.md");
  private static final java.util.regex.Pattern SHARD = java.util.regex.Pattern.compile("images-\\d{5}\\.bin");

  /**
   * An emoji dataset as an output: recognised when its manifest has this format and names every
   * file in the folder; when forced, also a folder of nothing but dataset files (an older format, a
   * lost or damaged manifest).
   */
  public static final OutputKind KIND = new OutputKind() {
    @Override
    public String description() {
      return "emoji dataset";
    }

    @Override
    public boolean recognises(Path dir) throws IOException {
      Path mf = dir.resolve("manifest.json");
      if (!Files.isRegularFile(mf, LinkOption.NOFOLLOW_LINKS)) return false;
      com.fasterxml.jackson.databind.JsonNode m;
      try {
        m = JSON.readTree(Files.readAllBytes(mf));
      } catch (IOException e) {
        return false;
      }
      if (m == null || !FORMAT.equals(m.path("format").asText())) return false;
      Set<String> named = new java.util.HashSet<>(Set.of("manifest.json"));
      m.path("files").forEach(f -> named.add(f.asText()));
      m.path("shards").forEach(f -> named.add(f.path("file").asText()));
      try (var s = Files.list(dir)) {
        return s.allMatch(p -> named.contains(p.getFileName().toString())
            && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS));
      }
    }

    @Override
    public boolean replaceableWhenForced(Path dir) throws IOException {
      try (var s = Files.list(dir)) {
        return s.allMatch(p -> {
          String n = p.getFileName().toString();
          return Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)
              && (n.equals("manifest.json") || FILES.contains(n) || SHARD.matcher(n).matches());
        });
      }
    }
  };

  /**
   * Build options. {@code shardBytes}: a shard is closed once it holds at least this many bytes.
   * {@code force}: also replace an older or damaged emoji dataset at {@code out} (a folder holding
   * nothing but dataset files); a complete dataset is replaced without it, anything else never.
   */
  public record Options(Path out, Path cache, int size, List<EmojiStyle> styles, SkinTones skinTones, Splits splits,
      long shardBytes, boolean progress, int threads, int evalCompositional, boolean force) {
    public Options {
      if (size < 8 || size > 1024) throw new DatasetException("--size must be between 8 and 1024, got " + size);
      if (styles.isEmpty()) throw new DatasetException("no styles selected");
      if (threads < 1) throw new DatasetException("--threads must be at least 1, got " + threads);
      if (shardBytes < 1) throw new DatasetException("the shard size must be at least 1 byte, got " + shardBytes);
      if (evalCompositional < 0)
        throw new DatasetException("the number of compositional prompts cannot be negative, got " + evalCompositional);
      styles = List.copyOf(new LinkedHashSet<>(styles).stream().sorted(Comparator.comparingInt(Enum::ordinal)).toList());
    }

    public static Options defaults(Path out) {
      return new Options(out, defaultCache(), 64, EmojiStyle.all(), SkinTones.DEFAULT, Splits.DEFAULT, 8L << 20, false,
          Runtime.getRuntime().availableProcessors(), 500, false);
    }

    public Options withStyles(List<EmojiStyle> s) {
      return new Options(out, cache, size, s, skinTones, splits, shardBytes, progress, threads, evalCompositional, force);
    }

    public Options withCache(Path c) {
      return new Options(out, c, size, styles, skinTones, splits, shardBytes, progress, threads, evalCompositional, force);
    }

    public Options withSkinTones(SkinTones t) {
      return new Options(out, cache, size, styles, t, splits, shardBytes, progress, threads, evalCompositional, force);
    }

    public Options withSize(int s) {
      return new Options(out, cache, s, styles, skinTones, splits, shardBytes, progress, threads, evalCompositional, force);
    }

    public Options withShardBytes(long b) {
      return new Options(out, cache, size, styles, skinTones, splits, b, progress, threads, evalCompositional, force);
    }

    public Options withProgress(boolean p) {
      return new Options(out, cache, size, styles, skinTones, splits, shardBytes, p, threads, evalCompositional, force);
    }

    public Options withSplits(Splits s) {
      return new Options(out, cache, size, styles, skinTones, s, shardBytes, progress, threads, evalCompositional, force);
    }

    public Options withThreads(int t) {
      return new Options(out, cache, size, styles, skinTones, splits, shardBytes, progress, t, evalCompositional, force);
    }

    public Options withForce(boolean f) {
      return new Options(out, cache, size, styles, skinTones, splits, shardBytes, progress, threads, evalCompositional, f);
    }
  }

  /** {@code $D2G_CACHE/npm}, else {@code $XDG_CACHE_HOME/d2g/npm}, else {@code ~/.cache/d2g/npm}. */
  public static Path defaultCache() {
    String d2g = System.getenv("D2G_CACHE");
    if (d2g != null && !d2g.isBlank()) return Path.of(d2g, "npm");
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
    return base.resolve("d2g").resolve("npm");
  }

  private final PackageFetcher fetcher;
  private final Map<String, NpmPackage> pins;

  public EmojiDatasetBuilder(PackageFetcher fetcher) {
    this(fetcher, Map.of());
  }

  /**
   * A builder whose packages are replaced by {@code pins} (by package name): other versions, or
   * other integrity hashes (tests use this with fake packages).
   */
  public EmojiDatasetBuilder(PackageFetcher fetcher, Map<String, NpmPackage> pins) {
    this.fetcher = fetcher;
    this.pins = Map.copyOf(pins);
  }

  private NpmPackage pinned(NpmPackage p) {
    return pins.getOrDefault(p.name(), p);
  }

  public EmojiDatasetBuilder() {
    this(new NpmFetcher());
  }

  /** A picture decoded and encoded, or the reason it was skipped. */
  private record Done(EmojiSources.Item item, byte[] png, String error) {}

  /**
   * Builds the dataset into {@code o.out()}. The target is checked before anything is fetched: it
   * must be new, an empty folder or an earlier emoji dataset (see {@link #KIND}); anything else is
   * refused with an {@link io.d2g.io.OutputException} and left untouched. The dataset is written into
   * a temporary folder beside the target and moved into place only when complete.
   */
  public BuildReport build(Options o) {
    try (Outputs.StagedFolder staged = Outputs.stageFolder(o.out(), KIND, o.force())) {
      return build(o, staged);
    }
  }

  private BuildReport build(Options o, Outputs.StagedFolder staged) {
    // 1. fetch and verify everything before writing anything
    Map<String, Path> tarballs = new LinkedHashMap<>();
    List<NpmPackage> pkgs = new ArrayList<>();
    pkgs.add(pinned(EmojiStyle.CAPTIONS));
    for (EmojiStyle s : o.styles()) pkgs.add(pinned(s.npm()));
    for (NpmPackage p : pkgs) {
      if (tarballs.containsKey(p.name())) continue;
      log.info("fetching {}", p.spec());
      Path t = fetcher.fetch(p, o.cache());
      String expected = p.integrity() != null ? p.integrity() : fetcher.registryIntegrity(p);
      Integrity.verify(t, expected, p.spec());
      tarballs.put(p.name(), t);
    }
    EmojiCatalog catalog = EmojiCatalog.load(tarballs.get(EmojiStyle.CAPTIONS.name()));

    // 2. decode, render and encode, style by style, in a deterministic order
    Map<EmojiStyle, List<Done>> done = new LinkedHashMap<>();
    ForkJoinPool pool = new ForkJoinPool(Math.max(1, o.threads()));
    try {
      for (EmojiStyle s : o.styles()) {
        List<EmojiSources.Item> items = EmojiSources.items(s, tarballs.get(s.npm().name()), catalog, o.skinTones());
        try (ProgressBar pb = progressBar(o, s.id(), items.size())) {
          IntConsumer step = pb == null ? i -> {} : i -> pb.step();
          List<Done> res = pool.submit(() -> IntStream.range(0, items.size()).parallel().mapToObj(i -> {
            Done d = process(items.get(i), o.size());
            step.accept(i);
            return d;
          }).toList()).join();
          done.put(s, res);
        }
        for (Done d : done.get(s))
          if (d.error != null)
            log.warn("skipping {} picture {} ({}): {}", s.id(), d.item.source(), d.item.label(), d.error);
      }
    } finally {
      pool.shutdown();
    }

    // 3. write into the staging folder, then put it in place
    try {
      BuildReport report = write(staged.dir(), o, catalog, done);
      try {
        Files.setPosixFilePermissions(staged.dir(), PosixFilePermissions.fromString("rwxr-xr-x"));
      } catch (UnsupportedOperationException ignored) {
        // not a POSIX file system
      }
      Path out = staged.commit();
      return new BuildReport(out, report.images(), report.concepts(), report.styles(), report.bytesOnDisk());
    } catch (IOException e) {
      throw new DatasetException("cannot write the dataset to " + staged.target() + ": " + e.getMessage()
          + ". What was there before is unchanged.", e);
    }
  }

  private static ProgressBar progressBar(Options o, String task, int n) {
    if (!o.progress()) return null;
    return new ProgressBarBuilder().setTaskName(String.format("%-11s", task)).setInitialMax(n)
        .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250).continuousUpdate()
        .setConsumer(new ConsoleProgressBarConsumer(System.err)).build();
  }

  private static Done process(EmojiSources.Item item, int size) {
    try {
      RgbaImage img = item.svg() != null ? ImageCodec.renderSvg(item.svg(), size) : ImageCodec.decode(item.bytes(), size);
      if (img.opaqueCount(8) == 0) return new Done(item, null, "the picture is fully transparent");
      return new Done(item, ImageCodec.encodePng(img), null);
    } catch (DatasetException | IllegalArgumentException e) {
      return new Done(item, null, e.getMessage());
    }
  }

  private BuildReport write(Path dir, Options o, EmojiCatalog catalog, Map<EmojiStyle, List<Done>> done) throws IOException {
    List<EmojiRecord> index = new ArrayList<>();
    List<Map<String, Object>> shards = new ArrayList<>();
    Map<String, BuildReport.StyleCounts> counts = new LinkedHashMap<>();
    Set<Integer> allConcepts = new TreeSet<>();
    ShardOut shard = null;
    for (var e : done.entrySet()) {
      EmojiStyle s = e.getKey();
      int images = 0, skipped = 0, hoImages = 0, pairImages = 0, train = 0;
      Set<Integer> concepts = new TreeSet<>(), hoConcepts = new TreeSet<>();
      for (Done d : e.getValue()) {
        if (d.error != null) {
          skipped++;
          continue;
        }
        if (shard == null || shard.bytes >= o.shardBytes()) {
          if (shard != null) shards.add(shard.close());
          shard = new ShardOut(dir, shards.size());
        }
        long offset = shard.bytes;
        shard.write(d.png);
        Concept c = d.item.concept();
        String split = o.splits().of(c.hexcode(), s);
        index.add(new EmojiRecord(index.size(), shard.number, offset, d.png.length, c.id(), d.item.hexcode(), s.id(),
            d.item.label(), d.item.tone(), s.licence(), split, d.item.source()));
        images++;
        concepts.add(c.id());
        allConcepts.add(c.id());
        switch (split) {
          case Splits.HELDOUT_CONCEPT -> {
            hoImages++;
            hoConcepts.add(c.id());
          }
          case Splits.HELDOUT_PAIR -> pairImages++;
          default -> train++;
        }
      }
      counts.put(s.id(), new BuildReport.StyleCounts(images, concepts.size(), hoImages, hoConcepts.size(), pairImages,
          train, skipped));
    }
    if (shard != null) shards.add(shard.close());
    if (index.isEmpty()) throw new DatasetException("no picture could be decoded; nothing to write");

    // index and concepts
    try (OutputStream os = Files.newOutputStream(dir.resolve("index.jsonl"))) {
      for (EmojiRecord r : index) {
        os.write(JSONL.writeValueAsBytes(r));
        os.write('\n');
      }
    }
    List<Map<String, Object>> conceptJson = new ArrayList<>();
    for (Concept c : catalog.concepts()) {
      if (!allConcepts.contains(c.id())) continue;
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", c.id());
      m.put("hexcode", c.hexcode());
      m.put("emoji", c.emoji());
      m.put("label", c.label());
      m.put("tags", c.tags());
      m.put("group", c.group());
      m.put("subgroup", c.subgroup());
      m.put("split", o.splits().heldOutConcept(c.hexcode()) ? Splits.HELDOUT_CONCEPT : Splits.TRAIN);
      conceptJson.add(m);
    }
    Files.write(dir.resolve("concepts.json"), JSONL.writeValueAsBytes(conceptJson));

    // split record
    Map<String, Object> split = new LinkedHashMap<>();
    split.put("rule", "SHA-256 of 'concept|<seed>|<codepoints>' (and 'pair|<seed>|<codepoints>|<style>') as a number in "
        + "[0,1); below the fraction means held out. Codepoints are upper-case hex joined by '-', without FE0F.");
    split.put("seed", o.splits().seed());
    split.put("heldOutConceptFraction", o.splits().conceptFraction());
    split.put("heldOutPairFraction", o.splits().pairFraction());
    split.put("heldOutConcepts", catalog.concepts().stream().filter(c -> allConcepts.contains(c.id())
        && o.splits().heldOutConcept(c.hexcode())).map(Concept::hexcode).toList());
    List<Map<String, String>> pairs = new ArrayList<>();
    for (EmojiRecord r : index)
      if (r.split().equals(Splits.HELDOUT_PAIR) && r.tone() == null)
        pairs.add(Map.of("hexcode", catalog.concepts().get(r.concept()).hexcode(), "style", r.style()));
    split.put("heldOutPairs", pairs);
    Files.write(dir.resolve("splits.json"), JSON.writeValueAsBytes(split));

    // captions and prompts
    CaptionCorpus.write(dir, catalog, index, o);

    // attribution
    Files.writeString(dir.resolve("ATTRIBUTION.md"), attribution(o), StandardCharsets.UTF_8);

    // manifest last
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("format", FORMAT);
    m.put("formatVersion", FORMAT_VERSION);
    m.put("size", o.size());
    m.put("channels", "RGBA");
    m.put("alpha", "straight");
    m.put("encoding", "png");
    m.put("skinTones", o.skinTones().toString());
    m.put("styles", o.styles().stream().map(EmojiStyle::id).toList());
    List<Map<String, Object>> src = new ArrayList<>();
    Map<String, Object> cap = new LinkedHashMap<>();
    cap.put("role", "captions");
    NpmPackage cp = pinned(EmojiStyle.CAPTIONS);
    cap.put("package", cp.name());
    cap.put("version", cp.version());
    cap.put("integrity", cp.integrity());
    cap.put("licence", "MIT");
    src.add(cap);
    for (EmojiStyle s : o.styles()) {
      Map<String, Object> x = new LinkedHashMap<>();
      x.put("role", "art");
      x.put("style", s.id());
      NpmPackage sp = pinned(s.npm());
      x.put("package", sp.name());
      x.put("version", sp.version());
      x.put("integrity", sp.integrity());
      x.put("licence", s.licence());
      src.add(x);
    }
    m.put("sources", src);
    m.put("images", index.size());
    m.put("concepts", allConcepts.size());
    m.put("counts", counts);
    m.put("shards", shards);
    m.put("files", FILES);
    Files.write(dir.resolve("manifest.json"), JSON.writeValueAsBytes(m));
    long bytes;
    try (var st = Files.list(dir)) {
      bytes = st.mapToLong(p -> {
        try {
          return Files.size(p);
        } catch (IOException ex) {
          throw new UncheckedIOException(ex);
        }
      }).sum();
    }
    return new BuildReport(dir, index.size(), allConcepts.size(), counts, bytes);
  }

  private static final class ShardOut {
    final int number;
    final Path path;
    final OutputStream os;
    final java.security.MessageDigest sha;
    long bytes;
    int images;

    ShardOut(Path dir, int number) throws IOException {
      this.number = number;
      this.path = dir.resolve(shardName(number));
      this.os = new java.io.BufferedOutputStream(Files.newOutputStream(path), 1 << 16);
      try {
        this.sha = java.security.MessageDigest.getInstance("SHA-256");
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    void write(byte[] b) throws IOException {
      os.write(b);
      sha.update(b);
      bytes += b.length;
      images++;
    }

    Map<String, Object> close() throws IOException {
      os.close();
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("file", path.getFileName().toString());
      m.put("images", images);
      m.put("bytes", bytes);
      m.put("sha256", java.util.HexFormat.of().formatHex(sha.digest()));
      return m;
    }
  }

  public static String shardName(int n) {
    return String.format("images-%05d.bin", n);
  }

  static String attribution(Options o) {
    StringBuilder sb = new StringBuilder();
    sb.append("# Attribution and licences\n\n");
    sb.append("This dataset was built by `d2g data emoji` from the npm packages below (exact versions, verified\n"
        + "against their registry `dist.integrity`). The pictures were scaled to ").append(o.size()).append(" px and\n"
        + "re-encoded as PNG; no other change was made to the art. Each image's licence is also in `index.jsonl`.\n\n");
    sb.append("| style | art | licence | package |\n|---|---|---|---|\n");
    for (EmojiStyle s : o.styles())
      sb.append("| ").append(s.id()).append(" | ").append(s.credit()).append(" | ").append(s.licence()).append(" | `")
          .append(s.npm().spec()).append("` |\n");
    sb.append("| captions | Unicode CLDR annotations via emojibase (https://emojibase.dev) | MIT (data: Unicode License v3) | `")
        .append(EmojiStyle.CAPTIONS.spec()).append("` |\n\n");
    sb.append("Licence texts: Apache-2.0 https://www.apache.org/licenses/LICENSE-2.0 ; CC-BY-4.0\n"
        + "https://creativecommons.org/licenses/by/4.0/ ; MIT https://opensource.org/license/mit ; Unicode\n"
        + "https://www.unicode.org/license.txt . CC-BY-4.0 requires crediting the authors named above in anything\n"
        + "you distribute that contains these pictures (or models' samples that reproduce them).\n");
    Set<String> lic = o.styles().stream().map(EmojiStyle::licence).collect(Collectors.toCollection(TreeSet::new));
    sb.append("\nLicences present: ").append(String.join(", ", lic)).append(".\n");
    return sb.toString();
  }

}
