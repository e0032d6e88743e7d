package io.d2g.io;

import io.d2g.D2g;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.Tensor;
import io.d2g.data.emoji.ContactSheet;
import io.d2g.data.emoji.EmojiDatasetBuilder;
import io.d2g.data.emoji.EmojiStyle;
import io.d2g.data.emoji.FakeNpm;
import io.d2g.data.emoji.Splits;
import io.d2g.hub.ClipTokenizer;
import io.d2g.hub.DiffusersFolder;
import io.d2g.hub.Safetensors;
import io.d2g.models.ClipTextModel;
import io.d2g.pairs.PairGenerator;
import io.d2g.pairs.PromptTable;
import io.d2g.train.Checkpoint;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Every command and API that writes, as the reliability tests drive it: one write of a given
 * variant (different content) to a target, with helpers it needs kept under a work folder.
 */
public enum Writers {
  DATASET(true) {
    @Override
    void write(Path target, boolean force, Path work, int variant) throws IOException {
      Path reg = work.resolve("npm");
      FakeNpm npm = new FakeNpm(reg);
      new EmojiDatasetBuilder(npm.fetcher(), npm.pins).build(EmojiDatasetBuilder.Options.defaults(target)
          .withCache(work.resolve("npm-cache")).withStyles(List.of(EmojiStyle.NOTO, EmojiStyle.FLUENT_FLAT))
          .withSize(32).withShardBytes(2000).withThreads(1).withSplits(new Splits(variant, 0.3, 0.1)).withForce(force));
    }
  },
  CONTACT_SHEET(false) {
    @Override
    void write(Path target, boolean force, Path work, int variant) {
      BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
      SplittableRandom r = new SplittableRandom(variant);
      for (int y = 0; y < 64; y++) for (int x = 0; x < 64; x++) img.setRGB(x, y, r.nextInt());
      ContactSheet.write(img, target, force);
    }
  },
  SAFETENSORS(false) {
    @Override
    void write(Path target, boolean force, Path work, int variant) {
      D2g.manualSeed(variant);
      try (Tensor t = Tensor.randn(DType.F32, Device.CPU, 64, 64)) {
        Safetensors.write(target, Map.of("w", t));
      }
    }
  },
  RESULTS(false) {
    @Override
    void write(Path target, boolean force, Path work, int variant) {
      Outputs.writeResults(target, "d2g WritersTest", force,
          Map.of("variant", variant, "figures", IntStream.range(0, 500).map(i -> i * variant).toArray()));
    }
  },
  COMPONENT(true) {
    @Override
    void write(Path target, boolean force, Path work, int variant) {
      try (ClipTextModel m = clip(variant)) {
        DiffusersFolder.save(target, m);
      }
    }
  },
  TOKENIZER(true) {
    @Override
    void write(Path target, boolean force, Path work, int variant) throws IOException {
      ClipTokenizer t = tokenizer(work);
      ClipTokenizer.of(t.vocab(), merges(work), t.padToken(), 70 + variant).save(target);
    }
  },
  PIPELINE(true) {
    @Override
    void write(Path target, boolean force, Path work, int variant) {
      try (ClipTextModel m = clip(variant)) {
        DiffusersFolder.savePipeline(target, "StableDiffusionPipeline", Map.of("text_encoder", m), null, Map.of());
      }
    }
  },
  /** Teacher pairs: variant 1 writes the first shard (rank 0 of 2), later variants the same run's second. */
  PAIRS(true) {
    @Override
    void write(Path target, boolean force, Path work, int variant) {
      PairGenerator.run(Fixtures.path("sd-pipeline-tiny"), PromptTable.of(List.of("a red car, noto style", "a cat, twemoji style")),
          new PairGenerator.Options(4, 3, 2, 4.0, null, 2, 2, DType.F16, null), target, Device.CPU, variant == 1 ? 0 : 1, 2, k -> {});
    }
  },
  CHECKPOINT(false) {
    @Override
    void write(Path target, boolean force, Path work, int variant) {
      D2g.manualSeed(variant);
      try (Tensor t = Tensor.randn(DType.F32, Device.CPU, 64, 64)) {
        Checkpoint.save(target, variant, "{}", Map.of("model", Map.of("w", t)), force);
      }
    }
  };

  /** Whether the output is a folder (else a file). */
  final boolean folder;

  Writers(boolean folder) {
    this.folder = folder;
  }

  abstract void write(Path target, boolean force, Path work, int variant) throws IOException;

  /** The tiny CLIP text model of the fixtures, its weights nudged by {@code variant}. */
  static ClipTextModel clip(int variant) {
    ClipTextModel m = DiffusersFolder.load(Fixtures.path("sd", "clip_tiny"), ClipTextModel.FAMILY);
    if (variant != 1) {
      Map<String, Tensor> state = m.state();
      Tensor w = state.get("text_model.final_layer_norm.bias");
      try (Tensor one = Tensor.of(new float[] {variant}); Tensor sum = w.add(one)) {
        w.copyFrom(sum);
      } finally {
        state.values().forEach(Tensor::close);
      }
    }
    return m;
  }

  static ClipTokenizer tokenizer(Path work) throws IOException {
    Path dir = Files.createDirectories(work.resolve("tokenizer-src"));
    if (!Files.exists(dir.resolve("vocab.json"))) {
      Fixtures.gunzip(Fixtures.path("clip-tokenizer", "vocab.json.gz"), dir.resolve("vocab.json"));
      Fixtures.gunzip(Fixtures.path("clip-tokenizer", "merges.txt.gz"), dir.resolve("merges.txt"));
    }
    return ClipTokenizer.load(dir);
  }

  static List<String> merges(Path work) throws IOException {
    try (var in = Files.newInputStream(work.resolve("tokenizer-src/merges.txt"))) {
      return ClipTokenizer.readMerges(in);
    }
  }

  /** {@link #write}, with I/O errors unchecked. */
  void run(Path target, boolean force, Path work, int variant) {
    try {
      write(target, force, work, variant);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
