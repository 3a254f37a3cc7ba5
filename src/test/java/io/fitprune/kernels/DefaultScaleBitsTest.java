package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The default scale is the kernels' old fixed one, bit for bit: a shape built without a scale and
 * one given {@code 1f / (float) Math.sqrt(d)} explicitly give identical results in every
 * attention-like call (attention, scores, fused, packed, cached prefix, decode; fp32 and bf16;
 * every CPU path), and so do the fixed-scale fp32 entry points of the C API. A scale one float
 * away (the other rounding of d^-0.5, as torch passes it for d = 72) is used as given: close to
 * the default's results and equal to float64 with that scale.
 */
class DefaultScaleBitsTest {
  @AfterEach
  void restoreIsa() {
    Kernels.useIsa(null);
  }

  /** Every result of one set of calls on shape s (and its packed twin), concatenated. */
  static float[] results(AttentionShape s, BatchShape b, Spans spans, Spans[] bSpans, Data q, Data k, Data v) {
    float[] out = new float[(int) s.qLength()], lse = new float[(int) s.lseLength()], self = new float[(int) spans.visual()],
        cross = new float[self.length], fOut = new float[out.length], fLse = new float[lse.length],
        fSelf = new float[self.length], fCross = new float[self.length];
    Kernels.attention(s, q, k, v, Data.of(out), Data.of(lse));
    Kernels.scores(s, spans, q, k, Data.of(lse), Data.of(self), Data.of(cross));
    Kernels.attentionScores(s, spans, q, k, v, Data.of(fOut), Data.of(fLse), Data.of(fSelf), Data.of(fCross));
    long bv = 0;
    for (Spans x : bSpans) bv += x.visual();
    float[] pOut = new float[out.length], pLse = new float[lse.length], pSelf = new float[(int) bv],
        pCross = new float[(int) bv], cOut = new float[out.length], cLse = new float[lse.length];
    Kernels.attention(b, q, k, v, Data.of(pOut), Data.of(pLse));
    Kernels.scores(b, bSpans, q, k, Data.of(pLse), Data.of(pSelf), Data.of(pCross));
    Kernels.attention(b, b.batch(), q, k, v, Data.of(cOut), Data.of(cLse)); // cached-prefix entry, no prefix
    return concat(out, lse, self, cross, fOut, fLse, fSelf, fCross, pOut, pLse, pSelf, pCross, cOut, cLse);
  }

