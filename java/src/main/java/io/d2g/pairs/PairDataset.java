package io.d2g.pairs;

import com.fasterxml.jackson.databind.JsonNode;
import io.d2g.CheckpointException;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.train.Prefetcher;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * A finished pairs folder ({@link PairGenerator}, format {@link PairManifest}) as training data for the
 * one-step generator: batches of (z, prompt id, latent) in an order shuffled per epoch, the same for a
 * given (seed, epoch) on any machine, split disjointly over data-parallel ranks. The noise z is
 * recomputed from the run's seed ({@link PairNoise}); the latents are read from the shards' file
 * mappings (each shard's checksum is checked the first time it is opened); prompts come as ids into
 * {@link #prompts()} for the trainer's text encoder.
 *
 * <pre>{@code
 * try (PairDataset pairs = PairDataset.open(dir);
 *     var batches = pairs.loader(epoch, 7, 256, rank, world, device, 2)) {
 *   for (long s = 0; s < batches.steps(); s++) try (PairDataset.Batch b = batches.next()) { ... }
 * }
 * }</pre>
 */
public final class PairDataset implements AutoCloseable {
  private final Path dir;
  private final JsonNode manifest;
  private final PromptTable prompts;
  private final long size, seed;
  private final int shardSize;
  private final long[] latentShape;
  private final DType latentDType;
  private final SafetensorsFile[] shards;
  private final List<JsonNode> shardEntries; // the manifest's list: file, first, count, sha256
  private final PairNoise noise;

  private PairDataset(Path dir, JsonNode manifest) {
    this.dir = dir;
    this.manifest = manifest;
    this.prompts = PromptTable.fromJsonLines(dir.resolve(PairManifest.PROMPTS));
    if (!prompts.sha256().equals(manifest.path("prompts_sha256").asText()))
      throw new CheckpointException(dir.resolve(PairManifest.PROMPTS) + " is not the prompt table the manifest names");
    this.size = manifest.path("pairs").asLong();
    this.seed = manifest.path("seed").asLong();
    this.shardSize = manifest.path("shard_size").asInt();
    JsonNode shape = manifest.path("latent_shape");
    this.latentShape = new long[] {shape.path(0).asLong(), shape.path(1).asLong(), shape.path(2).asLong()};
    this.latentDType = DType.valueOf(manifest.path("latent_dtype").asText());
    this.shardEntries = PairManifest.shards(manifest);
    this.shards = new SafetensorsFile[shardEntries.size()];
    this.noise = PairNoise.of(seed);
  }

  /** Opens a pairs folder whose manifest says it is complete. */
  public static PairDataset open(Path dir) {
    Path m = dir.resolve(PairManifest.MANIFEST);
    if (!Files.isRegularFile(m)) throw new InvalidArgumentException(dir + " is not a pairs folder (no manifest.json; see d2g pairs)");
    JsonNode manifest = PairManifest.read(m);
    if (!manifest.path("complete").asBoolean())
      throw new InvalidArgumentException(dir + " is not complete yet: run the d2g pairs command that made it again to finish it");
    return new PairDataset(dir, manifest);
  }

  /** Number of pairs. */
  public long size() {
    return size;
  }

  /** The prompt table; batches carry ids into it. */
  public PromptTable prompts() {
    return prompts;
  }

  /** One latent's shape [C, H, W]. */
  public long[] latentShape() {
    return latentShape.clone();
  }

  /** The manifest (teacher, sampler, steps, guidance, seed...). */
  public JsonNode manifest() {
    return manifest;
  }

  /** Pair ids, prompt ids, noise and latents of one batch (f32 [B, C, H, W] each, on the loader's device). */
  public record Batch(long[] pairs, int[] promptIds, Tensor noise, Tensor latents) implements AutoCloseable {
    @Override
    public void close() {
      noise.close();
      latents.close();
    }
  }

  /**
   * The pair indices of one epoch for {@code rank} of {@code world}, in order: the pairs shuffled by
   * SplittableRandom(shuffleSeed mixed with epoch) and dealt round-robin, each rank getting size / world
   * (the few left over are skipped this epoch; another epoch's order leaves out others).
   */
  public long[] order(long epoch, long shuffleSeed, int rank, int world) {
    if (world < 1 || rank < 0 || rank >= world) throw new InvalidArgumentException("rank " + rank + " of " + world + " is not a rank");
    if (size > Integer.MAX_VALUE) throw new InvalidArgumentException("more than 2^31 pairs: shuffle in parts");
    int n = (int) size;
    int[] perm = new int[n];
    for (int i = 0; i < n; i++) perm[i] = i;
    SplittableRandom r = new SplittableRandom(io.d2g.Generator.mix(shuffleSeed, epoch));
    for (int i = n - 1; i > 0; i--) {
      int j = r.nextInt(i + 1);
      int t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    int per = n / world;
    long[] out = new long[per];
    for (int i = 0; i < per; i++) out[i] = perm[i * world + rank];
    return out;
  }

  /** The batch of these pairs, on the CPU (pinned when {@code pinned}: for fast copies to a GPU). */
  public Batch batch(long[] pairs, boolean pinned) {
    int b = pairs.length, per = (int) (latentShape[0] * latentShape[1] * latentShape[2]);
    long[] shape = {b, latentShape[0], latentShape[1], latentShape[2]};
    float[] z = new float[b * per], x = new float[b * per];
    int[] promptIds = new int[b];
    IntStream.range(0, b).parallel().forEach(i -> {
      long p = pairs[i];
      if (p < 0 || p >= size) throw new InvalidArgumentException("pair " + p + " is not in 0.." + (size - 1));
      noise.fill(p, z, i * per, per);
      readLatent(p, x, i * per, per);
      promptIds[i] = prompts.promptOf(p, seed);
    });
    Tensor zt = pinned ? Tensor.emptyPinned(DType.F32, shape).copyFrom(z) : Tensor.of(z, shape);
    Tensor xt = pinned ? Tensor.emptyPinned(DType.F32, shape).copyFrom(x) : Tensor.of(x, shape);
    return new Batch(pairs.clone(), promptIds, zt, xt);
  }

  private void readLatent(long pair, float[] out, int offset, int count) {
    int k = (int) (pair / shardSize), row = (int) (pair % shardSize);
    MemorySegment bytes = shard(k).bytes("latents");
    if (latentDType == DType.F32) {
      MemorySegment.copy(bytes, ValueLayout.JAVA_FLOAT_UNALIGNED, (long) row * count * 4, out, offset, count);
    } else {
      long at = (long) row * count * 2;
      for (int i = 0; i < count; i++) out[offset + i] = Float.float16ToFloat(bytes.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + 2L * i));
    }
  }

  private SafetensorsFile shard(int k) {
    SafetensorsFile f = shards[k];
    if (f != null) return f;
    synchronized (shards) {
      if (shards[k] == null) {
        SafetensorsFile opened = Safetensors.open(dir.resolve(PairManifest.shardName(k)));
        String want = shardEntries.get(k).path("sha256").asText();
        if (!want.equals(opened.metadata().get(Safetensors.DIGEST_KEY))) {
          opened.close();
          throw new CheckpointException(dir.resolve(PairManifest.shardName(k)) + " is not the shard the manifest lists");
        }
        opened.verifyDigest();
        shards[k] = opened;
      }
      return shards[k];
    }
  }

  /**
   * The batches of one epoch for this rank, made {@code depth} ahead on a background thread and moved
   * to {@code device} there; the last partial batch is dropped.
   */
  public Loader loader(long epoch, long shuffleSeed, int batchSize, int rank, int world, Device device, int depth) {
    if (batchSize < 1) throw new InvalidArgumentException("batch size must be at least 1, not " + batchSize);
    long[] order = order(epoch, shuffleSeed, rank, world);
    long steps = order.length / batchSize;
    boolean cuda = device.isCuda();
    Prefetcher<Batch> p = Prefetcher.of(0, steps, depth, s -> {
      long[] ids = java.util.Arrays.copyOfRange(order, (int) (s * batchSize), (int) ((s + 1) * batchSize));
      Batch host = batch(ids, cuda);
      if (device.equals(Device.CPU)) return host;
      try (host) {
        return new Batch(host.pairs(), host.promptIds(), host.noise().to(device), host.latents().to(device));
      }
    });
    return new Loader(p, steps);
  }

  /** An epoch's batches in order; {@link #next()} waits for one when it is not ready. */
  public static final class Loader implements AutoCloseable {
    private final Prefetcher<Batch> prefetcher;
    private final long steps;

    private Loader(Prefetcher<Batch> prefetcher, long steps) {
      this.prefetcher = prefetcher;
      this.steps = steps;
    }

    /** Batches in this epoch. */
    public long steps() {
      return steps;
    }

    public Batch next() {
      return prefetcher.next();
    }

    @Override
    public void close() {
      prefetcher.close();
    }
  }

  @Override
  public void close() {
    List<RuntimeException> errors = new ArrayList<>();
    synchronized (shards) {
      for (int k = 0; k < shards.length; k++) {
        if (shards[k] == null) continue;
        try {
          shards[k].close();
        } catch (RuntimeException e) {
          errors.add(e);
        }
        shards[k] = null;
      }
    }
    if (!errors.isEmpty()) throw errors.get(0);
  }
}
