package io.d2g.train;

import io.d2g.CheckpointException;
import io.d2g.Tensor;
import io.d2g.io.OutputException;
import io.d2g.io.Outputs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A run's checkpoint folder: {@code step-000000001000.safetensors} files, of which the newest
 * {@code keep} stay. A run resumes from {@link #latest()}; older checkpoints are deleted only when
 * they are d2g checkpoints ({@link Checkpoint#KIND}), never anything else in the folder.
 */
public final class Checkpoints {
  private static final Logger LOG = LoggerFactory.getLogger(Checkpoints.class);
  private static final Pattern NAME = Pattern.compile("step-(\\d{12})\\.safetensors");

  private final Path dir;
  private final int keep;

  /** keep: how many of the newest checkpoints to keep (at least 1). */
  public Checkpoints(Path dir, int keep) {
    if (keep < 1) throw new CheckpointException("keep at least one checkpoint, not " + keep);
    this.dir = dir;
    this.keep = keep;
  }

  public Path dir() {
    return dir;
  }

  /** The file of a step's checkpoint. */
  public Path file(long step) {
    return dir.resolve(String.format("step-%012d.safetensors", step));
  }

  /** Writes step's checkpoint, then deletes all but the newest {@code keep}. */
  public Path save(long step, String configJson, Map<String, Map<String, Tensor>> sections) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new OutputException("cannot create the checkpoint folder " + dir + ": " + e.getMessage(), e);
    }
    Path file = file(step);
    Checkpoint.save(file, step, configJson, sections, false);
    List<Long> steps = steps();
    for (int i = 0; i < steps.size() - keep; i++) {
      try {
        Outputs.deleteOwn(file(steps.get(i)), Checkpoint.KIND);
      } catch (OutputException e) {
        LOG.warn("not deleting an old checkpoint: {}", e.getMessage()); // not ours: never deleted
      }
    }
    return file;
  }

  /** The steps of the checkpoint files present, oldest first. */
  public List<Long> steps() {
    List<Long> steps = new ArrayList<>();
    if (!Files.isDirectory(dir)) return steps;
    try (Stream<Path> s = Files.list(dir)) {
      s.forEach(p -> {
        Matcher m = NAME.matcher(p.getFileName().toString());
        if (m.matches()) steps.add(Long.parseLong(m.group(1)));
      });
    } catch (IOException e) {
      throw new CheckpointException("cannot list the checkpoint folder " + dir + ": " + e.getMessage(), e);
    }
    steps.sort(null);
    return steps;
  }

  /**
   * The newest checkpoint, loaded and checked, or empty when the folder has none. A damaged newest
   * checkpoint is an error (a {@link CheckpointException} naming it and the one before), not a
   * silent step back: move it away to resume from the previous one.
   */
  public Optional<Checkpoint> latest() {
    List<Long> steps = steps();
    if (steps.isEmpty()) return Optional.empty();
    Path newest = file(steps.getLast());
    try {
      Checkpoint c = Checkpoint.load(newest);
      LOG.info("resuming from {} (step {})", newest, c.step());
      return Optional.of(c);
    } catch (CheckpointException e) {
      String previous = steps.size() > 1 ? "; the previous one is " + file(steps.get(steps.size() - 2))
          + ": move " + newest.getFileName() + " away to resume from it" : "";
      throw new CheckpointException("cannot resume from " + newest + ": " + e.getMessage() + previous, e);
    }
  }

  /**
   * Resumes a run: hands the newest checkpoint to {@code load} (which copies its sections into the
   * run's modules, optimizer and averages) and returns its step, or returns 0 when there is none. A
   * checkpoint written with other settings than {@code configJson} is refused with
   * {@link OtherSettingsException}, and nothing is loaded.
   */
  public long resume(String configJson, java.util.function.Consumer<Checkpoint> load) {
    Optional<Checkpoint> latest = latest();
    if (latest.isEmpty()) return 0;
    try (Checkpoint c = latest.get()) {
      if (!c.config().equals(configJson))
        throw new OtherSettingsException("the run in " + dir.getParent() + " was started with other settings ("
            + c.config() + "); use another --out or the same options");
      load.accept(c);
      return c.step();
    }
  }

  /** The run folder's checkpoints were written with other settings than the run being resumed. */
  public static final class OtherSettingsException extends io.d2g.InvalidArgumentException {
    OtherSettingsException(String message) {
      super(message);
    }
  }

  /** {@link #save} of the given states (named sections of named tensors), closing their tensors after. */
  public Path saveAndClose(long step, String configJson, Map<String, Map<String, Tensor>> sections) {
    try {
      return save(step, configJson, sections);
    } finally {
      sections.values().forEach(m -> m.values().forEach(Tensor::close));
    }
  }
}
