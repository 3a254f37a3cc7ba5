package io.fitprune.io;

/** Conversions between float and IEEE binary16 (round to nearest even); bfloat16 has its own in {@code kernels.Bf16}. */
public final class HalfFloats {
  private HalfFloats() {}

  public static short toF16(float f) {
    int x = Float.floatToRawIntBits(f), sign = (x >>> 16) & 0x8000, e = (x >>> 23) & 0xff, m = x & 0x7fffff;
    if (e == 0xff) return (short) (sign | 0x7c00 | (m != 0 ? 0x200 : 0));
    int ee = e - 127 + 15;
    if (ee >= 0x1f) return (short) (sign | 0x7c00); // overflow: infinity
    int shift = 13, half;
    if (ee <= 0) { // subnormal (or zero): the implicit bit joins the mantissa, shifted further
      if (ee < -10) return (short) sign;
      m |= 0x800000;
      shift = 14 - ee;
      half = m >>> shift;
    } else {
      half = (ee << 10) | (m >>> 13);
    }
    int rem = m & ((1 << shift) - 1), mid = 1 << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1) != 0)) half++; // a carry rolls into the exponent correctly
    return (short) (sign | half);
  }

  public static float f16ToFloat(short h) {
    int bits = h & 0xffff, sign = (bits & 0x8000) << 16, exp = (bits >> 10) & 0x1f, mant = bits & 0x3ff;
    if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    if (exp == 0) {
      float v = mant * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }
}
