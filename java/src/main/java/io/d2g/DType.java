package io.d2g;

/** Element types a tensor can hold. The codes are d2g_dtype's in native/include/d2g.h. */
public enum DType {
  F32(0, 4),
  F16(1, 2),
  BF16(2, 2),
  I32(3, 4),
  I64(4, 8),
  U8(5, 1),
  BOOL(6, 1),
  F64(7, 8);

  private final int code;
  private final int byteSize;

  DType(int code, int byteSize) {
    this.code = code;
    this.byteSize = byteSize;
  }

  /** The C API's code for this type. */
  public int code() {
    return code;
  }

  /** Bytes per element. */
  public int byteSize() {
    return byteSize;
  }

  public boolean isFloatingPoint() {
    return this == F32 || this == F16 || this == BF16 || this == F64;
  }

  public static DType fromCode(int code) {
    for (DType d : values()) if (d.code == code) return d;
    throw new InvalidArgumentException("unknown dtype code " + code);
  }

  /** Parses "f32", "bf16", "float16", ... (case-insensitive). */
  public static DType parse(String name) {
    return switch (name.toLowerCase(java.util.Locale.ROOT)) {
      case "f32", "float32", "float" -> F32;
      case "f16", "float16", "half" -> F16;
      case "bf16", "bfloat16" -> BF16;
      case "i32", "int32", "int" -> I32;
      case "i64", "int64", "long" -> I64;
      case "u8", "uint8", "byte" -> U8;
      case "bool" -> BOOL;
      case "f64", "float64", "double" -> F64;
      default -> throw new InvalidArgumentException(
          "unknown dtype '" + name + "' (expected f32, f16, bf16, i32, i64, u8, bool or f64)");
    };
  }

  @Override
  public String toString() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
