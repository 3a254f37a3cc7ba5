package io.fitprune.kernels;

import java.util.Arrays;
import java.util.Random;

/**
 * Resizes the native thread pool between attention calls, many times, in a child JVM of
 * {@link PoolResizeTest}: a worker started after earlier jobs once took the last finished job for
 * a new one, which hung a later call (or let it return while a worker still ran its items).
 * Every call must also give the first call's bits.
 */
public final class PoolResizeLoop {
  public static void main(String[] args) {
    int rounds = Integer.parseInt(args[0]);
    AttentionShape shape = new AttentionShape(37, 4, 2, 16);
    Random rnd = new Random(3);
    float[] q = Reference.gaussian(rnd, shape.qLength()), k = Reference.gaussian(rnd, shape.kvLength()),
        v = Reference.gaussian(rnd, shape.kvLength());
    float[] first = Kernels.attention(shape, q, k, v).out();
    for (int i = 0; i < rounds; i++) {
      Kernels.useThreads(2 + i % 6);
      if (!Arrays.equals(first, Kernels.attention(shape, q, k, v).out())) {
        System.out.println("round " + i + ": other bits with " + (2 + i % 6) + " threads");
        System.exit(3);
      }
    }
    System.out.println("pool resized " + rounds + " times");
    System.exit(0);
  }
}
