package io.d2g.data.npm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.d2g.data.DatasetException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fetches packages with the ordinary npm client: {@code npm pack <name>@<version>} into the cache
 * folder. A tarball already in the cache is reused without touching the network. A freshly
 * downloaded tarball is cross-checked against the registry's {@code dist.integrity}
 * ({@code npm view <spec> dist.integrity}) when the package has a pinned hash, so a changed
 * registry entry is noticed too.
 */
public final class NpmFetcher implements PackageFetcher {
  private static final Logger log = LoggerFactory.getLogger(NpmFetcher.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String npm;
  private final long timeoutSeconds;

  public NpmFetcher() {
    this(System.getenv().getOrDefault("D2G_NPM", "npm"), 600);
  }

  public NpmFetcher(String npmExecutable, long timeoutSeconds) {
    this.npm = npmExecutable;
    this.timeoutSeconds = timeoutSeconds;
  }

  @Override
  public Path fetch(NpmPackage pkg, Path cacheDir) {
    Path target = cacheDir.resolve(pkg.tarballName());
    if (Files.isRegularFile(target)) {
      log.debug("reusing cached {}", target);
      return target;
    }
    try {
      Files.createDirectories(cacheDir);
      Path tmp = Files.createTempDirectory(cacheDir, ".pack-");
      try {
        String out = run(tmp, List.of(npm, "pack", pkg.spec(), "--json", "--pack-destination", tmp.toString()));
        JsonNode arr = JSON.readTree(out);
        String file = arr.isArray() && !arr.isEmpty() ? arr.get(0).path("filename").asText(pkg.tarballName())
            : pkg.tarballName();
        Path packed = tmp.resolve(file);
        if (!Files.isRegularFile(packed))
          throw new DatasetException("npm pack " + pkg.spec() + " did not produce " + packed);
        if (pkg.integrity() != null) {
          String registry = registryIntegrity(pkg);
          if (!registry.equals(pkg.integrity()))
            throw new IntegrityException("the registry's dist.integrity for " + pkg.spec() + " is " + registry
                + " but d2g pins " + pkg.integrity() + "; the package was republished or the registry is not "
                + "the public npm registry. Nothing was written.");
        }
        Files.move(packed, target, StandardCopyOption.ATOMIC_MOVE);
        return target;
      } finally {
        deleteTree(tmp);
      }
    } catch (IOException e) {
      throw new DatasetException("cannot fetch " + pkg.spec() + " into " + cacheDir + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String registryIntegrity(NpmPackage pkg) {
    try {
      String out = run(null, List.of(npm, "view", pkg.spec(), "dist.integrity", "--json"));
      JsonNode n = JSON.readTree(out);
      String v = n.isArray() ? n.path(0).asText() : n.asText();
      if (v == null || v.isBlank()) throw new DatasetException("npm view " + pkg.spec() + " gave no dist.integrity");
      return v;
    } catch (IOException e) {
      throw new DatasetException("cannot parse npm view output for " + pkg.spec() + ": " + e.getMessage(), e);
    }
  }

  private String run(Path dir, List<String> cmd) {
    ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(cmd));
    if (dir != null) pb.directory(dir.toFile());
    pb.redirectErrorStream(false);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new DatasetException("cannot run '" + npm + "' (" + e.getMessage() + "). The emoji dataset is "
          + "downloaded with the npm client: install Node.js and npm (e.g. 'apt-get install npm'), or point "
          + "D2G_NPM at an npm executable, or put the package tarballs in the cache folder yourself.", e);
    }
    try {
      p.getOutputStream().close();
      var stdout = p.getInputStream().readAllBytes();
      var stderr = p.getErrorStream().readAllBytes();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new DatasetException(String.join(" ", cmd) + " timed out after " + timeoutSeconds + " s");
      }
      if (p.exitValue() != 0) {
        String err = new String(stderr, StandardCharsets.UTF_8).strip();
        throw new DatasetException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + err
            + (looksOffline(err) ? "\nThe npm registry is unreachable. Check the network or proxy "
                + "(npm config get registry), or copy the tarballs into the cache folder and run again." : ""));
      }
      return new String(stdout, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new DatasetException("error talking to npm: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new DatasetException("interrupted while running npm", e);
    }
  }

  private static boolean looksOffline(String err) {
    return err.contains("ENOTFOUND") || err.contains("EAI_AGAIN") || err.contains("ECONNREFUSED")
        || err.contains("ETIMEDOUT") || err.contains("network") || err.contains("ECONNRESET");
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) return;
    try (var s = Files.walk(p)) {
      for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
    }
  }
}
