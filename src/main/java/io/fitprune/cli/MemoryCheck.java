package io.fitprune.cli;

import java.lang.management.ManagementFactory;
import java.util.Locale;

/**
 * Refuses work whose buffers cannot fit, before allocating them: a one-line error instead of an
 * OutOfMemoryError, a native allocation failure or a machine pushed into swap. Native buffers are
 * compared with the machine's physical memory, Java arrays with this JVM's heap limit.
 */
final class MemoryCheck {
  private MemoryCheck() {}

  /** {@code what} names the input that asks for the memory, e.g. "--qkv q [n,H,d] = [...]". */
  static void require(String what, double nativeBytes, double heapBytes) {
    long physical = physicalBytes();
    if (physical > 0 && nativeBytes + heapBytes > physical)
      throw new IllegalArgumentException(what + " needs " + gib(nativeBytes + heapBytes) + " of memory, more than the "
          + gib(physical) + " this machine has");
    long heap = Runtime.getRuntime().maxMemory();
    if (heapBytes > heap)
      throw new IllegalArgumentException(what + " needs " + gib(heapBytes) + " of Java heap, more than the " + gib(heap)
          + " this JVM may use (raise -Xmx)");
  }

  /** A Java array length for {@code count} elements, or an error naming {@code what}. */
  static int arrayLength(String what, long count) {
    if (count < 0 || count > Integer.MAX_VALUE - 8)
      throw new IllegalArgumentException(what + ": " + count + " values do not fit in one Java array (at most 2^31 - 9)");
    return (int) count;
  }

  private static long physicalBytes() {
    try {
      return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
    } catch (ClassCastException | UnsupportedOperationException e) {
      return -1;
    }
  }

  private static String gib(double bytes) {
    return String.format(Locale.ROOT, "%.1f GiB", bytes / (1L << 30));
  }
}
