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

  /**
   * A length as the size of a Java array of {@code elementBytes}-byte elements, or an error naming
   * {@code what}: past the largest array, or past the heap this JVM may ever use (an error the
   * caller can act on instead of an OutOfMemoryError from the allocation).
   */
  static int arrayLength(String what, long length, int elementBytes) {
    if (length < 0 || length > Integer.MAX_VALUE - 8)
      throw new IllegalArgumentException(what + ": " + length + " elements do not fit in a Java array; use native memory (Data.allocate)");
    long heap = Runtime.getRuntime().maxMemory();
    if ((double) length * elementBytes > heap)
      throw new IllegalArgumentException(what + ": " + length + " elements need " + mib(length * elementBytes)
          + " of Java heap, more than the " + mib(heap) + " this JVM may use; raise -Xmx or use native memory (Data.allocate)");
    return (int) length;
  }

  private static String mib(long bytes) {
    return (bytes >> 20) + " MiB";
  }

  private static String join(long[] factors) {
    StringBuilder b = new StringBuilder();
    for (long f : factors) b.append(b.length() == 0 ? "" : "*").append(f);
    return b.toString();
  }
}
