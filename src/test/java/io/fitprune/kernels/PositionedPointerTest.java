package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.junit.jupiter.api.Test;

/**
 * Pointers with a position reach the memory from that position on every entry point, including
 * the ones bound with untyped ({@code void*}) parameters, which JavaCPP offsets in bytes: the bf16
 * attention once wrote its output 12 floats before a pointer positioned at 16.
 */
class PositionedPointerTest {
  static final int PAD = 16;
  static final float GUARD = -12345.5f;

  static FloatPointer guarded(int n) {
    FloatPointer p = new FloatPointer(n + 2 * PAD);
    for (int i = 0; i < n + 2 * PAD; i++) p.put(i, GUARD);
    return p;
  }

  static float[] inside(FloatPointer p, int n) {
    for (int i = 0; i < PAD; i++) {
      assertEquals(GUARD, p.get(i), "guard before the data at " + i);
      assertEquals(GUARD, p.get(PAD + n + i), "guard after the data at " + i);
    }
    float[] out = new float[n];
    for (int i = 0; i < n; i++) out[i] = p.get(PAD + i);
    return out;
  }

  @Test
  void bf16AttentionScoresAndGatherHonourPositions() {
    Random rnd = new Random(5);
    AttentionShape s = new AttentionShape(37, 4, 2, 16);
    Spans spans = new Spans(3, 20);
    float[] q = new float[(int) s.qLength()], k = new float[(int) s.kvLength()], v = new float[(int) s.kvLength()];
    for (float[] a : new float[][] {q, k, v}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
    Data qb = Data.roundBf16(q), kb = Data.roundBf16(k), vb = Data.roundBf16(v);
    int qn = (int) s.qLength(), ln = (int) s.lseLength();
    float[] wantOut = new float[qn], wantLse = new float[ln];
    Kernels.attention(s, qb, kb, vb, Data.of(wantOut), Data.of(wantLse));

    // Inputs and outputs all behind positioned pointers.
    ShortPointer qp = new ShortPointer(qn + 8).position(8);
    qp.put(qb.toShorts()).position(8);
    FloatPointer out = guarded(qn), lse = guarded(ln);
    Kernels.attention(s, Data.bf16(qp, qn), kb, vb, Data.of(new FloatPointer(out).position(PAD), qn),
        Data.of(new FloatPointer(lse).position(PAD), ln));
    assertArrayEquals(wantOut, inside(out, qn));
    assertArrayEquals(wantLse, inside(lse, ln));

    float[] wantSelf = new float[20], wantCross = new float[20];
    Kernels.scores(s, spans, qb, kb, Data.of(wantLse), Data.of(wantSelf), Data.of(wantCross));
    FloatPointer self = guarded(20), cross = guarded(20), lp = guarded(ln);
    for (int i = 0; i < ln; i++) lp.put(PAD + i, wantLse[i]);
    Kernels.scores(s, spans, Data.bf16(qp, qn), kb, Data.of(new FloatPointer(lp).position(PAD), ln),
        Data.of(new FloatPointer(self).position(PAD), 20), Data.of(new FloatPointer(cross).position(PAD), 20));
    assertArrayEquals(wantSelf, inside(self, 20));
    assertArrayEquals(wantCross, inside(cross, 20));

    int[] index = {4, 0, 9};
    int w = 64, m = 3 * w; // rows of q: H*d values
    ShortPointer dst = new ShortPointer(m + 2 * PAD);
    for (int i = 0; i < m + 2 * PAD; i++) dst.put(i, (short) 7);
    Kernels.gatherRows(Data.bf16(qp, qn), 37, w, Data.of(index), Data.bf16(new ShortPointer(dst).position(PAD), m));
    short[] src = qb.toShorts();
    for (int r = 0; r < 3; r++)
      for (int c = 0; c < w; c++) assertEquals(src[index[r] * w + c], dst.get(PAD + r * w + c));
    for (int i = 0; i < PAD; i++) {
      assertEquals(7, dst.get(i));
      assertEquals(7, dst.get(PAD + m + i));
    }
  }
}
