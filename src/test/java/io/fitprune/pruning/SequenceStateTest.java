package io.fitprune.pruning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.Spans;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SequenceStateTest {
  static final int P = 3, V = 11, T = 4, N = P + V + T, L = 4;

  static float[] random(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
    return a;
  }

  /** Rows {@code keep} of {@code src}, plain Java. */
  static float[] rows(float[] src, int width, int[] keep) {
    float[] out = new float[keep.length * width];
    for (int i = 0; i < keep.length; i++) System.arraycopy(src, keep[i] * width, out, i * width, width);
    return out;
  }

  @Test
  void keepListsMoveBookkeepingAndCallerRowsTogether() {
    Random r = new Random(41);
    SequenceState s = SequenceState.start(L, new Spans(P, V), N);
    int D = 7, kv = 5;
    float[] hidden = random(r, N * D);                 // exactly [N, D]
    float[] big = random(r, (N + 9) * kv);             // more room than rows
    float[] want = hidden.clone(), wantBig = Arrays.copyOf(big, N * kv);
    try (Data nat = Data.allocate(ElementType.FP32, N * D)) {
      float[] natInit = random(r, N * D);
      nat.copyFrom(natInit);
      float[] wantNat = natInit.clone();
      int[] ids = new int[N];
      for (int i = 0; i < N; i++) ids[i] = i;

      s.apply(0, null, RowBuffer.of(hidden, D)); // layer 0 keeps everything
      int[] k1 = s.keepDropping(new int[] {4, 0, 9}, 3); // visual positions 0, 4, 9 go
      s.apply(1, k1, RowBuffer.of(hidden, D), RowBuffer.of(big, kv), RowBuffer.of(nat, D));
      want = rows(want, D, k1);
      wantBig = rows(wantBig, kv, k1);
      wantNat = rows(wantNat, D, k1);
      ids = Arrays.stream(k1).map(i -> i).toArray();
      int[] k2 = s.keepDropping(new int[] {7}, 1);
      s.apply(2, k2, RowBuffer.of(hidden, D), RowBuffer.of(big, kv), RowBuffer.of(nat, D));
      want = rows(want, D, k2);
      wantBig = rows(wantBig, kv, k2);
      wantNat = rows(wantNat, D, k2);
      int[] id2 = new int[k2.length];
      for (int i = 0; i < k2.length; i++) id2[i] = ids[k2[i]];
      s.apply(3, null);

      assertArrayEquals(want, Arrays.copyOf(hidden, want.length));
      assertArrayEquals(wantBig, Arrays.copyOf(big, wantBig.length));
      float[] gotNat = Arrays.copyOf(nat.toFloats(), wantNat.length);
      assertArrayEquals(wantNat, gotNat);
      assertArrayEquals(id2, s.originalIndices());
      assertArrayEquals(id2, s.positions(), "1-D position ids are the original indices");
      assertArrayEquals(new int[] {P + 1, P + 2, P + 3, P + 5, P + 6, P + 7, P + 8}, s.visualIds());
    }
    assertEquals(N - 4, s.rows());
    assertEquals(V - 4, s.visual());
    assertEquals(T, s.text());
    assertArrayEquals(new int[] {V, V - 3, V - 4, V - 4}, s.visualAfter());
    assertEquals(new Spans(P, V - 3), s.spansAfter(1));
    // the pruning layer's K/V holds all it saw; later layers only survivors
    assertArrayEquals(new long[] {N, N, N - 3, N - 4}, s.kvLengths());
    assertEquals(N, s.nextPosition());
    assertArrayEquals(new int[] {N}, s.appendToken());
    assertArrayEquals(new int[] {N + 1}, s.appendToken());
    assertArrayEquals(new long[] {N + 2, N + 2, N - 1, N - 2}, s.kvLengths());
  }

  @Test
  void threeComponentPositionIdsTravelWithTheirRows() {
    // Qwen2-VL style: text rows (p, p, p); a 3x4 image grid at (t0, row, col).
    int prefix = 2, gh = 3, gw = 4, text = 3, n = prefix + gh * gw + text;
    int[] pos = new int[n * 3];
    int row = 0;
    for (int i = 0; i < prefix; i++, row++) Arrays.fill(pos, row * 3, row * 3 + 3, i);
    for (int h = 0; h < gh; h++)
      for (int w = 0; w < gw; w++, row++) {
        pos[row * 3] = prefix;
        pos[row * 3 + 1] = prefix + h;
        pos[row * 3 + 2] = prefix + w;
      }
    int next = prefix + Math.max(gh, gw);
    for (int i = 0; i < text; i++, row++) Arrays.fill(pos, row * 3, row * 3 + 3, next + i);
    SequenceState s = SequenceState.start(2, new Spans(prefix, gh * gw), 3, pos);
    assertEquals(3, s.positionComponents());
    assertEquals(next + text, s.nextPosition(), "one past the largest id");
    int[] keep = s.keepDropping(new int[] {1, 6}, 2); // image cells (0,1) and (1,2)
    s.apply(0, keep);
    int[] got = s.positions();
    assertEquals((n - 2) * 3, got.length);
    for (int i = 0; i < keep.length; i++)
      assertArrayEquals(Arrays.copyOfRange(pos, keep[i] * 3, keep[i] * 3 + 3), Arrays.copyOfRange(got, i * 3, i * 3 + 3));
    s.apply(1, null);
    assertArrayEquals(new int[] {next + text, next + text, next + text}, s.appendToken(), "all 3 M-RoPE components");
  }

  @Test
  void badInputIsRefusedBeforeAnythingChanges() {
    SequenceState s = SequenceState.start(2, new Spans(P, V), N);
    float[] small = new float[N * 2 - 1];
    int[] ok = s.keepDropping(new int[] {0}, 1);
    String m = assertThrows(IllegalArgumentException.class, () -> s.apply(0, ok, RowBuffer.of(small, 2))).getMessage();
    assertTrue(m.contains("row buffer 0") && m.contains(N + " rows"), m);
    int[] descending = ok.clone();
    descending[1] = descending[0];
    assertTrue(assertThrows(IllegalArgumentException.class, () -> s.apply(0, descending)).getMessage()
        .contains("strictly ascending"));
    int[] noText = Arrays.copyOf(ok, ok.length - 1);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> s.apply(0, noText)).getMessage()
        .contains("only visual"));
    assertTrue(assertThrows(IllegalStateException.class, () -> s.apply(1, null)).getMessage().contains("in order"));
    assertTrue(assertThrows(IllegalStateException.class, s::appendToken).getMessage().contains("prefill"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> s.keepDropping(new int[] {3, 3}, 2)).getMessage()
        .contains("distinct"));
    assertEquals(0, s.layersDone(), "nothing changed");
    assertEquals(N, s.rows());
    assertArrayEquals(new long[2], s.kvLengths());
    assertThrows(IllegalArgumentException.class, () -> SequenceState.start(2, new Spans(3, 3), 5));
    assertThrows(IllegalArgumentException.class, () -> SequenceState.start(2, new Spans(0, 1), 2, new int[4]));
    assertThrows(IllegalArgumentException.class, () -> SequenceState.start(2, new Spans(0, 1), 3, new int[] {0, 0, -1}));
    s.apply(0, ok);
    s.apply(1, null);
    assertTrue(assertThrows(IllegalStateException.class, () -> s.apply(2, null)).getMessage().contains("already"));
  }

  @Test
  void intRowsInJavaArraysAndNativeMemory() {
    Random r = new Random(8);
    SequenceState s = SequenceState.start(1, new Spans(P, V), N);
    int[] ids = new int[N * 3 + 5], want = new int[N * 3];
    for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt();
    System.arraycopy(ids, 0, want, 0, want.length);
    int[] keep = s.keepDropping(new int[] {10, 2, 5, 6}, 4);
    try (io.fitprune.kernels.Data nat = io.fitprune.kernels.Data.allocate(ElementType.INT32, N)) {
      int[] natInit = new int[N];
      for (int i = 0; i < N; i++) natInit[i] = r.nextInt();
      nat.copyFrom(natInit);
      s.apply(0, keep, RowBuffer.of(ids, 3), RowBuffer.of(nat, 1));
      int[] got = Arrays.copyOf(nat.toInts(), keep.length);
      for (int i = 0; i < keep.length; i++) {
        assertEquals(natInit[keep[i]], got[i]);
        for (int c = 0; c < 3; c++) assertEquals(want[keep[i] * 3 + c], ids[i * 3 + c]);
      }
    }
  }

  @Test
  void oneTokenSequenceAndEmptyVisualSpan() {
    SequenceState s = SequenceState.start(1, new Spans(0, 0), 1);
    assertArrayEquals(new int[0], s.visualIds());
    s.apply(0, new int[] {0});
    assertArrayEquals(new long[] {1}, s.kvLengths());
    assertArrayEquals(new int[] {1}, s.appendToken());
  }
}
