package io.d2g.hub;

/**
 * One tensor's entry in a safetensors header: its type, shape and byte range within the data section
 * (from {@code begin} inclusive to {@code end} exclusive, relative to the end of the header).
 */
public record TensorInfo(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {
  public TensorInfo {
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  public long byteSize() {
    return end - begin;
  }

  public long numel() {
    long n = 1;
    for (long d : shape) n *= d;
    return n;
  }

  @Override
  public String toString() {
    return name + " " + dtype + java.util.Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
  }
}
