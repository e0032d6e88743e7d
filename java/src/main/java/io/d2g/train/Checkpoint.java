package io.d2g.train;

import io.d2g.CheckpointException;
import io.d2g.Tensor;
import io.d2g.hub.Safetensors;
import io.d2g.hub.SafetensorsFile;
import io.d2g.io.OutputKind;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A training checkpoint: everything a run needs to go on exactly where it stopped, in one
 * safetensors file. Tensors are grouped in sections by key prefix, {@code "<section>/<name>"}:
 * typically {@code model} (the module's state), {@code optimizer} ({@link Optimizer#state()}),
 * {@code ema} ({@link Ema#state()}) and {@code rng} (generator states as u8 tensors). The metadata
 * holds the step, the run's configuration (JSON) and the SHA-256 of the data.
 *
 * <p>Saving is atomic (written beside the target, flushed, renamed over it): a run killed while it
 * saves leaves the previous checkpoint intact, never half a file. {@link #load} checks the format
 * and the digest and refuses a damaged or edited file with a {@link CheckpointException} that says
 * so.
 */
public final class Checkpoint implements AutoCloseable {
  /** The format marker in the metadata. */
  public static final String FORMAT = "d2g-checkpoint";
  /** Checkpoints as outputs: replaced only by another checkpoint (see {@link io.d2g.io.Outputs}). */
  public static final OutputKind KIND = OutputKind.safetensorsWith("d2g training checkpoint", "format", FORMAT);

  private final Path path;
  private final long step;
  private final String config;
  private final Map<String, Map<String, Tensor>> sections;

  private Checkpoint(Path path, long step, String config, Map<String, Map<String, Tensor>> sections) {
    this.path = path;
    this.step = step;
    this.config = config;
    this.sections = sections;
  }

  /**
   * Writes a checkpoint (tensors on any device; copied to the host as they are written). Section
   * and tensor names must not contain '/' in the section part; an existing file is replaced only when
   * it is a checkpoint ({@code force}: also any other safetensors file).
   */
  public static void save(Path file, long step, String configJson, Map<String, Map<String, Tensor>> sections,
      boolean force) {
    if (step < 0) throw new CheckpointException("a checkpoint's step must be >= 0, not " + step);
    Map<String, Tensor> flat = new LinkedHashMap<>();
    sections.forEach((section, tensors) -> {
      if (section.isEmpty() || section.contains("/"))
        throw new CheckpointException("section name '" + section + "' must be non-empty and without '/'");
      tensors.forEach((name, t) -> flat.put(section + "/" + name, t));
    });
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("format", FORMAT);
    meta.put("format_version", "1");
    meta.put("step", Long.toString(step));
    meta.put("config", configJson == null ? "{}" : configJson);
    meta.put("created", Instant.now().toString());
    Safetensors.writeWithDigest(file, flat, meta, KIND, force);
  }

  /**
   * Reads a checkpoint, checking its format and digest. The tensors are CPU tensors (mapped from the
   * file); they belong to the checkpoint and are closed with it.
   */
  public static Checkpoint load(Path file) {
    try (SafetensorsFile f = Safetensors.open(file)) {
      Map<String, String> meta = f.metadata();
      if (!FORMAT.equals(meta.get("format")))
        throw new CheckpointException(file + " is not a d2g training checkpoint (its metadata has no format="
            + FORMAT + ")");
      if (!"1".equals(meta.get("format_version")))
        throw new CheckpointException(file + " is a checkpoint of format version " + meta.get("format_version")
            + ", which this d2g cannot read (it reads version 1)");
      if (!f.verifyDigest())
        throw new CheckpointException(file + " has no data digest (" + Safetensors.DIGEST_KEY + "); it was not written "
            + "by Checkpoint.save, or its header was edited");
      long step;
      try {
        step = Long.parseLong(meta.get("step"));
      } catch (NumberFormatException | NullPointerException e) {
        throw new CheckpointException(file + " has no valid step in its metadata: " + meta.get("step"));
      }
      Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
      Map<String, Tensor> all = f.tensors();
      all.forEach((key, t) -> {
        int slash = key.indexOf('/');
        String section = slash < 0 ? "" : key.substring(0, slash);
        sections.computeIfAbsent(section, k -> new LinkedHashMap<>()).put(key.substring(slash + 1), t);
      });
      return new Checkpoint(file, step, meta.getOrDefault("config", "{}"), sections);
    }
  }

  public Path path() {
    return path;
  }

  /** The number of training steps done when it was written. */
  public long step() {
    return step;
  }

  /** The run's configuration as saved (JSON). */
  public String config() {
    return config;
  }

  /** The section names present. */
  public Set<String> sectionNames() {
    return Collections.unmodifiableSet(new TreeSet<>(sections.keySet()));
  }

  /** A section's tensors by name (owned by the checkpoint); a {@link CheckpointException} if it is missing. */
  public Map<String, Tensor> section(String name) {
    Map<String, Tensor> s = sections.get(name);
    if (s == null)
      throw new CheckpointException(path + " has no section '" + name + "' (it has " + sections.keySet() + ")");
    return Collections.unmodifiableMap(s);
  }

  public boolean hasSection(String name) {
    return sections.containsKey(name);
  }

  @Override
  public void close() {
    sections.values().forEach(s -> s.values().forEach(Tensor::close));
  }
}
