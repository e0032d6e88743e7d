package io.d2g.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writing outputs without ever destroying what d2g did not create. Every command and API that writes
 * goes through here:
 *
 * <ul>
 *   <li>{@link #stageFolder}: a folder output (a dataset) is written into a new temporary folder
 *       beside the target and moved into place only when complete; an existing target is replaced
 *       only when it is empty or its {@link OutputKind} recognises it as an earlier output of the same
 *       kind (when forced: also an older or damaged one that holds nothing but the kind's own files);
 *   <li>{@link #stageFile} and {@link #writeFile}: a file is written to a temporary file in the same
 *       folder, flushed to disk and renamed over the target, which is replaced under the same rule;
 *   <li>{@link #prepareFolder}: a folder that receives several such files (a model component) must be
 *       new, empty or already a folder of that kind.
 * </ul>
 *
 * Never replaced, forced or not: the file system's root, the home folder, the working folder and
 * their parents; a file where a folder goes or a folder where a file goes; a folder that holds
 * anything the kind does not recognise. A symbolic link is followed to what it names (which must
 * exist), and the link itself is left as it is. A failed write (a read-only place, a full disk, an
 * interruption) leaves the previous output as it was; temporary files of a run that was killed are
 * removed by the next write to the same place.
 */
public final class Outputs {
  private static final Logger log = LoggerFactory.getLogger(Outputs.class);
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  /** Marks a staging folder while it is being written; removed just before it is moved into place. */
  static final String STAGING_MARKER = ".d2g-staging";
  private static final String PARTIAL = ".d2g-partial-";
  private static final String OLD = ".d2g-old-";

  private Outputs() {}

  /** Writes the bytes that a caller produces to an output stream. */
  @FunctionalInterface
  public interface Writer {
    void write(OutputStream out) throws IOException;
  }

  // ---- single files ---------------------------------------------------------------------------

  /**
   * Deletes a file that {@code kind} recognises as one of its own (a training run's older
   * checkpoint, say); anything else, a symbolic link included, is refused with an {@link
   * OutputException} and left alone. A file that is already gone is fine.
   */
  public static void deleteOwn(Path file, OutputKind kind) {
    try {
      if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) return;
      if (!kind.recognises(file))
        throw new OutputException(file + " is not a " + kind.description() + " that d2g wrote; it was left as it is");
      Files.deleteIfExists(file);
    } catch (IOException e) {
      throw new OutputException("cannot delete " + file + ": " + e.getMessage(), e);
    }
  }

  /** Writes a file through a {@link StagedFile}: all of it or, on any failure, nothing. */
  public static Path writeFile(Path target, OutputKind kind, boolean force, Writer body) {
    try (StagedFile f = stageFile(target, kind, force)) {
      try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(f.path(), StandardOpenOption.WRITE), 1 << 16)) {
        body.write(out);
      } catch (IOException e) {
        throw failure("cannot write " + f.target(), e);
      }
      return f.commit();
    }
  }

  /** {@link #writeFile} of bytes. */
  public static Path writeBytes(Path target, OutputKind kind, boolean force, byte[] bytes) {
    return writeFile(target, kind, force, out -> out.write(bytes));
  }

  /** {@link #writeFile} of a value as indented JSON followed by a new line. */
  public static Path writeJson(Path target, OutputKind kind, boolean force, Object value) {
    return writeFile(target, kind, force, out -> {
      out.write(JSON.writeValueAsBytes(value));
      out.write('\n');
    });
  }

  /**
   * Writes a JSON results file that names the program that wrote it ({@value
   * OutputKind#PRODUCER_KEY}), so that a later run of the same program may replace it and nothing
   * else does ({@link OutputKind#results}). {@code value} must serialise to a JSON object.
   */
  public static Path writeResults(Path target, String producer, boolean force, Object value) {
    JsonNode v = JSON.valueToTree(value);
    if (!(v instanceof ObjectNode fields)) throw new IllegalArgumentException("results must be a JSON object");
    ObjectNode node = JSON.createObjectNode().put(OutputKind.PRODUCER_KEY, producer);
    node.setAll(fields);
    node.put(OutputKind.PRODUCER_KEY, producer);
    return writeJson(target, OutputKind.results(producer), force, node);
  }

  /**
   * Starts writing a file: checks that {@code target} may be written (see the class comment), then
   * creates an empty temporary file beside it for the caller to fill through {@link
   * StagedFile#path()} before {@link StagedFile#commit()}. Closing it without a commit removes the
   * temporary file and leaves the target as it was.
   */
  public static StagedFile stageFile(Path target, OutputKind kind, boolean force) {
    Path real = resolve(target);
    judgeFile(real, kind, force);
    Path parent = real.getParent();
    createFolders(parent, kind);
    removeStale(parent, real.getFileName().toString(), kind);
    Path tmp = parent.resolve(partialName(real));
    try {
      Files.createFile(tmp);
    } catch (IOException e) {
      throw failure("cannot write " + real, e);
    }
    return new StagedFile(real, tmp, kind, force);
  }

  /** A file being written beside its target. */
  public static final class StagedFile implements AutoCloseable {
    private final Path target, tmp;
    private final OutputKind kind;
    private final boolean force;
    private boolean committed;

    private StagedFile(Path target, Path tmp, OutputKind kind, boolean force) {
      this.target = target;
      this.tmp = tmp;
      this.kind = kind;
      this.force = force;
    }

    /** The temporary file to write (it exists and is empty). */
    public Path path() {
      return tmp;
    }

    /** Where the file goes (symbolic links resolved). */
    public Path target() {
      return target;
    }

    /** Flushes the file to disk and renames it over the target, which is checked once more first. */
    public Path commit() {
      if (committed) throw new IllegalStateException("already committed: " + target);
      try {
        fsync(tmp);
        judgeFile(target, kind, force);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        committed = true;
        fsyncFolder(target.getParent());
        return target;
      } catch (IOException e) {
        throw failure("cannot write " + target, e);
      }
    }

    @Override
    public void close() {
      if (committed) return;
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException e) {
        log.warn("could not remove the temporary file {}: {}", tmp, e.toString());
      }
    }
  }

  // ---- folders --------------------------------------------------------------------------------

  /**
   * Starts writing a folder output: checks that {@code target} may be written (see the class
   * comment), then creates an empty temporary folder beside it for the caller to fill through
   * {@link StagedFolder#dir()} before {@link StagedFolder#commit()}. Closing it without a commit
   * removes the temporary folder and leaves the target as it was.
   */
  public static StagedFolder stageFolder(Path target, OutputKind kind, boolean force) {
    Path real = resolve(target);
    judgeFolder(real, kind, force);
    Path parent = real.getParent();
    createFolders(parent, kind);
    removeStale(parent, real.getFileName().toString(), kind);
    Path tmp = parent.resolve(partialName(real));
    try {
      Files.createDirectory(tmp);
      Files.writeString(tmp.resolve(STAGING_MARKER), "d2g staging folder of " + kind.description() + " for " + real
          + ", process " + ProcessHandle.current().pid() + "\n");
    } catch (IOException e) {
      deleteQuietly(tmp);
      throw failure("cannot write " + real, e);
    }
    return new StagedFolder(real, tmp, kind, force);
  }

  /** A folder output being written beside its target. */
  public static final class StagedFolder implements AutoCloseable {
    private final Path target, tmp;
    private final OutputKind kind;
    private final boolean force;
    private boolean committed;

    private StagedFolder(Path target, Path tmp, OutputKind kind, boolean force) {
      this.target = target;
      this.tmp = tmp;
      this.kind = kind;
      this.force = force;
    }

    /** The temporary folder to write into. */
    public Path dir() {
      return tmp;
    }

    /** Where the folder goes (symbolic links resolved). */
    public Path target() {
      return target;
    }

    /**
     * Flushes every file to disk and puts the folder in place of the target, which is checked once
     * more first; a replaced earlier output is then deleted.
     */
    public Path commit() {
      if (committed) throw new IllegalStateException("already committed: " + target);
      try {
        Files.delete(tmp.resolve(STAGING_MARKER));
        fsyncTree(tmp);
        boolean exists = judgeFolder(target, kind, force);
        if (!exists) {
          Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
          committed = true;
        } else {
          Path old;
          if (exchange(tmp, target)) {
            old = tmp;
          } else {
            old = target.resolveSibling("." + target.getFileName() + OLD + ProcessHandle.current().pid() + "-" + random());
            Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
          }
          committed = true;
          removeReplaced(old, kind);
        }
        fsyncFolder(target.getParent());
        return target;
      } catch (IOException e) {
        throw failure("cannot write " + target, e);
      }
    }

    @Override
    public void close() {
      if (!committed) deleteQuietly(tmp);
    }
  }

  /**
   * Makes sure {@code dir} can receive the files of an output of {@code kind} that is written file
   * by file (a model component: config.json beside its weights): it is created when absent, and
   * must otherwise be an empty folder or one that {@code kind} recognises. Returns the folder with
   * symbolic links resolved.
   */
  public static Path prepareFolder(Path dir, OutputKind kind, boolean force) {
    Path real = resolve(dir);
    if (!judgeFolder(real, kind, force)) createFolders(real, kind);
    return real;
  }

  // ---- the rules ------------------------------------------------------------------------------

  /** The absolute target with symbolic links resolved; a link must name something that exists. */
  static Path resolve(Path target) {
    Path abs = target.toAbsolutePath().normalize();
    if (abs.getFileName() == null) throw new OutputException(abs + " is the root of the file system; nothing was written");
    if (Files.isSymbolicLink(abs)) {
      try {
        return abs.toRealPath();
      } catch (IOException e) {
        throw new OutputException(abs + " is a symbolic link to " + readLink(abs) + ", which does not exist; "
            + "nothing was written. Remove the link or name another path.");
      }
    }
    // resolve links among the parents, so that temporary files land beside the real target
    Path existing = abs.getParent();
    while (existing != null && !Files.exists(existing)) existing = existing.getParent();
    if (existing == null) return abs;
    try {
      return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
    } catch (IOException e) {
      return abs;
    }
  }

  /** Checks a file target; returns whether it exists (and may be replaced). */
  static boolean judgeFile(Path real, OutputKind kind, boolean force) {
    if (!Files.exists(real, LinkOption.NOFOLLOW_LINKS)) return false;
    if (Files.isDirectory(real, LinkOption.NOFOLLOW_LINKS))
      throw new OutputException(real + " is a folder, not a file; " + a(kind.description()) + " is a file, so "
          + "nothing was written. Name a file inside it or another path.");
    if (!Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS))
      throw new OutputException(real + " exists and is not a regular file, so nothing was written.");
    return mayReplace(real, kind, force, "");
  }

  /** Checks a folder target; returns whether it exists (empty, or replaceable). */
  static boolean judgeFolder(Path real, OutputKind kind, boolean force) {
    String why = protectedReason(real);
    if (why != null)
      throw new OutputException(real + " is " + why + "; " + a(kind.description()) + " needs a folder of its own, "
          + "so nothing was written. Name a new folder, e.g. " + real.resolve("d2g-output") + ".");
    if (!Files.exists(real, LinkOption.NOFOLLOW_LINKS)) return false;
    if (!Files.isDirectory(real, LinkOption.NOFOLLOW_LINKS))
      throw new OutputException(real + " exists and is not a folder; " + a(kind.description()) + " is a folder, so "
          + "nothing was written. Name another path.");
    List<String> entries = list(real);
    if (entries.isEmpty()) return true;
    return mayReplace(real, kind, force, " (it holds " + preview(entries) + ")");
  }

  private static boolean mayReplace(Path real, OutputKind kind, boolean force, String contents) {
    try {
      if (kind.recognises(real)) return true;
      if (kind.replaceableWhenForced(real)) {
        if (force) return true;
        throw new OutputException(real + " is not recognisably " + a(kind.description()) + contents + " (it may be an "
            + "older or damaged one); it was left as it is and nothing was written. If it is yours to replace, force "
            + "it (--force on the command line).");
      }
    } catch (IOException e) {
      throw failure("cannot inspect " + real, e);
    }
    throw new OutputException(real + " already exists and is not " + a(kind.description()) + contents
        + "; it was left as it is and nothing was written. Name a new path"
        + (Files.isDirectory(real) ? " or an empty folder." : "."));
  }

  /** "a thing" or "an item". */
  private static String a(String noun) {
    return ("aeiou".indexOf(Character.toLowerCase(noun.charAt(0))) >= 0 ? "an " : "a ") + noun;
  }

  /** Why a folder may never be an output, or null: the root, home, the working folder, their parents. */
  static String protectedReason(Path real) {
    if (real.getFileName() == null || real.getParent() == null) return "the root of the file system";
    if (real.getFileSystem() != FileSystems.getDefault()) return null;
    Path cwd = realOrSelf(Path.of("").toAbsolutePath());
    Path home = realOrSelf(Path.of(System.getProperty("user.home")).toAbsolutePath());
    Path me = realOrSelf(real);
    if (me.equals(home)) return "the home folder";
    if (me.equals(cwd)) return "the working folder";
    if (home.startsWith(me)) return "a parent of the home folder";
    if (cwd.startsWith(me)) return "a parent of the working folder";
    return null;
  }

  private static Path realOrSelf(Path p) {
    try {
      return p.toRealPath();
    } catch (IOException e) {
      return p.normalize();
    }
  }

  private static void createFolders(Path dir, OutputKind kind) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw failure("cannot create the folder " + dir + " for the " + kind.description(), e);
    }
  }

  // ---- temporary files and leftovers ----------------------------------------------------------

  private static String partialName(Path real) {
    return "." + real.getFileName() + PARTIAL + ProcessHandle.current().pid() + "-" + random();
  }

  private static String random() {
    return HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
  }

  /**
   * Removes what killed runs left beside {@code name}: temporary files and folders named after it
   * whose process is gone. A folder goes only when it still carries the staging marker, is empty, or
   * is an earlier output that {@code kind} recognises; anything else is left alone.
   */
  static void removeStale(Path parent, String name, OutputKind kind) {
    List<Path> candidates;
    try (Stream<Path> s = Files.list(parent)) {
      candidates = s.filter(p -> {
        String n = p.getFileName().toString();
        return n.startsWith("." + name + PARTIAL) || n.startsWith("." + name + OLD);
      }).toList();
    } catch (IOException e) {
      return;
    }
    for (Path p : candidates) {
      String n = p.getFileName().toString();
      String rest = n.substring(n.startsWith("." + name + PARTIAL) ? name.length() + 1 + PARTIAL.length()
          : name.length() + 1 + OLD.length());
      long pid;
      try {
        pid = Long.parseLong(rest.substring(0, rest.indexOf('-')));
      } catch (RuntimeException e) {
        continue;
      }
      if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) continue;
      try {
        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          Files.delete(p);
        } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)
            && (Files.exists(p.resolve(STAGING_MARKER)) || list(p).isEmpty() || kind.recognises(p))) {
          deleteTree(p);
        } else {
          continue;
        }
        log.info("removed {}, left by an interrupted run", p);
      } catch (IOException e) {
        log.warn("could not remove {}, left by an interrupted run: {}", p, e.toString());
      }
    }
  }

  /** Deletes an output this process just replaced, after checking once more that it is one. */
  private static void removeReplaced(Path old, OutputKind kind) {
    try {
      if (list(old).isEmpty() || kind.recognises(old) || kind.replaceableWhenForced(old)) {
        deleteTree(old);
        return;
      }
    } catch (IOException e) {
      log.warn("could not remove the replaced output {}: {}", old, e.toString());
      return;
    }
    log.warn("kept the replaced output at {}: its contents changed while the new one was written", old);
  }

  static List<String> list(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    } catch (IOException e) {
      throw failure("cannot read the folder " + dir, e);
    }
  }

  private static String preview(List<String> entries) {
    Set<String> shown = new LinkedHashSet<>(entries.subList(0, Math.min(5, entries.size())));
    return String.join(", ", shown) + (entries.size() > 5 ? " and " + (entries.size() - 5) + " more" : "");
  }

  /** Deletes a folder tree without following symbolic links (a link is removed, never what it names). */
  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) return;
    List<Path> all;
    try (Stream<Path> s = Files.walk(root)) {
      all = new ArrayList<>(s.toList());
    }
    all.sort(Comparator.reverseOrder());
    for (Path p : all) Files.deleteIfExists(p);
  }

  private static void deleteQuietly(Path p) {
    try {
      deleteTree(p);
    } catch (IOException e) {
      log.warn("could not remove the temporary folder {}: {}", p, e.toString());
    }
  }

  private static void fsync(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
  }

  private static void fsyncTree(Path dir) throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.walk(dir)) {
      files = s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).toList();
    }
    for (Path f : files) fsync(f);
    fsyncFolder(dir);
  }

  /** Makes a rename durable; not every system can open a folder for this, which is no error. */
  private static void fsyncFolder(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | UnsupportedOperationException ignored) {
      // best effort
    }
  }

  private static String readLink(Path link) {
    try {
      return Files.readSymbolicLink(link).toString();
    } catch (IOException e) {
      return "?";
    }
  }

  /** An I/O failure as an {@link OutputException} that says what happened in words. */
  static OutputException failure(String what, IOException e) {
    String why;
    if (e instanceof AccessDeniedException) why = "permission denied (a read-only place?)";
    else if (e instanceof NoSuchFileException) why = "no such file or folder: " + e.getMessage();
    else if (e instanceof FileSystemException f && f.getReason() != null) why = f.getReason() + " (" + f.getFile() + ")";
    else why = e.getMessage() == null ? e.toString() : e.getMessage();
    return new OutputException(what + ": " + why + ". What was there before is unchanged.", e);
  }

  // ---- atomic exchange of two folders (Linux renameat2) ---------------------------------------

  private static final MethodHandle RENAMEAT2 = renameat2();

  private static MethodHandle renameat2() {
    try {
      Linker linker = Linker.nativeLinker();
      return linker.defaultLookup().find("renameat2").map(a -> linker.downcallHandle(a, FunctionDescriptor.of(
          ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
          ValueLayout.JAVA_INT))).orElse(null);
    } catch (RuntimeException | LinkageError e) {
      return null;
    }
  }

  /** Swaps two paths in one step where the system can; false where it cannot (then nothing changed). */
  static boolean exchange(Path a, Path b) {
    if (RENAMEAT2 == null || a.getFileSystem() != FileSystems.getDefault()) return false;
    final int atFdCwd = -100, renameExchange = 2;
    try (Arena arena = Arena.ofConfined()) {
      int rc = (int) RENAMEAT2.invokeExact(atFdCwd, arena.allocateFrom(a.toString()), atFdCwd,
          arena.allocateFrom(b.toString()), renameExchange);
      return rc == 0;
    } catch (Throwable t) {
      return false;
    }
  }
}
