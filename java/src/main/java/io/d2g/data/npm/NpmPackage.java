package io.d2g.data.npm;

/**
 * One pinned npm package: its name, exact version and the registry's {@code dist.integrity}
 * (an SRI string such as {@code sha512-...}). A null integrity means "ask the registry".
 */
public record NpmPackage(String name, String version, String integrity) {
  public NpmPackage {
    if (name == null || name.isBlank()) throw new IllegalArgumentException("package name is empty");
    if (version == null || version.isBlank()) throw new IllegalArgumentException("package version is empty");
  }

  /** {@code name@version}, as npm writes it. */
  public String spec() {
    return name + "@" + version;
  }

  /** The file name {@code npm pack} gives the tarball: {@code @scope/name} becomes {@code scope-name}. */
  public String tarballName() {
    String n = name.startsWith("@") ? name.substring(1).replace('/', '-') : name;
    return n + "-" + version + ".tgz";
  }

  @Override
  public String toString() {
    return spec();
  }
}
