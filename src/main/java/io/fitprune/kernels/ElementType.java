package io.fitprune.kernels;

import java.util.Locale;

/**
 * Element types of the kernels' memory ({@link Data}). FP32, FP16 and BF16 are the kernels' input types (the C API's
 * {@code fp_dtype}); INT32 holds indices. The CPU backend takes FP32 and BF16.
 */
public enum ElementType {
  FP32(0, 4), FP16(1, 2), BF16(2, 2), INT32(-1, 4);

  /** The C API's {@code fp_dtype} code ({@code -1} for INT32, which is no kernel input type); the binding's only. */
  final int code;
  /** Bytes per element. */
  public final int bytes;

  ElementType(int code, int bytes) {
    this.code = code;
    this.bytes = bytes;
  }

  /** The name in messages: "float32", "float16", "bfloat16", "int32". */
  public String longName() {
    return switch (this) {
      case FP32 -> "float32";
      case FP16 -> "float16";
      case BF16 -> "bfloat16";
      case INT32 -> "int32";
    };
  }

  public boolean isFloat() {
    return this != INT32;
  }

  /** Parses "fp32", "fp16", "bf16" (case-insensitive). */
  public static ElementType parseFloat(String name) {
    if (name != null) {
      switch (name.toLowerCase(Locale.ROOT)) {
        case "fp32": case "float32": return FP32;
        case "fp16": case "float16": case "half": return FP16;
        case "bf16": case "bfloat16": return BF16;
        default: break;
      }
    }
    throw new IllegalArgumentException("dtype must be one of fp32, fp16, bf16; got " + name);
  }

  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
