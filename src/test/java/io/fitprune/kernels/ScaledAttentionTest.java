package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Attention, the score pass and both in one call with a softmax scale other than 1/sqrt(d)
 * (0.05, 1, and Gemma-2 27B's {@code query_pre_attn_scalar^-0.5} = 1/12 at head dim 128), fp32
 * and bf16, single sequences and packed batches, on every CPU path, against the float64
 * reference with the same scale. Bounds as in {@link Bf16KernelsTest}: fp32 results and the
 * bf16 LSE and scores (no bf16 rounding past the inputs) 1e-5; the bf16 output twice the error
 * of float64 with only P rounded to bf16, plus 1e-5. With a device, CUDA (fp32, fp16, bf16)
 * against the CPU on the same scaled shapes.
 */
class ScaledAttentionTest {
  /** Gemma-2 27B: head_dim 128 but query_pre_attn_scalar = hidden / heads = 144. */
  static final float GEMMA2_27B = (float) (1 / Math.sqrt(144));
  static final double BOUND = 1e-5;

  @AfterEach
  void restoreIsa() {
    Kernels.useIsa(null);
  }

  record Case(int n, int H, int G, int d, int P, int V, float scale) {
    AttentionShape shape() {
      return new AttentionShape(n, H, G, d).withSoftmaxScale(scale);
    }

    @Override
    public String toString() {
      return "n=" + n + " H=" + H + " G=" + G + " d=" + d + " P=" + P + " V=" + V + " scale=" + scale;
    }
  }

  static List<Case> cases() {
    return List.of(
        new Case(1, 4, 2, 64, 0, 1, 0.05f),           // n = 1
        new Case(0, 2, 1, 16, 0, 0, 1f),              // empty
        new Case(77, 8, 2, 37, 5, 40, 0.05f),         // odd n and head dim, GQA, text rows
        new Case(77, 8, 2, 37, 5, 40, 1f),            // scale 1: logits sqrt(d) times the default's
        new Case(40, 4, 4, 33, 0, 40, 0.3f),          // no text rows: cross is zero
        new Case(130, 6, 3, 72, 65, 64, 1f),          // spans cut tiles mid-way
        new Case(150, 8, 4, 128, 20, 100, GEMMA2_27B));
  }

  /** The float64 reference's error bound for the bf16 output (see the class comment). */
  static double bf16OutBound(float[] q, float[] k, float[] v, Case c, Reference.Attention ref) {
    Reference.Attention roundedP = Reference.attention(q, k, v, c.n, c.H, c.G, c.d, true, c.scale);
    double[] r = roundedP.out();
    float[] f = new float[r.length];
    for (int i = 0; i < r.length; i++) f[i] = (float) r[i];
    return 2 * Reference.relError(f, ref.out()) + BOUND;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void attentionScoresAndFusedMatchFloat64(Case c) {
    Random rnd = new Random(31L * c.n + c.d + Float.floatToIntBits(c.scale));
    AttentionShape shape = c.shape();
    Spans spans = new Spans(c.P, c.V);
    float[] q32 = Reference.gaussian(rnd, shape.qLength()), k32 = Reference.gaussian(rnd, shape.kvLength()),
        v32 = Reference.gaussian(rnd, shape.kvLength());
    for (boolean bf16 : new boolean[] {false, true}) {
      Data q = bf16 ? Data.roundBf16(q32) : Data.of(q32), k = bf16 ? Data.roundBf16(k32) : Data.of(k32),
          v = bf16 ? Data.roundBf16(v32) : Data.of(v32);
      float[] qf = q.toFloats(), kf = k.toFloats(), vf = v.toFloats();
      Reference.Attention ref = Reference.attention(qf, kf, vf, c.n, c.H, c.G, c.d, false, c.scale);
      Reference.Scores rs = Reference.scores(qf, kf, c.n, c.H, c.G, c.d, c.P, c.V, c.scale);
      double outBound = bf16 ? bf16OutBound(qf, kf, vf, c, ref) : BOUND;
      for (Isa isa : Kernels.supportedIsas()) {
        Kernels.useIsa(isa);
        String what = isa + (bf16 ? " bf16 " : " fp32 ") + c;
        float[] out = new float[q32.length], lse = new float[(int) shape.lseLength()];
        Kernels.attention(shape, q, k, v, Data.of(out), Data.of(lse));
        assertTrue(Reference.relError(out, ref.out()) <= outBound, what + ": out " + Reference.relError(out, ref.out()));
        assertTrue(Reference.lseError(lse, ref.lse()) <= BOUND, what + ": lse " + Reference.lseError(lse, ref.lse()));

        float[] self = new float[c.V], cross = new float[c.V];
        Kernels.scores(shape, spans, q, k, Data.of(lse), Data.of(self), Data.of(cross));
        assertTrue(Reference.relError(self, rs.self()) <= BOUND, what + ": self " + Reference.relError(self, rs.self()));
        assertTrue(Reference.relError(cross, rs.cross()) <= BOUND,
            what + ": cross " + Reference.relError(cross, rs.cross()));

        float[] fOut = new float[q32.length], fLse = new float[(int) shape.lseLength()], fSelf = new float[c.V],
            fCross = new float[c.V];
        Kernels.attentionScores(shape, spans, q, k, v, Data.of(fOut), Data.of(fLse), Data.of(fSelf), Data.of(fCross));
        assertArrayEquals(out, fOut, what + ": fused out");
        assertArrayEquals(lse, fLse, what + ": fused lse");
        assertTrue(Reference.relError(fSelf, rs.self()) <= BOUND, what + ": fused self");
        assertTrue(Reference.relError(fCross, rs.cross()) <= BOUND, what + ": fused cross");
      }
    }
  }

  /** A ragged batch (an empty sequence, one of one token) whose sequences each match float64 with the batch's scale. */
  @ParameterizedTest(name = "scale={0}")
  @MethodSource("packedScales")
  void packedBatchesMatchFloat64PerSequence(float scale, int d) {
    long[] len = {37, 0, 1, 90};
    Spans[] spans = {new Spans(3, 20), new Spans(0, 0), new Spans(0, 1), new Spans(10, 50)};
    int H = 8, G = 2;
    BatchShape shape = new BatchShape(Batch.ofLengths(len), H, G, d, scale);
    AttentionShape all = shape.packed();
    Random rnd = new Random(d + Float.floatToIntBits(scale));
    float[] q32 = Reference.gaussian(rnd, all.qLength()), k32 = Reference.gaussian(rnd, all.kvLength()),
        v32 = Reference.gaussian(rnd, all.kvLength());
    for (boolean bf16 : new boolean[] {false, true}) {
      Data q = bf16 ? Data.roundBf16(q32) : Data.of(q32), k = bf16 ? Data.roundBf16(k32) : Data.of(k32),
          v = bf16 ? Data.roundBf16(v32) : Data.of(v32);
      float[] qf = q.toFloats(), kf = k.toFloats(), vf = v.toFloats();
      for (Isa isa : Kernels.supportedIsas()) {
        Kernels.useIsa(isa);
        String what = isa + (bf16 ? " bf16" : " fp32") + " scale " + scale;
        float[] out = new float[qf.length], lse = new float[(int) all.lseLength()];
        long visual = Arrays.stream(spans).mapToLong(Spans::visual).sum();
        float[] self = new float[(int) visual], cross = new float[(int) visual];
        Kernels.attention(shape, q, k, v, Data.of(out), Data.of(lse));
        Kernels.scores(shape, spans, q, k, Data.of(lse), Data.of(self), Data.of(cross));
        float[] fOut = new float[qf.length], fLse = new float[lse.length], fSelf = new float[self.length],
            fCross = new float[self.length];
        Kernels.attentionScores(shape, spans, q, k, v, Data.of(fOut), Data.of(fLse), Data.of(fSelf), Data.of(fCross));
        assertArrayEquals(out, fOut, what + ": fused out");
        assertArrayEquals(lse, fLse, what + ": fused lse");

        long N = all.tokens();
        int s0 = 0, vis0 = 0;
        for (int b = 0; b < len.length; b++) {
          int n = (int) len[b], P = (int) spans[b].prefix(), V = (int) spans[b].visual();
          Case c = new Case(n, H, G, d, P, V, scale);
          float[] qb = Arrays.copyOfRange(qf, s0 * H * d, (s0 + n) * H * d),
              kb = Arrays.copyOfRange(kf, s0 * G * d, (s0 + n) * G * d),
              vb = Arrays.copyOfRange(vf, s0 * G * d, (s0 + n) * G * d);
          Reference.Attention ref = Reference.attention(qb, kb, vb, n, H, G, d, false, scale);
          Reference.Scores rs = Reference.scores(qb, kb, n, H, G, d, P, V, scale);
          float[] lseB = new float[H * n];
          for (int h = 0; h < H; h++) System.arraycopy(lse, (int) (h * N) + s0, lseB, h * n, n);
          String seq = what + " sequence " + b;
          double outBound = bf16 ? bf16OutBound(qb, kb, vb, c, ref) : BOUND;
          float[] outB = Arrays.copyOfRange(out, s0 * H * d, (s0 + n) * H * d);
          assertTrue(Reference.relError(outB, ref.out()) <= outBound, seq + ": out " + Reference.relError(outB, ref.out()));
          assertTrue(Reference.lseError(lseB, ref.lse()) <= BOUND, seq + ": lse");
          for (float[] s : new float[][] {self, fSelf})
            assertTrue(Reference.relError(Arrays.copyOfRange(s, vis0, vis0 + V), rs.self()) <= BOUND, seq + ": self");
          for (float[] s : new float[][] {cross, fCross})
            assertTrue(Reference.relError(Arrays.copyOfRange(s, vis0, vis0 + V), rs.cross()) <= BOUND, seq + ": cross");
          s0 += n;
          vis0 += V;
        }
      }
    }
  }

  static List<Object[]> packedScales() {
    return List.of(new Object[] {0.05f, 40}, new Object[] {1f, 40}, new Object[] {GEMMA2_27B, 128});
  }

  static final String README_BEGIN = "// README scale: begin", README_END = "// README scale: end";

  /** The README's example of another scale, verbatim between the markers, against float64. */
  @Test
  void theReadmeExampleRuns() throws java.io.IOException {
    int n = 60;
    Spans spans = new Spans(4, 40);
    Random rnd = new Random(144);
    float[] q = Reference.gaussian(rnd, n * 32L * 128), k = Reference.gaussian(rnd, n * 16L * 128),
        v = Reference.gaussian(rnd, n * 16L * 128);
    // README scale: begin
    // Gemma-2 27B: head_dim 128, but logits scaled by query_pre_attn_scalar^-0.5 = 144^-0.5
    AttentionShape shape = new AttentionShape(n, 32, 16, 128).withSoftmaxScale((float) (1 / Math.sqrt(144)));
    Kernels.AttentionOutput a = Kernels.attention(shape, q, k, v);   // logits q.k / 12
    Kernels.Scores s = Kernels.scores(shape, spans, q, k, a.lse());  // the same shape: the same scale
    // README scale: end
    Reference.Attention ref = Reference.attention(q, k, v, n, 32, 16, 128, false, 1 / 12.0);
    assertTrue(Reference.relError(a.out(), ref.out()) <= BOUND && Reference.lseError(a.lse(), ref.lse()) <= BOUND);
    Reference.Scores rs = Reference.scores(q, k, n, 32, 16, 128, 4, 40, 1 / 12.0);
    assertTrue(Reference.relError(s.self(), rs.self()) <= BOUND && Reference.relError(s.cross(), rs.cross()) <= BOUND);
    io.fitprune.testutil.ReadmeBlocks.requireShown("src/test/java/io/fitprune/kernels/ScaledAttentionTest.java",
        README_BEGIN, README_END);
  }

  // ---- CUDA, where a device exists ----

  private static double rms(float[] a, float[] b) {
    double num = 0, den = 0;
    for (int i = 0; i < a.length; i++) {
      num += (double) (a[i] - b[i]) * (a[i] - b[i]);
      den += (double) b[i] * b[i];
    }
    return Math.sqrt(num / Math.max(den, 1e-300));
  }

  /** Rounds to the element type through the device, so the CPU sees the values the GPU sees. */
  private static float[] rounded(float[] x, ElementType t) {
    try (DeviceBuffer b = DeviceBuffer.of(x, t)) {
      return b.toFloats();
    }
  }

  /** CUDA's attention and scores, single and packed, with the scale against the CPU's with the same (CudaKernelsTest's bounds). */
  @Test
  void cudaMatchesTheCpuWithTheSameScale() {
    assumeTrue(Kernels.cudaAvailable(), "no CUDA device: " + Kernels.info().cudaStatus());
    for (float scale : new float[] {0.05f, GEMMA2_27B}) {
      for (int d : new int[] {64, 128}) {
        BatchShape packed = new BatchShape(Batch.ofLengths(70, 0, 1, 129), 8, 2, d, scale);
        Spans[] spans = {new Spans(3, 40), new Spans(0, 0), new Spans(0, 1), new Spans(10, 100)};
        AttentionShape single = new AttentionShape(203, 4, 2, d).withSoftmaxScale(scale);
        Spans one = new Spans(11, 150);
        for (ElementType t : new ElementType[] {ElementType.FP32, ElementType.FP16, ElementType.BF16}) {
          Random rnd = new Random(d + t.ordinal());
          double tol = t == ElementType.FP32 ? 1e-5 : t == ElementType.FP16 ? 5e-3 : 3e-2;
          String what = t + " d=" + d + " scale=" + scale;
          for (AttentionShape s : new AttentionShape[] {single, packed.packed()}) {
            float[] q = rounded(Reference.gaussian(rnd, s.qLength()), t), k = rounded(Reference.gaussian(rnd, s.kvLength()), t),
                v = rounded(Reference.gaussian(rnd, s.kvLength()), t);
            boolean isPacked = s != single;
            Kernels.AttentionOutput cpu = isPacked ? Kernels.attention(packed, q, k, v) : Kernels.attention(s, q, k, v);
            Kernels.AttentionOutput gpu = isPacked ? Kernels.attention(Backend.CUDA, t, packed, q, k, v)
                : Kernels.attention(Backend.CUDA, t, s, q, k, v);
            String w = what + (isPacked ? " packed" : " single");
            assertTrue(rms(gpu.out(), cpu.out()) < tol, w + ": out " + rms(gpu.out(), cpu.out()));
            assertTrue(rms(gpu.lse(), cpu.lse()) < 1e-5, w + ": lse " + rms(gpu.lse(), cpu.lse()));
            Kernels.Scores cs = isPacked ? Kernels.scores(packed, spans, q, k, cpu.lse()) : Kernels.scores(s, one, q, k, cpu.lse());
            Kernels.Scores gs = isPacked ? Kernels.scores(Backend.CUDA, t, packed, spans, q, k, cpu.lse())
                : Kernels.scores(Backend.CUDA, t, s, one, q, k, cpu.lse());
            assertTrue(rms(gs.self(), cs.self()) < 1e-4, w + ": self " + rms(gs.self(), cs.self()));
            assertTrue(rms(gs.cross(), cs.cross()) < 1e-4, w + ": cross " + rms(gs.cross(), cs.cross()));
          }
        }
      }
    }
  }
}
