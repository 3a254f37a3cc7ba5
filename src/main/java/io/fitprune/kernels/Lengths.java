package io.fitprune.kernels;

/** Length arithmetic that cannot overflow silently: every failure names the length it computed. */
final class Lengths {
  private Lengths() {}

  /** The product of non-negative factors, or an error naming {@code what} when it passes 2^63 - 1. */
  static long product(String what, long... factors) {
    long p = 1;
    for (long f : factors) {
      if (f < 0) throw new IllegalArgumentException(what + ": negative size " + f);
      if (f != 0 && p > Long.MAX_VALUE / f)
        throw new IllegalArgumentException(what + ": " + join(factors) + " overflows a 64-bit length");
      p *= f;
    }
    return p;
  }

  /** A length as a Java array size, or an error naming {@code what}. */
  static int arrayLength(String what, long length) {
    if (length < 0 || length > Integer.MAX_VALUE - 8)
      throw new IllegalArgumentException(what + ": " + length + " elements do not fit in a Java array; use FloatData/IntData");
    return (int) length;
  }

  private static String join(long[] factors) {
    StringBuilder b = new StringBuilder();
    for (long f : factors) b.append(b.length() == 0 ? "" : "*").append(f);
    return b.toString();
  }
}
