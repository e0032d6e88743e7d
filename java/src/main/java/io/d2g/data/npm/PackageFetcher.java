package io.d2g.data.npm;

import io.d2g.data.DatasetException;
import java.nio.file.Path;

/**
 * Puts an npm package's tarball into a cache folder and returns its path. The caller verifies the
 * tarball's integrity; a fetcher only obtains the bytes (and may reuse a cached copy).
 */
@FunctionalInterface
public interface PackageFetcher {
  Path fetch(NpmPackage pkg, Path cacheDir);

  /** The integrity the registry publishes for a package, for packages without a pinned hash. */
  default String registryIntegrity(NpmPackage pkg) {
    throw new DatasetException("no pinned integrity for " + pkg.spec() + " and this fetcher cannot ask a registry");
  }
}
