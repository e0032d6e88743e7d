package io.d2g.hub;

import io.d2g.DType;
import java.util.Locale;

/**
 * The element types the safetensors format names, with their sizes and their order in the reference
 * implementation (which writes larger types first so that every tensor stays aligned). Only some map
 * to a {@link DType} that tensors here can hold; the others can be listed but not loaded.
 */
public enum SafetensorsDType {
  // Declaration order = the reference's dtype order (safetensors' Dtype enum), smallest first.
  BOOL(1, DType.BOOL),
  U8(1, DType.U8),
  I8(1, null),
  F8_E5M2(1, null),
  F8_E4M3(1, null),
  F8_E8M0(1, null),
  I16(2, null),
  U16(2, null),
  F16(2, DType.F16),
  BF16(2, DType.BF16),
  I32(4, DType.I32),
  U32(4, null),
  F32(4, DType.F32),
  F64(8, DType.F64),
  I64(8, DType.I64),
  U64(8, null);

  private final int byteSize;
  private final DType dtype;

  SafetensorsDType(int byteSize, DType dtype) {
    this.byteSize = byteSize;
    this.dtype = dtype;
  }

  public int byteSize() {
    return byteSize;
  }

  /** The tensor dtype, or null when tensors here cannot hold this type. */
  public DType dtype() {
    return dtype;
  }

  public boolean isSupported() {
    return dtype != null;
  }

  /** The safetensors type of a tensor dtype (every {@link DType} has one). */
  public static SafetensorsDType of(DType dtype) {
    for (SafetensorsDType s : values()) if (s.dtype == dtype) return s;
    throw new IllegalArgumentException("no safetensors dtype for " + dtype);
  }

  /** Parses a header's dtype string; null if the format does not know it. */
  static SafetensorsDType parse(String name) {
    try {
      return valueOf(name.toUpperCase(Locale.ROOT).equals(name) ? name : "?");
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  static String supportedList() {
    StringBuilder sb = new StringBuilder();
    for (SafetensorsDType s : values())
      if (s.isSupported()) sb.append(sb.isEmpty() ? "" : ", ").append(s.name());
    return sb.toString();
  }
}
