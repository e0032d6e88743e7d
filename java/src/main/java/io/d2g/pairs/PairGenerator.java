package io.d2g.pairs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.d2g.CheckpointException;
import io.d2g.DType;
import io.d2g.Device;
import io.d2g.InvalidArgumentException;
import io.d2g.Tensor;
import io.d2g.TensorScope;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.io.OutputException;
import io.d2g.io.Outputs;
import io.d2g.pipelines.MultiStepTextToImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records a teacher's ODE pairs: for pair i, the noise z = {@link PairNoise}(seed, i), the prompt
 * {@link PromptTable#promptOf}(i, seed), and the latent the teacher's deterministic sampler reaches
 * from z with classifier-free guidance (what Diffusion2GAN's generator regresses onto). The pairs are
 * written in shards of {@link Options#shardSize} (format: {@link PairManifest}); process {@code rank}
 * of {@code world} writes shards k with k mod world = rank, each in batches from its own start, so the
 * result does not depend on how many processes made it.
 *
 * <p>Safe to interrupt: a shard appears only when whole, so rerunning the same command after a crash
 * or a kill continues with the missing shards and ends with the files an uninterrupted run writes. A
 * folder made with other settings (another teacher, sampler, seed, prompts...) is refused with the
 * differences named; a shard whose checksum fails is reported, never silently reused.
 */
public final class PairGenerator {
  private static final Logger LOG = LoggerFactory.getLogger(PairGenerator.class);

  /**
   * What to record. {@code sampler} null: the teacher folder's own scheduler. {@code latentDType}: F16
   * (the paper's storage) or F32. {@code precision}: the dtype the teacher's text encoder and UNet run
   * in (F32, F16 or BF16; the sampler's arithmetic is f32 either way); null: F16 on CUDA, F32 on the CPU.
   */
  public record Options(long pairs, long seed, int steps, double guidance, MultiStepTextToImage.Sampler sampler, int batch,
      int shardSize, DType latentDType, DType precision) {
    public Options {
      if (pairs < 1) throw new InvalidArgumentException("the number of pairs must be at least 1, not " + pairs);
      if (steps < 1 || steps > 1000) throw new InvalidArgumentException("steps must be 1 to 1000, not " + steps);
      if (!(guidance >= 0 && guidance <= 100)) throw new InvalidArgumentException("guidance must be 0 to 100, not " + guidance);
      if (batch < 1) throw new InvalidArgumentException("batch must be at least 1, not " + batch);
      if (shardSize < 1) throw new InvalidArgumentException("shard size must be at least 1, not " + shardSize);
      if (latentDType != DType.F16 && latentDType != DType.F32)
        throw new InvalidArgumentException("latents are stored as f16 or f32, not " + latentDType);
      if (precision != null && precision != DType.F32 && precision != DType.F16 && precision != DType.BF16)
        throw new InvalidArgumentException("the teacher runs in f32, f16 or bf16, not " + precision);
    }

    /** 50 steps of the folder's sampler, guidance 5, batch 64, shards of 4096 f16 latents, the device's precision. */
    public static Options of(long pairs, long seed) {
      return new Options(pairs, seed, 50, 5.0, null, 64, 4096, DType.F16, null);
    }

    public Options withSampling(MultiStepTextToImage.Sampler sampler, int steps, double guidance) {
      return new Options(pairs, seed, steps, guidance, sampler, batch, shardSize, latentDType, precision);
    }

    public Options withBatch(int batch) {
      return new Options(pairs, seed, steps, guidance, sampler, batch, shardSize, latentDType, precision);
    }

    public Options withShards(int shardSize, DType latentDType) {
      return new Options(pairs, seed, steps, guidance, sampler, batch, shardSize, latentDType, precision);
    }

    public Options withPrecision(DType precision) {
      return new Options(pairs, seed, steps, guidance, sampler, batch, shardSize, latentDType, precision);
    }

    /** The precision on {@code device}: the one asked for, else F16 on CUDA and F32 on the CPU. */
    public DType precisionOn(Device device) {
      return precision != null ? precision : device.isCuda() ? DType.F16 : DType.F32;
    }
  }

  /** What a run did: pairs made now, pairs found done, shards, seconds, and whether the folder is complete. */
  public record Summary(long made, long found, long shards, double seconds, boolean complete) {
    public double pairsPerSecond() {
      return seconds > 0 ? made / seconds : 0;
    }
  }

  private PairGenerator() {}

  /**
   * Writes (or continues) the pairs folder {@code out} with the teacher folder {@code teacher} on
   * {@code device}, as process {@code rank} of {@code world}; {@code progress} hears the pairs done
   * (found or made) as they add up. The manifest is marked complete by whichever process finds every
   * shard written.
   */
  public static Summary run(Path teacher, PromptTable prompts, Options o, Path out, Device device, int rank, int world,
      LongConsumer progress) {
    if (world < 1 || rank < 0 || rank >= world)
      throw new InvalidArgumentException("rank " + rank + " of " + world + " processes is not a rank");
    if (!Files.isRegularFile(teacher.resolve("unet/config.json")) || !Files.isDirectory(teacher.resolve("scheduler")))
      throw new InvalidArgumentException(teacher + " is not a diffusers pipeline folder (no unet/config.json or scheduler/)");
    long t0 = System.nanoTime();
    String teacherSha = PairManifest.folderSha256(teacher);
    try (MultiStepTextToImage pipe = MultiStepTextToImage.load(teacher, device, o.sampler(), o.precisionOn(device))) {
      long[] shape = pipe.latentShape();
      ObjectNode settings = settings(teacher, teacherSha, pipe, prompts, o, shape, o.precisionOn(device));
      Path dir = Outputs.prepareFolder(out, PairManifest.FOLDER, false);
      Path manifestFile = dir.resolve(PairManifest.MANIFEST);
      if (Files.exists(manifestFile)) {
        List<String> diff = PairManifest.differences(PairManifest.read(manifestFile), settings);
        if (!diff.isEmpty())
          throw new InvalidArgumentException(out + " holds pairs made with other settings; write to another folder, or "
              + "repeat the command that made it. Differences (there → here): " + String.join("; ", diff));
      } else {
        ObjectNode m = settings.deepCopy();
        m.put("complete", false);
        PairManifest.write(manifestFile, m);
      }
      Path promptsFile = dir.resolve(PairManifest.PROMPTS);
      if (!Files.exists(promptsFile)) Outputs.writeBytes(promptsFile, PairManifest.PROMPTS_FILE, false,
          prompts.toJsonLines().getBytes(StandardCharsets.UTF_8));

      long shards = (o.pairs() + o.shardSize() - 1) / o.shardSize();
      long perPair = shape[0] * shape[1] * shape[2] * (o.latentDType() == DType.F16 ? 2 : 4) + 12;
      long missing = 0;
      for (long k = rank; k < shards; k += world) if (!Files.exists(dir.resolve(PairManifest.shardName(k)))) missing += count(o, k);
      checkSpace(dir, missing * perPair);

      long made = 0, found = 0;
      PairNoise noise = PairNoise.of(o.seed());
      for (long k = rank; k < shards; k += world) {
        Path file = dir.resolve(PairManifest.shardName(k));
        long first = k * o.shardSize();
        int count = count(o, k);
        if (Files.exists(file)) {
          verify(file, first, count);
          found += count;
          progress.accept(count);
          continue;
        }
        writeShard(pipe, prompts, noise, o, shape, first, count, file, progress);
        made += count;
      }
      boolean complete = finish(dir, manifestFile, settings, shards, o);
      double seconds = (System.nanoTime() - t0) / 1e9;
      return new Summary(made, found, shards, seconds, complete);
    }
  }

  private static int count(Options o, long shard) {
    return (int) Math.min(o.shardSize(), o.pairs() - shard * o.shardSize());
  }

  private static ObjectNode settings(Path teacher, String teacherSha, MultiStepTextToImage pipe, PromptTable prompts, Options o,
      long[] shape, DType precision) {
    ObjectNode m = PairManifest.newObject();
    m.put("format", PairManifest.FORMAT);
    m.put("teacher_path", teacher.toAbsolutePath().normalize().toString());
    m.put("teacher_sha256", teacherSha);
    m.put("sampler", pipe.samplerName());
    m.put("steps", o.steps());
    m.put("guidance", o.guidance());
    m.put("precision", precision.name());
    m.put("seed", o.seed());
    m.put("pairs", o.pairs());
    m.put("shard_size", o.shardSize());
    m.put("batch", o.batch());
    var lat = m.putArray("latent_shape");
    for (long d : shape) lat.add(d);
    m.put("latent_dtype", o.latentDType().name());
    m.put("latents", "the sampler's final latents, scaled as the UNet sees them (decode with latents / the VAE's scaling factor)");
    m.put("noise", "not stored: pair i's z is Philox4x32-10 keyed by the seed, counter (block, 0, i), Box-Muller in double "
        + "(io.d2g.pairs.PairNoise), f32 [C, H, W] of latent_shape");
    m.put("prompt_of_pair", "prompts.jsonl id = the table shuffled once by SplittableRandom(seed) (Fisher-Yates), at i mod count");
    m.put("prompts", prompts.size());
    m.put("prompts_sha256", prompts.sha256());
    return m;
  }

  private static void checkSpace(Path dir, long bytes) {
    try {
      long free = Files.getFileStore(dir).getUsableSpace();
      if (bytes + (64L << 20) > free)
        throw new OutputException(dir + " has " + (free >> 20) + " MiB free; the missing pairs need about " + (bytes >> 20)
            + " MiB (and 64 MiB to spare). Nothing was written.");
    } catch (IOException e) {
      LOG.warn("cannot tell the free space of {}: {}", dir, e.toString());
    }
  }

  /** A shard found on disk must be whole and the one this run would write. */
  private static void verify(Path file, long first, int count) {
    try (SafetensorsFile f = Safetensors.open(file)) {
      Map<String, String> meta = f.metadata();
      if (!Long.toString(first).equals(meta.get("first")) || !Integer.toString(count).equals(meta.get("count")))
        throw new InvalidArgumentException(file + " holds pairs " + meta.get("first") + " + " + meta.get("count")
            + ", not " + first + " + " + count);
      boolean checked;
      try {
        checked = f.verifyDigest();
      } catch (CheckpointException e) {
        throw new CheckpointException(e.getMessage() + ". Delete it and run the same command again to make it anew.", e);
      }
      if (!checked) throw new CheckpointException(file + " carries no checksum: it is not a shard this tool wrote whole");
    }
  }

  private static void writeShard(MultiStepTextToImage pipe, PromptTable prompts, PairNoise noise, Options o, long[] shape,
      long first, int count, Path file, LongConsumer progress) {
    try (TensorScope s = new TensorScope()) {
      List<Tensor> parts = new ArrayList<>();
      long[] pairIds = new long[count];
      int[] promptIds = new int[count];
      for (int i = 0; i < count; i++) {
        pairIds[i] = first + i;
        promptIds[i] = prompts.promptOf(first + i, o.seed());
      }
      for (int b = 0; b < count; b += o.batch()) {
        int m = Math.min(o.batch(), count - b);
        List<String> texts = new ArrayList<>(m);
        for (int i = 0; i < m; i++) texts.add(prompts.get(promptIds[b + i]));
        Tensor z = s.track(s.track(noise.tensor(first + b, m, shape)).to(pipe.device()));
        Tensor latents = s.track(pipe.denoise(texts, z, o.steps(), o.guidance()));
        parts.add(s.track(latents.to(Device.CPU, o.latentDType())));
        progress.accept(m);
      }
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      tensors.put("latents", s.track(Tensor.cat(parts, 0)));
      tensors.put("pair", s.track(Tensor.of(pairIds, count)));
      tensors.put("prompt_id", s.track(Tensor.of(promptIds, count)));
      Map<String, String> meta = new LinkedHashMap<>();
      meta.put("format", PairManifest.FORMAT);
      meta.put("first", Long.toString(first));
      meta.put("count", Integer.toString(count));
      Safetensors.writeWithDigest(file, tensors, meta, PairManifest.SHARD_FILE, false);
    }
  }

  /** When every shard exists: the manifest with their list and checksums, marked complete. */
  private static boolean finish(Path dir, Path manifestFile, ObjectNode settings, long shards, Options o) {
    var list = PairManifest.newArray();
    for (long k = 0; k < shards; k++) {
      Path f = dir.resolve(PairManifest.shardName(k));
      if (!Files.exists(f)) return false;
      try (SafetensorsFile sf = Safetensors.open(f)) {
        list.addObject().put("file", f.getFileName().toString()).put("first", k * o.shardSize()).put("count", count(o, k))
            .put("sha256", sf.metadata().get(Safetensors.DIGEST_KEY));
      }
    }
    JsonNode old = PairManifest.read(manifestFile);
    ObjectNode m = settings.deepCopy();
    m.put("complete", true);
    m.set("shards", list);
    if (!old.toString().equals(m.toString())) PairManifest.write(manifestFile, m);
    return true;
  }
}
