package io.fitprune.kernels;

/** bfloat16 conversions: a bf16 value is the top half of a float32, held as a {@code short} bit pattern. */
public final class Bf16 {
  private Bf16() {}

  /** The bf16 nearest to {@code f} (ties to even), as its bit pattern; NaN stays a (quiet) NaN. */
  public static short fromFloat(float f) {
    int b = Float.floatToRawIntBits(f);
    if ((b & 0x7fffffff) > 0x7f800000) return (short) ((b >>> 16) | 0x40);
    return (short) ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
  }

  /** The float32 value of a bf16 bit pattern (exact). */
  public static float toFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }
}