  static float[] concat(float[]... parts) {
    int n = 0;
    for (float[] p : parts) n += p.length;
    float[] all = new float[n];
    int o = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, all, o, p.length);
      o += p.length;
    }
    return all;
  }

  @Test
  void anExplicitDefaultScaleGivesTheDefaultsBits() {
    int n = 97, H = 8, G = 2;
    long[] len = {40, 0, 1, 56};
    Spans spans = new Spans(5, 60);
    Spans[] bSpans = {new Spans(2, 30), new Spans(0, 0), new Spans(0, 1), new Spans(6, 40)};
    for (int d : new int[] {37, 64, 72, 128}) {
      AttentionShape def = new AttentionShape(n, H, G, d);
      AttentionShape explicit = def.withSoftmaxScale(1f / (float) Math.sqrt(d));
      assertEquals(def, explicit, "the default is 1f / (float) Math.sqrt(d)");
      BatchShape bDef = new BatchShape(Batch.ofLengths(len), H, G, d);
      BatchShape bExplicit = bDef.withSoftmaxScale(1f / (float) Math.sqrt(d));
      Random rnd = new Random(d);
      float[] q = Reference.gaussian(rnd, def.qLength()), k = Reference.gaussian(rnd, def.kvLength()),
          v = Reference.gaussian(rnd, def.kvLength());
      for (Isa isa : Kernels.supportedIsas()) {
        Kernels.useIsa(isa);
        for (boolean bf16 : new boolean[] {false, true}) {
          Data qd = bf16 ? Data.roundBf16(q) : Data.of(q), kd = bf16 ? Data.roundBf16(k) : Data.of(k),
              vd = bf16 ? Data.roundBf16(v) : Data.of(v);
          assertArrayEquals(results(def, bDef, spans, bSpans, qd, kd, vd),
              results(explicit, bExplicit, spans, bSpans, qd, kd, vd), isa + " d=" + d + (bf16 ? " bf16" : " fp32"));
        }
      }
    }
  }

  @Test
  void decodeWithAnExplicitDefaultScaleGivesTheDefaultsBits() {
    int H = 4, G = 2, d = 72;
    long[] kvLen = {1, 33, 300};
    BatchShape def = new BatchShape(Batch.ofLengths(1, 1, 2), H, G, d);
    Random rnd = new Random(5);
    float[] q = Reference.gaussian(rnd, def.packed().qLength());
    float[][] kc = new float[3][], vc = new float[3][];
    for (int b = 0; b < 3; b++) {
      kc[b] = Reference.gaussian(rnd, kvLen[b] * G * d);
      vc[b] = Reference.gaussian(rnd, kvLen[b] * G * d);
    }
    Kernels.AttentionOutput a = Kernels.decodeAttention(def, q, kc, vc, kvLen);
    Kernels.AttentionOutput b = Kernels.decodeAttention(def.withSoftmaxScale(1f / (float) Math.sqrt(d)), q, kc, vc, kvLen);
    assertArrayEquals(a.out(), b.out());
    assertArrayEquals(a.lse(), b.lse());
  }

  /** fp_cpu_attention_f32 / fp_cpu_scores_f32 (fixed 1/sqrt(d)) equal the scaled calls given the default. */
  @Test
  void theFixedScaleEntryPointsEqualTheDefault() {
    AttentionShape s = new AttentionShape(61, 6, 3, 72);
    Spans spans = new Spans(4, 30);
    Random rnd = new Random(9);
    float[] q = Reference.gaussian(rnd, s.qLength()), k = Reference.gaussian(rnd, s.kvLength()),
        v = Reference.gaussian(rnd, s.kvLength());
    Kernels.AttentionOutput scaled = Kernels.attention(s, q, k, v);
    Kernels.Scores scaledScores = Kernels.scores(s, spans, q, k, scaled.lse());
    try (var qp = new org.bytedeco.javacpp.FloatPointer(q); var kp = new org.bytedeco.javacpp.FloatPointer(k);
        var vp = new org.bytedeco.javacpp.FloatPointer(v); var op = new org.bytedeco.javacpp.FloatPointer(q.length);
        var lp = new org.bytedeco.javacpp.FloatPointer(s.lseLength()); var sp = new org.bytedeco.javacpp.FloatPointer(30);
        var cp = new org.bytedeco.javacpp.FloatPointer(30)) {
      Kernels.check(FitPruneNative.fp_cpu_attention_f32(qp, kp, vp, 61, 6, 3, 72, op, lp));
      Kernels.check(FitPruneNative.fp_cpu_scores_f32(qp, kp, lp, 61, 6, 3, 72, 4, 30, sp, cp));
      float[] out = new float[q.length], lse = new float[(int) s.lseLength()], self = new float[30], cross = new float[30];
      op.get(out);
      lp.get(lse);
      sp.get(self);
      cp.get(cross);
      assertArrayEquals(scaled.out(), out);
      assertArrayEquals(scaled.lse(), lse);
      assertArrayEquals(scaledScores.self(), self);
      assertArrayEquals(scaledScores.cross(), cross);
    }
  }

  @Test
  void aScaleOneFloatAwayIsUsedAsGiven() {
    int n = 50, H = 4, G = 2, d = 72, P = 3, V = 30;
    float torchScale = (float) Math.pow(d, -0.5), def = AttentionShape.defaultScale(d);
    assertNotEquals(def, torchScale, "d=72 rounds d^-0.5 two ways");
    assertEquals(1, Math.abs(Float.floatToIntBits(def) - Float.floatToIntBits(torchScale)), "one float apart");
    AttentionShape s = new AttentionShape(n, H, G, d);
    Random rnd = new Random(72);
    float[] q = Reference.gaussian(rnd, s.qLength()), k = Reference.gaussian(rnd, s.kvLength()),
        v = Reference.gaussian(rnd, s.kvLength());
    Kernels.AttentionOutput a = Kernels.attention(s, q, k, v);
    Kernels.AttentionOutput b = Kernels.attention(s.withSoftmaxScale(torchScale), q, k, v);
    assertTrue(Reference.relError(b.out(), a.out()) < 1e-6, "close to the default's");
    Reference.Attention ref = Reference.attention(q, k, v, n, H, G, d, false, torchScale);
    assertTrue(Reference.relError(b.out(), ref.out()) <= 1e-5 && Reference.lseError(b.lse(), ref.lse()) <= 1e-5);
    Kernels.Scores sb = Kernels.scores(s.withSoftmaxScale(torchScale), new Spans(P, V), q, k, b.lse());
    Reference.Scores rs = Reference.scores(q, k, n, H, G, d, P, V, torchScale);
    assertTrue(Reference.relError(sb.self(), rs.self()) <= 1e-5 && Reference.relError(sb.cross(), rs.cross()) <= 1e-5);
  }
}
