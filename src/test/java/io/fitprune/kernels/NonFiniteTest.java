package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** NaN and infinities in the inputs are errors naming the tensor and the first position, never outputs. */
class NonFiniteTest {
  static final float[] BAD = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};

  static float[] random(Random rnd, long n) {
    float[] a = new float[(int) n];
    for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
    return a;
  }

  @Test
  void attentionNamesTheTensorAndPosition() {
    for (ElementType type : new ElementType[] {ElementType.FP32, ElementType.BF16}) attentionRefuses(type);
  }

  void attentionRefuses(ElementType type) {
    Random rnd = new Random(9);
    for (AttentionShape s : new AttentionShape[] {new AttentionShape(1, 2, 1, 8), new AttentionShape(70, 4, 2, 16),
        new AttentionShape(131, 3, 3, 5)}) {
      for (int trial = 0; trial < 12; trial++) {
        float[][] qkv = {random(rnd, s.qLength()), random(rnd, s.kvLength()), random(rnd, s.kvLength())};
        int which = trial % 3;
        int heads = which == 0 ? s.heads() : s.kvHeads();
        // First row, last row, or anywhere: each must be found.
        long row = trial < 3 ? 0 : trial < 6 ? s.tokens() - 1 : rnd.nextInt((int) s.tokens());
        long head = rnd.nextInt(heads), c = rnd.nextInt(s.headDim());
        float bad = BAD[(trial / 3) % 3];
        qkv[which][(int) ((row * heads + head) * s.headDim() + c)] = bad;
        FitPruneException e = assertThrows(FitPruneException.class,
            () -> Kernels.attention(Backend.CPU, type, s, qkv[0], qkv[1], qkv[2]),
            type + ": a " + bad + " in " + "qkv".charAt(which) + " at [" + row + ", " + head + ", " + c + "] must be refused");
        String name = String.valueOf("qkv".charAt(which));
        assertEquals(FitPruneNative.FP_ERR_VALUE, e.status());
        assertTrue(e.getMessage().startsWith(name + " [") && e.getMessage().contains("at [" + row + ", " + head + ", " + c + "]"),
            e.getMessage());
      }
    }
  }

  @Test
  void scoresRefuseANonFiniteLse() {
    Random rnd = new Random(3);
    AttentionShape s = new AttentionShape(40, 2, 1, 8);
    float[] q = random(rnd, s.qLength()), k = random(rnd, s.kvLength());
    float[] lse = Kernels.attention(s, q, k, random(rnd, s.kvLength())).lse();
    lse[1 * 40 + 17] = Float.NaN;
    FitPruneException e = assertThrows(FitPruneException.class, () -> Kernels.scores(s, new Spans(3, 20), q, k, lse));
    assertTrue(e.getMessage().contains("lse [H,n] is not finite at [1, 17]"), e.getMessage());
  }

  @Test
  void requireFiniteNamesThePosition() {
    float[] x = new float[6 * 5];
    Kernels.requireFinite("embeds", "[n,D]", x, 6, 5);
    x[3 * 5 + 2] = Float.NEGATIVE_INFINITY;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.requireFinite("embeds", "[n,D]", x, 6, 5));
    assertEquals("embeds [n,D] is not finite at [3, 2] (-Infinity)", e.getMessage());
    float[] big = new float[1 << 20]; // more than one chunk: the parallel scan finds the first one
    big[700_001] = Float.NaN;
    big[900_000] = Float.NaN;
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.requireFinite("x", "[n]", big, big.length));
    assertEquals("x [n] is not finite at [700001] (NaN)", e.getMessage());
  }
}
