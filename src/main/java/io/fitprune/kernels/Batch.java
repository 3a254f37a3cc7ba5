package io.fitprune.kernels;

import java.util.Arrays;

/**
 * The sequences of a packed batch, as FlashAttention's varlen API describes them: sequence
 * {@code b} holds rows {@code [start(b), start(b+1))} of every packed tensor, and
 * {@link #offsets()} is {@code cu_seqlens} ({@code [B+1]}, from 0, never decreasing, ending at
 * the row count {@code N < 2^31}).
 */
public final class Batch {
  private final long[] cu;

  private Batch(long[] cu) {
    this.cu = cu;
  }

  /** From {@code cu_seqlens}; a sequence may be empty. */
  public static Batch ofOffsets(long... cuSeqlens) {
    if (cuSeqlens == null) throw new NullPointerException("cuSeqlens is null");
    if (cuSeqlens.length < 2)
      throw new IllegalArgumentException("cuSeqlens must hold B+1 >= 2 offsets (at least one sequence), got "
          + cuSeqlens.length);
    if (cuSeqlens[0] != 0) throw new IllegalArgumentException("cuSeqlens[0] must be 0, got " + cuSeqlens[0]);
    for (int b = 0; b + 1 < cuSeqlens.length; b++) {
      if (cuSeqlens[b + 1] < cuSeqlens[b])
        throw new IllegalArgumentException("cuSeqlens must not decrease: cuSeqlens[" + (b + 1) + "] = "
            + cuSeqlens[b + 1] + " < cuSeqlens[" + b + "] = " + cuSeqlens[b]);
      if (cuSeqlens[b + 1] > Integer.MAX_VALUE)
        throw new IllegalArgumentException("cuSeqlens[" + (b + 1) + "] = " + cuSeqlens[b + 1]
            + ": the packed batch must hold fewer than 2^31 rows");
    }
    return new Batch(cuSeqlens.clone());
  }

  /** From the sequence lengths. */
  public static Batch ofLengths(long... lengths) {
    if (lengths == null) throw new NullPointerException("lengths is null");
    long[] cu = new long[lengths.length + 1];
    for (int b = 0; b < lengths.length; b++) {
      if (lengths[b] < 0) throw new IllegalArgumentException("lengths[" + b + "] must be >= 0, got " + lengths[b]);
      cu[b + 1] = cu[b] + Math.min(lengths[b], Integer.MAX_VALUE + 1L); // the bound below catches the overflow
      if (cu[b + 1] > Integer.MAX_VALUE)
        throw new IllegalArgumentException("lengths: the packed batch must hold fewer than 2^31 rows (sum through sequence "
            + b + " exceeds it)");
    }
    return ofOffsets(cu);
  }

  /** A batch of one sequence of n rows. */
  public static Batch single(long n) {
    return ofLengths(n);
  }

  /** Number of sequences B. */
  public int size() {
    return cu.length - 1;
  }

  /** Rows of the packed batch N. */
  public long tokens() {
    return cu[cu.length - 1];
  }

  public long start(int b) {
    return cu[java.util.Objects.checkIndex(b, size())];
  }

  public long length(int b) {
    return cu[java.util.Objects.checkIndex(b, size()) + 1] - cu[b];
  }

  /** cu_seqlens, a copy. */
  public long[] offsets() {
    return cu.clone();
  }

  long[] raw() {
    return cu;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Batch other && Arrays.equals(cu, other.cu);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(cu);
  }

  @Override
  public String toString() {
    return "Batch" + Arrays.toString(cu);
  }
}
