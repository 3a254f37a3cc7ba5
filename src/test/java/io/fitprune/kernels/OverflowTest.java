package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Finite inputs whose attention overflows float32: the output, LSE or score that would be
 * infinite or NaN is an error naming the tensor and its position, never a result.
 */
class OverflowTest {
  static float[] random(Random rnd, long n, double scale) {
    float[] a = new float[(int) n];
    for (int i = 0; i < a.length; i++) a[i] = (float) (scale * rnd.nextGaussian());
    return a;
  }

  @Test
  void anOverflowingLogitNamesTheLseRowAndHead() {
    for (ElementType type : new ElementType[] {ElementType.FP32, ElementType.BF16}) {
      for (AttentionShape s : new AttentionShape[] {new AttentionShape(1, 2, 1, 8), new AttentionShape(45, 6, 2, 16)}) {
        Random rnd = new Random(17);
        float[] q = random(rnd, s.qLength(), 1), k = random(rnd, s.kvLength(), 1), v = random(rnd, s.kvLength(), 1);
        int row = (int) s.tokens() - 1, head = s.heads() - 1, d = s.headDim(), group = head / (s.heads() / s.kvHeads());
        for (int c = 0; c < d; c++) { // q.k of 1e20 * 1e20 per element: infinite, although both are finite
          q[(row * s.heads() + head) * d + c] = 1e20f;
          k[group * d + c] = 1e20f; // key 0, which every row sees
        }
        FitPruneException e = assertThrows(FitPruneException.class, () -> Kernels.attention(Backend.CPU, type, s, q, k, v));
        assertEquals(FitPruneNative.FP_ERR_VALUE, e.status());
        assertTrue(e.getMessage().startsWith("lse [H,n] is not finite at [" + head + ", " + row + "] (head " + head + ", row "
            + row + ")") && e.getMessage().contains("q, k and v are finite"), type + " " + s + ": " + e.getMessage());
      }
    }
  }

  @Test
  void anOverflowingValueSumNamesTheOutputRowAndHead() {
    AttentionShape s = new AttentionShape(23, 4, 2, 8);
    Random rnd = new Random(5);
    float[] q = random(rnd, s.qLength(), 1e-3), k = random(rnd, s.kvLength(), 1e-3), v = random(rnd, s.kvLength(), 1);
    int group = 1, c = 3;
    for (int r = 0; r < s.tokens(); r++) v[(r * s.kvHeads() + group) * s.headDim() + c] = 3e38f; // finite, near the top
    // Row 0 sees one key (out = v), row 1 two: their weighted sum passes float32's largest value.
    float[] ok = Kernels.attention(s, q, k, random(rnd, s.kvLength(), 1)).out();
    assertTrue(Float.isFinite(ok[0]));
    FitPruneException e = assertThrows(FitPruneException.class, () -> Kernels.attention(s, q, k, v));
    assertEquals(FitPruneNative.FP_ERR_VALUE, e.status());
    int head = group * (s.heads() / s.kvHeads());
    assertTrue(e.getMessage().startsWith("out [n,H,d] is not finite at [1, " + head + ", " + c + "] (row 1, head " + head + ")"),
        e.getMessage());
  }

  @Test
  void anOverflowingScoreNamesTheSequenceAndVisualToken() {
    Random rnd = new Random(11);
    Batch batch = Batch.ofLengths(30, 41);
    BatchShape shape = new BatchShape(batch, 3, 1, 8);
    AttentionShape all = shape.packed();
    Spans[] spans = {new Spans(4, 10), new Spans(5, 20)};
    float[] q = random(rnd, all.qLength(), 1), k = random(rnd, all.kvLength(), 1);
    float[] lse = Kernels.attention(shape, q, k, random(rnd, all.kvLength(), 1)).lse();
    // An LSE 200 below the truth: exp(logit - lse) passes float32's range (finite LSE, finite inputs).
    long n = all.tokens(), textRow = 30 + 5 + 20 + 3; // a text row of sequence 1
    lse[(int) (2 * n + textRow)] -= 200;
    FitPruneException e = assertThrows(FitPruneException.class, () -> Kernels.scores(shape, spans, q, k, lse));
    assertTrue(e.getMessage().startsWith("cross [V] is not finite at [10] (sequence 1, visual token 0)"), e.getMessage());
    lse[(int) (2 * n + textRow)] += 200;
    lse[(int) (0 * n + 4 + 6)] -= 200; // visual row 6 of sequence 0: self of its visual tokens 0..6
    e = assertThrows(FitPruneException.class, () -> Kernels.scores(shape, spans, q, k, lse));
    assertTrue(e.getMessage().startsWith("self [V] is not finite at [0] (sequence 0, visual token 0)"), e.getMessage());
  }

  @Test
  void hugeButFiniteLogitsAreRefusedByTheScores() {
    // q of 1e30: float32 logits of about 1e30 still give a finite LSE, but a recomputed probability
    // exp(logit - lse) is rounding noise there (an ulp of the logit is ~1e23), so scores refuse.
    AttentionShape s = new AttentionShape(37, 4, 2, 16);
    Random rnd = new Random(23);
    float[] q = random(rnd, s.qLength(), 1e30), k = random(rnd, s.kvLength(), 1), v = random(rnd, s.kvLength(), 1);
    Kernels.AttentionOutput a = Kernels.attention(s, q, k, v);
    FitPruneException e = assertThrows(FitPruneException.class, () -> Kernels.scores(s, new Spans(5, 20), q, k, a.lse()));
    assertEquals(FitPruneNative.FP_ERR_VALUE, e.status());
    assertTrue(e.getMessage().startsWith("lse [H,n] is ") && e.getMessage().contains("(head 0, row 0), beyond float32's"),
        e.getMessage());
    try (Data fq = Data.of(q); Data fk = Data.of(k); Data fv = Data.of(v);
        Data out = Data.allocate(ElementType.FP32, s.qLength()); Data lse = Data.allocate(ElementType.FP32, s.lseLength());
        Data self = Data.allocate(ElementType.FP32, 20); Data cross = Data.allocate(ElementType.FP32, 20)) {
      e = assertThrows(FitPruneException.class,
          () -> Kernels.attentionScores(s, new Spans(5, 20), fq, fk, fv, out, lse, self, cross));
      assertTrue(e.getMessage().contains("beyond float32's resolution"), e.getMessage());
    }
    // Large but resolvable logits (about 1e3): ordinary probabilities.
    for (int i = 0; i < q.length; i++) q[i] *= 1e-27f;
    Kernels.Scores ok = Kernels.scores(s, new Spans(5, 20), q, k, Kernels.attention(s, q, k, v).lse());
    for (float x : ok.self()) assertTrue(x >= 0 && x <= 1.0001f, "self " + x);
  }
}
