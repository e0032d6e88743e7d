package io.d2g.internal;

import static org.junit.jupiter.api.Assertions.*;

import io.d2g.LibraryLoadException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeLibraryTest {
  @Test
  void aFileThatIsNotALibraryGivesAClearError(@TempDir Path dir) throws Exception {
    Path fake = Files.writeString(dir.resolve("libd2g.so"), "not an ELF file");
    var e = assertThrows(LibraryLoadException.class, () -> NativeLibrary.loadFrom(fake));
    assertTrue(e.getMessage().contains(fake.toString()) && e.getMessage().contains("not a shared library"),
        e.getMessage());
  }

  @Test
  void aMissingFileGivesAClearError(@TempDir Path dir) {
    var e = assertThrows(LibraryLoadException.class, () -> NativeLibrary.loadFrom(dir.resolve("nope.so")));
    assertTrue(e.getMessage().contains("nope.so"), e.getMessage());
  }

  @Test
  void aLibraryNamedExplicitlyThatIsMissingIsAnErrorNotAFallback(@TempDir Path dir) {
    String old = System.getProperty(NativeLibrary.PROPERTY);
    try {
      System.setProperty(NativeLibrary.PROPERTY, dir.resolve("gone/libd2g.so").toString());
      var e = assertThrows(LibraryLoadException.class, NativeLibrary::locate);
      assertTrue(e.getMessage().contains("does not exist") && e.getMessage().contains("gone/libd2g.so"), e.getMessage());
    } finally {
      if (old == null) System.clearProperty(NativeLibrary.PROPERTY);
      else System.setProperty(NativeLibrary.PROPERTY, old);
    }
  }

  @Test
  void missingLibTorchIsExplainedWithTheInstallCommand() {
    String m = NativeLibrary.explain(Path.of("/x/libd2g.so"),
        "/x/libd2g.so: libtorch_cpu.so: cannot open shared object file: No such file or directory");
    assertTrue(m.contains("apt-get install libtorch-dev"), m);
    assertTrue(m.contains("LibTorch"), m);
  }

  @Test
  void theLoadedLibraryIsTheConfiguredOne() {
    Path p = NativeLibrary.load();
    String configured = System.getProperty(NativeLibrary.PROPERTY);
    if (configured != null) assertEquals(Path.of(configured).toAbsolutePath(), p);
    assertTrue(Files.isRegularFile(p));
  }
}
