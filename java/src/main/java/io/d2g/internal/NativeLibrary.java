package io.d2g.internal;

import io.d2g.LibraryLoadException;
import io.d2g.io.OutputKind;
import io.d2g.io.Outputs;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds and loads libd2g, in this order:
 *
 * <ol>
 *   <li>the file named by the system property {@code d2g.library} or the environment variable
 *       {@code D2G_LIBRARY} (when one is set, that file or an error: never another library);
 *   <li>a development build: {@code build/native/libd2g.so} in the working directory or a parent;
 *   <li>the copy inside the d2g jar, extracted to a folder named after its SHA-256 under
 *       {@code ~/.cache/d2g/native/} (or {@code d2g.cache}), where nothing else can shadow it.
 * </ol>
 *
 * libd2g finds LibTorch through its RUNPATH (set at build time) or the dynamic linker's paths.
 */
public final class NativeLibrary {
  private static final Logger LOG = LoggerFactory.getLogger(NativeLibrary.class);
  static final String PROPERTY = "d2g.library";
  static final String ENV = "D2G_LIBRARY";
  static final String RESOURCE = "/io/d2g/native/linux-x86_64/libd2g.so";
  static final String BUILD_HINT =
      "build it with: cmake -S . -B build && cmake --build build -j  (or run ./d2g once from the repository)";

  private static volatile Path loaded;

  private NativeLibrary() {}

  /**
   * Loads the library once; later calls return at once. Throws {@link LibraryLoadException}, or
   * {@link IllegalStateException} once the JVM is shutting down.
   *
   * <p>The load is native work like any call: LibTorch's static initialisers run inside it, so the
   * {@link ExitGuard} is installed first and an exit that comes meanwhile waits for the load to end.
   */
  public static Path load() {
    Path p = loaded;
    if (p != null) return p;
    synchronized (NativeLibrary.class) {
      if (loaded == null) {
        ExitGuard.install();
        ExitGuard.enter();
        try {
          loaded = loadFrom(locate());
        } finally {
          ExitGuard.leave();
        }
      }
      return loaded;
    }
  }

  /** Where {@link #load()} would load the library from. */
  static Path locate() {
    String explicit = System.getProperty(PROPERTY);
    String source = "system property " + PROPERTY;
    if (explicit == null || explicit.isBlank()) {
      explicit = System.getenv(ENV);
      source = "environment variable " + ENV;
    }
    if (explicit != null && !explicit.isBlank()) {
      Path p = Path.of(explicit).toAbsolutePath();
      if (Files.isRegularFile(p)) return p;
      // Never fall back to another library: the one asked for may be a different build on purpose.
      throw new LibraryLoadException(source + " names " + p + ", which " + (Files.exists(p) ? "is not a file" :
          "does not exist") + "; point it at a libd2g.so or unset it to use the default search. " + BUILD_HINT, null);
    }
    return fromBuildFolder()
        .or(NativeLibrary::fromJar)
        .orElseThrow(() -> new LibraryLoadException(
            "libd2g not found: not in " + PROPERTY + "/" + ENV + ", not in build/native/ of "
                + Path.of("").toAbsolutePath() + " or a parent, and not inside the d2g jar; " + BUILD_HINT, null));
  }

  private static Optional<Path> fromBuildFolder() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path p = dir.resolve("build/native/libd2g.so");
      if (Files.isRegularFile(p)) return Optional.of(p);
    }
    return Optional.empty();
  }

  private static Optional<Path> fromJar() {
    try (InputStream in = NativeLibrary.class.getResourceAsStream(RESOURCE)) {
      if (in == null) return Optional.empty();
      byte[] bytes = in.readAllBytes();
      String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)).substring(0, 16);
      String base = System.getProperty("d2g.cache", System.getProperty("user.home") + "/.cache/d2g");
      Path dir = Path.of(base, "native", hash);
      Path lib = dir.resolve("libd2g.so");
      if (!Files.isRegularFile(lib) || Files.size(lib) != bytes.length) Outputs.writeBytes(lib, SHARED_LIBRARY, false, bytes);
      return Optional.of(lib);
    } catch (IOException | NoSuchAlgorithmException | io.d2g.io.OutputException e) {
      throw new LibraryLoadException("could not extract libd2g from the jar: " + e.getMessage(), e);
    }
  }

  /** The cached copy of the library: replaced only when it is an ELF file (an earlier, partial copy). */
  private static final OutputKind SHARED_LIBRARY = new OutputKind() {
    @Override
    public String description() {
      return "cached copy of libd2g.so";
    }

    @Override
    public boolean recognises(Path existing) {
      return isElf(existing);
    }
  };

  /** Whether a file starts like a shared library (ELF). */
  static boolean isElf(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      return java.util.Arrays.equals(in.readNBytes(4), new byte[] {0x7f, 'E', 'L', 'F'});
    } catch (IOException e) {
      return false;
    }
  }

  /** Loads the given file, turning the linker's complaint into a message that says what to install. */
  static Path loadFrom(Path lib) {
    // Checked first: the JVM answers a file that is not ELF with a misleading warning about stack guards.
    if (Files.isRegularFile(lib) && !isElf(lib))
      throw new LibraryLoadException("cannot load " + lib + ": it is not a shared library (no ELF header). "
          + BUILD_HINT, null);
    try {
      System.load(lib.toString());
      LOG.debug("loaded {}", lib);
      return lib;
    } catch (UnsatisfiedLinkError e) {
      throw new LibraryLoadException(explain(lib, e.getMessage()), e);
    }
  }

  /** Turns a dynamic-linker message into advice. */
  static String explain(Path lib, String linkerMessage) {
    String m = linkerMessage == null ? "" : linkerMessage;
    if (m.contains("libtorch") || m.contains("libc10")) {
      return "LibTorch is missing for " + lib + " (" + m + "). Install it: on Debian/Ubuntu `apt-get install "
          + "libtorch-dev` (CPU), or for CUDA point LD_LIBRARY_PATH at a LibTorch or PyTorch lib folder "
          + "(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__)+\"/lib\")') and rebuild with cmake.";
    }
    if (m.contains("cannot open shared object file") || m.contains("cannot open")) {
      return "cannot open " + lib + ": " + m + ". A library it needs is missing; check with `ldd " + lib + "`.";
    }
    return "cannot load " + lib + ": " + m + ". Is it a libd2g built for this machine? " + BUILD_HINT;
  }
}
