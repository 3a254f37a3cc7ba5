package io.fitprune.pruning;

import io.fitprune.kernels.Data;
import io.fitprune.kernels.DeviceBuffer;
import io.fitprune.kernels.Kernels;

/**
 * A caller's buffer of per-token rows that a {@link SequenceState} compacts together with its own
 * bookkeeping when a layer prunes: the residual stream and attention output ({@code width = D}),
 * K/V rows ({@code width = G*d}), anything else indexed by token. The buffer holds at least
 * {@code rows * width} elements, rows first; after a layer keeps {@code m} rows, its first
 * {@code m * width} elements are the survivors in order and the rest is unchanged. Any
 * {@link Data} handle is accepted, host or device; a Java array is the same as its handle.
 */
public final class RowBuffer {
  private final Data data;
  private final long width;

  private RowBuffer(Data data, long width) {
    if (width <= 0) throw new IllegalArgumentException("row buffer: width must be > 0, got " + width);
    this.data = data;
    this.width = width;
  }

  public static RowBuffer of(float[] rows, long width) {
    if (rows == null) throw new IllegalArgumentException("row buffer is null");
    return new RowBuffer(Data.of(rows), width);
  }

  public static RowBuffer of(int[] rows, long width) {
    if (rows == null) throw new IllegalArgumentException("row buffer is null");
    return new RowBuffer(Data.of(rows), width);
  }

  /** Any handle: a Java array's, a pointer's, a buffer's, a tensor's (any shape: its elements are taken flat), device memory. */
  public static RowBuffer of(Data rows, long width) {
    if (rows == null) throw new IllegalArgumentException("row buffer is null");
    return new RowBuffer(rows, width);
  }

  public long width() {
    return width;
  }

  /** Throws unless this holds {@code rows} rows; before anything is changed. */
  void check(int index, long rows) {
    long need = Math.multiplyExact(rows, width);
    if (data.length() < need)
      throw new IllegalArgumentException("row buffer " + index + ": holds " + data.length() + " elements, expected at least "
          + rows + " rows * width " + width + " = " + need);
  }

  /** Keeps rows {@code keep[0..count)} (ascending, int32 in host memory) of the first {@code rows}, in place. */
  void compact(long rows, Data keep) {
    Data head = data.view(rows * width); // a flat view: any tensor shape, any room past the rows
    if (!head.onDevice()) {
      Kernels.gatherRows(head, rows, width, keep, head);
      return;
    }
    try (DeviceBuffer index = DeviceBuffer.of(keep.toInts())) {
      Kernels.gatherRows(head, rows, width, index, head);
    }
  }
}
