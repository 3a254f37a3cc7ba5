package io.fitprune.pruning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.Spans;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A row buffer is the same whatever holds it: an array, the array's handle, native memory; room past the rows is left alone. */
class RowBufferTest {
  static final int N = 11, W = 3;
  static final Spans SPANS = new Spans(2, 6);
  static final int[] KEEP = {0, 1, 3, 4, 7, 8, 9, 10}; // drops visual rows 2, 5, 6

  /** The rows KEEP of the first N rows, computed here, not by the kernels. */
  static float[] survivors(float[] init) {
    float[] want = new float[KEEP.length * W];
    for (int i = 0; i < KEEP.length; i++) System.arraycopy(init, KEEP[i] * W, want, i * W, W);
    return want;
  }

  /** The survivors first; past the first N rows, the room unchanged (rows in between are unspecified). */
  static void assertCompacted(float[] init, float[] got, String what) {
    assertArrayEquals(survivors(init), Arrays.copyOf(got, KEEP.length * W), what);
    assertArrayEquals(Arrays.copyOfRange(init, N * W, init.length), Arrays.copyOfRange(got, N * W, got.length), what + ": room");
  }

  @Test
  void anArrayAndItsHandleCompactAlike() {
    Random rnd = new Random(29);
    for (int room : new int[] {0, 1, 7}) {
      float[] init = new float[N * W + room];
      for (int i = 0; i < init.length; i++) init[i] = (float) rnd.nextGaussian();
      float[] plain = init.clone(), viaHandle = init.clone();
      int[] ids = new int[N + room];
      for (int i = 0; i < ids.length; i++) ids[i] = 100 + i;
      int[] idsViaHandle = ids.clone();
      try (Data nat = Data.allocate(ElementType.FP32, init.length)) {
        nat.copyFrom(init);
        SequenceState s = SequenceState.start(1, SPANS, N);
        s.apply(0, KEEP, RowBuffer.of(plain, W), RowBuffer.of(Data.of(viaHandle), W), RowBuffer.of(nat, W),
            RowBuffer.of(ids, 1), RowBuffer.of(Data.of(idsViaHandle), 1));
        assertCompacted(init, plain, "float[] with room " + room);
        assertCompacted(init, viaHandle, "Data.of(float[]) with room " + room);
        assertCompacted(init, nat.toFloats(), "native memory with room " + room);
        int[] wantIds = new int[KEEP.length];
        for (int i = 0; i < KEEP.length; i++) wantIds[i] = 100 + KEEP[i];
        assertArrayEquals(wantIds, Arrays.copyOf(ids, KEEP.length));
        assertArrayEquals(wantIds, Arrays.copyOf(idsViaHandle, KEEP.length));
      }
    }
  }

  @Test
  void tooSmallIsRefusedBeforeAnythingChanges() {
    float[] small = new float[N * W - 1];
    SequenceState s = SequenceState.start(1, SPANS, N);
    var e = assertThrows(IllegalArgumentException.class, () -> s.apply(0, KEEP, RowBuffer.of(Data.of(small), W)));
    assertTrue(e.getMessage().contains("row buffer 0: holds " + (N * W - 1) + " elements"), e.getMessage());
    assertArrayEquals(new float[N * W - 1], small);
  }
}
