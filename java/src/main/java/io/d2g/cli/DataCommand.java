package io.d2g.cli;

import io.d2g.data.emoji.BuildReport;
import io.d2g.data.emoji.ContactSheet;
import io.d2g.data.emoji.EmojiDataset;
import io.d2g.data.emoji.EmojiDatasetBuilder;
import io.d2g.data.emoji.EmojiRecord;
import io.d2g.data.emoji.EmojiStyle;
import io.d2g.data.emoji.SceneComposer;
import io.d2g.data.emoji.SkinTones;
import io.d2g.data.emoji.Splits;
import io.d2g.data.emoji.SpriteAtlas;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** {@code d2g data}: datasets. */
@Command(name = "data", mixinStandardHelpOptions = true, description = "Build and inspect training datasets.",
    subcommands = {DataCommand.Emoji.class, DataCommand.Scenes.class, CommandLine.HelpCommand.class})
final class DataCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: say which dataset (emoji)");
  }

  /** {@code d2g data emoji}: the multi-style emoji corpus from npm. */
  @Command(name = "emoji", mixinStandardHelpOptions = true,
      description = {"Build the captioned multi-style emoji dataset from pinned npm packages.",
          "Fetches with 'npm pack' into the cache (reused on later runs), verifies each tarball's integrity, "
              + "decodes and renders the art, scales it, and writes PNG shards, the index, the concept split, "
              + "the caption corpus, held-out prompts and ATTRIBUTION.md. Same inputs and options give "
              + "byte-identical output.",
          "An existing --out is replaced only when it is an emoji dataset (its manifest names every file in it); "
              + "anything else is refused and left as it is. The new dataset is written beside it and moved into "
              + "place when complete, so an interrupted build never damages the previous one."})
  static final class Emoji implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", description = "Output folder (default: data/emoji-<size>).")
    Path out;

    @Option(names = "--force", description = "Also replace an older or damaged emoji dataset at --out (a folder that "
        + "holds nothing but dataset files). Never replaces anything else.")
    boolean force;

    @Option(names = "--size", defaultValue = "64", description = "Side of every picture in pixels (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--styles", split = ",", description = "Comma-separated styles (default: all): "
        + "noto, twemoji, fluent-3d, fluent-flat, emojione, fxemoji, streamline.")
    List<String> styles;

    @Option(names = "--skin-tones", defaultValue = "default",
        description = "none (drop concepts with skin tones), default (their default tone only), all (every tone). "
            + "Default: ${DEFAULT-VALUE}.")
    String skinTones;

    @Option(names = "--cache", description = "Folder for npm tarballs (default: $D2G_CACHE/npm or ~/.cache/d2g/npm).")
    Path cache;

    @Option(names = "--held-out", defaultValue = "0.10", description = "Fraction of concepts held out (default: ${DEFAULT-VALUE}).")
    double heldOut;

    @Option(names = "--held-out-pairs", defaultValue = "0.05",
        description = "Fraction of the remaining concept x style pairs held out (default: ${DEFAULT-VALUE}).")
    double heldOutPairs;

    @Option(names = "--split-seed", description = "Seed of the concept split (default: " + Splits.DEFAULT_SEED + ").")
    Long splitSeed;

    @Option(names = "--shard-mb", defaultValue = "8", description = "Shard size in MiB (default: ${DEFAULT-VALUE}).")
    int shardMb;

    @Option(names = "--threads", description = "Decoding threads, 1 or more (default: all cores).")
    Integer threads;

    @Option(names = "--contact-sheet", description = "Also write a contact sheet PNG (samples and composed scenes) to "
        + "this file; an existing file is replaced only when d2g wrote it (or, with --force, when it is a PNG).")
    Path contactSheet;

    @Option(names = "--no-progress", description = "No progress bars.")
    boolean noProgress;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      require(size >= 8 && size <= 1024, "--size must be between 8 and 1024, got " + size);
      require(threads == null || threads >= 1, "--threads must be at least 1, got " + threads);
      require(shardMb >= 1 && shardMb <= 4096, "--shard-mb must be between 1 and 4096, got " + shardMb);
      require(heldOut >= 0 && heldOut < 1, "--held-out must be in [0, 1), got " + heldOut);
      require(heldOutPairs >= 0 && heldOutPairs < 1, "--held-out-pairs must be in [0, 1), got " + heldOutPairs);
      Path dir = this.out != null ? this.out : Path.of("data", "emoji-" + size);
      EmojiDatasetBuilder.Options o = EmojiDatasetBuilder.Options.defaults(dir).withSize(size)
          .withSkinTones(SkinTones.parse(skinTones)).withShardBytes((long) shardMb << 20).withProgress(!noProgress)
          .withSplits(new Splits(splitSeed == null ? Splits.DEFAULT_SEED : splitSeed, heldOut, heldOutPairs))
          .withForce(force);
      if (styles != null && !styles.isEmpty()) o = o.withStyles(styles.stream().map(EmojiStyle::parse).toList());
      if (cache != null) o = o.withCache(cache);
      if (threads != null) o = o.withThreads(threads);
      BuildReport r = new EmojiDatasetBuilder().build(o);
      out.printf("wrote %s: %d images of %d concepts, %.1f MB%n", r.out(), r.images(), r.concepts(), r.bytesOnDisk() / 1e6);
      out.printf("%-12s %7s %8s %10s %10s %10s %8s%n", "style", "images", "concepts", "held-out", "held-out", "train", "skipped");
      out.printf("%-12s %7s %8s %10s %10s %10s %8s%n", "", "", "", "concepts", "pairs", "images", "");
      r.styles().forEach((k, c) -> out.printf("%-12s %7d %8d %10d %10d %10d %8d%n", k, c.images(), c.concepts(),
          c.heldOutConcepts(), c.heldOutPairImages(), c.trainImages(), c.skipped()));
      if (contactSheet != null) {
        try (EmojiDataset ds = EmojiDataset.open(r.out())) {
          SpriteAtlas atlas = SpriteAtlas.of(ds, EmojiRecord::isTrain);
          SceneComposer composer = new SceneComposer(atlas, SceneComposer.Options.defaults(size));
          Path written = ContactSheet.write(ContactSheet.render(ds, composer, 8, 3, 7), contactSheet, force);
          out.printf("contact sheet: %s%n", written);
        }
      }
      out.flush();
      return 0;
    }

    private void require(boolean ok, String message) {
      if (!ok) throw new CommandLine.ParameterException(spec.commandLine(), message);
    }
  }

  /** {@code d2g data scenes}: real composed scenes as a sample folder (the results tables' "real" row). */
  @Command(name = "scenes", mixinStandardHelpOptions = true,
      description = {"Write composed scenes of real emoji pictures as a sample folder (samples.jsonl + PNGs), the "
          + "reference row that './d2g eval' grades beside the models.",
          "Scenes come from the training split's pictures, or with --held-out from the held-out ones."})
  static final class Scenes implements Callable<Integer> {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Option(names = "--data", defaultValue = "data/emoji-64", description = "The emoji dataset (default: ${DEFAULT-VALUE}).")
    Path data;

    @Option(names = "--out", required = true, description = "The sample folder to write.")
    Path out;

    @Option(names = "--count", defaultValue = "1000", description = "How many scenes (default: ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--seed", defaultValue = "20261207", description = "Seed of the scenes (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--held-out", description = "Compose from the held-out pictures instead of the training split.")
    boolean heldOut;

    @Option(names = "--force", description = "Also replace an older or damaged sample folder at --out.")
    boolean force;

    @Override
    public Integer call() {
      if (count < 1 || count > 1_000_000) throw new CommandLine.ParameterException(spec.commandLine(), "--count must be 1 to 1000000");
      try (io.d2g.data.emoji.EmojiDataset ds = io.d2g.data.emoji.EmojiDataset.open(data);
          io.d2g.eval.SampleSet.Writer w = io.d2g.eval.SampleSet.writer(out, force)) {
        var atlas = io.d2g.data.emoji.SpriteAtlas.of(ds, r -> r.isTrain() != heldOut);
        var composer = new io.d2g.data.emoji.SceneComposer(atlas,
            io.d2g.data.emoji.SceneComposer.Options.defaults(ds.manifest().path("size").asInt(64)));
        for (int i = 0; i < count; i++) {
          var scene = composer.compose(seed, i);
          w.add(scene.toImage(), scene.caption(), (long) i, Double.NaN);
        }
        spec.commandLine().getOut().println("wrote " + w.commit() + " (" + count + " scenes)");
      }
      return 0;
    }
  }
}
