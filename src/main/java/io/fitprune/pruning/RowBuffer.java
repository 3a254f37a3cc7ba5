package io.fitprune.pruning;

import io.fitprune.kernels.FloatData;
import io.fitprune.kernels.IntData;
import io.fitprune.kernels.Kernels;
import java.lang.ref.Reference;

/**
 * A caller's buffer of per-token rows that a {@link SequenceState} compacts together with its own
 * bookkeeping when a layer prunes: the residual stream and attention output ({@code width = D}),
 * K/V rows ({@code width = G*d}), anything else indexed by token. The buffer holds at least
 * {@code rows * width} elements, rows first; after a layer keeps {@code m} rows, its first
 * {@code m * width} elements are the survivors in order and the rest is unspecified.
 */
public final class RowBuffer {
  private final Object data;  // float[], int[], FloatData or IntData
  private final long length;
  private final long width;

  private RowBuffer(Object data, long length, long width) {
    if (width <= 0) throw new IllegalArgumentException("row buffer: width must be > 0, got " + width);
    this.data = data;
    this.length = length;
    this.width = width;
  }

  public static RowBuffer of(float[] rows, long width) {
    if (rows == null) throw new IllegalArgumentException("row buffer is null");
    return new RowBuffer(rows, rows.length, width);
  }

  public static RowBuffer of(int[] rows, long width) {
    if (rows == null) throw new IllegalArgumentException("row buffer is null");
    return new RowBuffer(rows, rows.length, width);
  }

  /** Native memory (pointer, direct buffer, tensor); array-backed data must hold exactly rows * width. */
  public static RowBuffer of(FloatData rows, long width) {
    if (rows == null) throw new IllegalArgumentException("row buffer is null");
    return new RowBuffer(rows, rows.length(), width);
  }

  public static RowBuffer of(IntData rows, long width) {
    if (rows == null) throw new IllegalArgumentException("row buffer is null");
    return new RowBuffer(rows, rows.length(), width);
  }

  public long width() {
    return width;
  }

  /** Throws unless this holds {@code rows} rows; before anything is changed. */
  void check(int index, long rows) {
    long need = Math.multiplyExact(rows, width);
    if (length < need)
      throw new IllegalArgumentException("row buffer " + index + ": holds " + length + " elements, expected at least "
          + rows + " rows * width " + width + " = " + need);
    boolean arrayBacked = (data instanceof FloatData f && f.pointer() == null)
        || (data instanceof IntData i && i.pointer() == null);
    if (arrayBacked && length != need)
      throw new IllegalArgumentException("row buffer " + index + ": array-backed kernel data must hold exactly "
          + need + " elements (rows * width), got " + length + "; pass the array itself to RowBuffer.of");
  }

  /** Keeps rows {@code keep[0..count)} (ascending) of the first {@code rows}, in place, with the kernels' gather. */
  void compact(long rows, IntData keep) {
    long n = rows * width;
    if (data instanceof float[] a) {
      float[] head = n == a.length ? a : java.util.Arrays.copyOf(a, (int) n);
      FloatData d = FloatData.of(head);
      Kernels.gatherRows(d, rows, width, keep, d);
      if (head != a) System.arraycopy(head, 0, a, 0, (int) (keep.length() * width));
    } else if (data instanceof int[] a) {
      int[] head = n == a.length ? a : java.util.Arrays.copyOf(a, (int) n);
      IntData d = IntData.of(head);
      Kernels.gatherRows(d, rows, width, keep, d);
      if (head != a) System.arraycopy(head, 0, a, 0, (int) (keep.length() * width));
    } else if (data instanceof FloatData f) {
      FloatData d = f.pointer() == null ? f : FloatData.of(f.pointer(), n); // flat view: any tensor shape
      Kernels.gatherRows(d, rows, width, keep, d);
    } else {
      IntData i = (IntData) data;
      IntData d = i.pointer() == null ? i : IntData.of(i.pointer(), n);
      Kernels.gatherRows(d, rows, width, keep, d);
    }
    Reference.reachabilityFence(data);
  }
}
