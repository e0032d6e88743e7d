package io.d2g;

/**
 * Where a tensor lives: the CPU, or CUDA device {@code index}. Written and parsed as "cpu" or "cuda:N".
 */
public record Device(Type type, int index) {
  public enum Type {
    CPU,
    CUDA
  }

  public static final Device CPU = new Device(Type.CPU, 0);

  public Device {
    if (type == null) throw new InvalidArgumentException("device type is null");
    if (index < 0) throw new InvalidArgumentException("device index must be >= 0, got " + index);
    if (type == Type.CPU && index != 0) throw new InvalidArgumentException("cpu has no index " + index);
  }

  public static Device cuda(int index) {
    return new Device(Type.CUDA, index);
  }

  /** Parses "cpu", "cuda" (device 0) or "cuda:N". */
  public static Device parse(String s) {
    String t = s.trim().toLowerCase(java.util.Locale.ROOT);
    if (t.equals("cpu")) return CPU;
    if (t.equals("cuda")) return cuda(0);
    if (t.startsWith("cuda:")) {
      try {
        return cuda(Integer.parseInt(t.substring(5)));
      } catch (NumberFormatException e) {
        // fall through
      }
    }
    throw new InvalidArgumentException("unknown device '" + s + "' (expected cpu, cuda or cuda:N)");
  }

  public boolean isCuda() {
    return type == Type.CUDA;
  }

  int typeCode() {
    return type == Type.CUDA ? 1 : 0;
  }

  @Override
  public String toString() {
    return type == Type.CPU ? "cpu" : "cuda:" + index;
  }
}
