package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Packed batches: every sequence of a batch gets the bits it gets alone (attention, LSE, scores,
 * kept rows), on every CPU path; decode over ragged caches equals recomputing the whole sequence;
 * bad offsets, spans and counts are refused naming the argument.
 */
class BatchKernelsTest {
  // n = 1, an empty sequence, V = 0, no text rows (P + V = n), spans cutting tiles, a long one
  static final long[] LENGTHS = {1, 0, 70, 33, 130, 5, 97};
  static final Spans[] SPANS = {new Spans(0, 1), new Spans(0, 0), new Spans(3, 40), new Spans(2, 0),
      new Spans(65, 64), new Spans(1, 4), new Spans(0, 97)};
  static final long[] DROP = {1, 0, 17, 0, 30, 2, 50};

  @AfterEach
  void restoreIsa() {
    Kernels.useIsa(null);
  }

  static Isa[] isas() {
    return Kernels.supportedIsas().toArray(new Isa[0]);
  }

  /** Rows [from, from+count) of a token-major array with `width` floats per row. */
  static float[] rows(float[] a, long from, long count, long width) {
    return Arrays.copyOfRange(a, Math.toIntExact(from * width), Math.toIntExact((from + count) * width));
  }

  /** Columns [from, from+count) of each of `heads` rows of an [H, N] array. */
  static float[] lseColumns(float[] lse, int heads, long n, long from, long count) {
    float[] out = new float[Math.toIntExact(heads * count)];
    for (int h = 0; h < heads; h++)
      System.arraycopy(lse, Math.toIntExact(h * n + from), out, Math.toIntExact(h * count), (int) count);
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void batchEqualsSequencesAloneBitForBit(Isa isa) {
    Kernels.useIsa(isa);
    int H = 6, G = 2, d = 72; // GQA, a head dim off the vector blocking
    Batch batch = Batch.ofLengths(LENGTHS);
    BatchShape shape = new BatchShape(batch, H, G, d);
    Random rnd = new Random(12 + isa.ordinal());
    long N = batch.tokens();
    float[] q = Reference.gaussian(rnd, N * H * d), k = Reference.gaussian(rnd, N * G * d), v = Reference.gaussian(rnd, N * G * d);

    Kernels.AttentionOutput all = Kernels.attention(shape, q, k, v);
    Kernels.Scores scores = Kernels.scores(shape, SPANS, q, k, all.lse());
    int[] keep = Kernels.selectKeep(batch, SPANS, scores.self(), scores.cross(), DROP);

    int visual0 = 0, keep0 = 0;
    for (int b = 0; b < batch.size(); b++) {
      long s0 = batch.start(b), n = batch.length(b);
      AttentionShape one = shape.sequence(b);
      float[] qb = rows(q, s0, n, (long) H * d), kb = rows(k, s0, n, (long) G * d), vb = rows(v, s0, n, (long) G * d);
      Kernels.AttentionOutput alone = Kernels.attention(one, qb, kb, vb);
      assertArrayEquals(alone.out(), rows(all.out(), s0, n, (long) H * d), "out of sequence " + b);
      assertArrayEquals(alone.lse(), lseColumns(all.lse(), H, N, s0, n), "lse of sequence " + b);

      int V = (int) SPANS[b].visual();
      Kernels.Scores sAlone = Kernels.scores(one, SPANS[b], qb, kb, alone.lse());
      assertArrayEquals(sAlone.self(), Arrays.copyOfRange(scores.self(), visual0, visual0 + V), "self of sequence " + b);
      assertArrayEquals(sAlone.cross(), Arrays.copyOfRange(scores.cross(), visual0, visual0 + V), "cross of sequence " + b);
      if (n == SPANS[b].prefix() + V) assertArrayEquals(new float[V], sAlone.cross(), "no text rows: cross is zero");

      int[] kAlone = Kernels.selectKeep(n, SPANS[b], sAlone.self(), sAlone.cross(), DROP[b]);
      for (int r = 0; r < kAlone.length; r++)
        assertEquals(kAlone[r] + s0, keep[keep0 + r], "keep of sequence " + b + " row " + r);
      visual0 += V;
      keep0 += kAlone.length;
    }
    assertEquals(keep.length, keep0);
    for (int r = 1; r < keep.length; r++) assertTrue(keep[r] > keep[r - 1], "keep ascending");

    // one gather of the packed batch = the sequences' gathers, concatenated
    float[] kept = Kernels.gatherRows(k, (long) G * d, keep);
    for (int r = 0; r < keep.length; r++)
      assertArrayEquals(rows(k, keep[r], 1, (long) G * d), rows(kept, r, 1, (long) G * d));
  }

  /** bf16 q, k, v: the packed batch gives each sequence the bits it gets alone, too. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void bf16BatchEqualsSequencesAloneBitForBit(Isa isa) {
    Kernels.useIsa(isa);
    int H = 4, G = 2, d = 64;
    Batch batch = Batch.ofLengths(LENGTHS);
    BatchShape shape = new BatchShape(batch, H, G, d);
    Random rnd = new Random(70 + isa.ordinal());
    long N = batch.tokens();
    float[] q = Reference.gaussian(rnd, N * H * d), k = Reference.gaussian(rnd, N * G * d), v = Reference.gaussian(rnd, N * G * d);
    float[] out = new float[(int) (N * H * d)], lse = new float[(int) (H * N)];
    long visual = 0;
    for (Spans sp : SPANS) visual += sp.visual();
    float[] self = new float[(int) visual], cross = new float[(int) visual];
    Kernels.attention(shape, Data.roundBf16(q), Data.roundBf16(k), Data.roundBf16(v), Data.of(out), Data.of(lse));
    Kernels.scores(shape, SPANS, Data.roundBf16(q), Data.roundBf16(k), Data.of(lse), Data.of(self), Data.of(cross));
    int visual0 = 0;
    for (int b = 0; b < batch.size(); b++) {
      long s0 = batch.start(b), n = batch.length(b);
      AttentionShape one = shape.sequence(b);
      float[] oa = new float[(int) (n * H * d)], la = new float[(int) (H * n)];
      Data qb = Data.roundBf16(rows(q, s0, n, H * d)), kb = Data.roundBf16(rows(k, s0, n, G * d));
      Kernels.attention(one, qb, kb, Data.roundBf16(rows(v, s0, n, G * d)), Data.of(oa), Data.of(la));
      assertArrayEquals(oa, rows(out, s0, n, H * d), "bf16 out of sequence " + b);
      assertArrayEquals(la, lseColumns(lse, H, N, s0, n), "bf16 lse of sequence " + b);
      int V = (int) SPANS[b].visual();
      float[] sa = new float[V], ca = new float[V];
      Kernels.scores(one, SPANS[b], qb, kb, Data.of(la), Data.of(sa), Data.of(ca));
      assertArrayEquals(sa, Arrays.copyOfRange(self, visual0, visual0 + V), "bf16 self of sequence " + b);
      assertArrayEquals(ca, Arrays.copyOfRange(cross, visual0, visual0 + V), "bf16 cross of sequence " + b);
      visual0 += V;
    }
  }

  /**
   * The packed fused pass (attention and scores in one call), fp32 and bf16: out, LSE and scores
   * bit for bit those of each sequence's fused call alone; out and LSE bit for bit those of the
   * separate packed passes, scores within the single-sequence fused bound (1e-6, the LSE's
   * rounding through the natural log).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void fusedBatchEqualsSequencesFusedAloneAndTheSeparatePasses(Isa isa) {
    Kernels.useIsa(isa);
    int H = 6, G = 3, d = 33; // GQA, an odd head dim
    Batch batch = Batch.ofLengths(LENGTHS);
    BatchShape shape = new BatchShape(batch, H, G, d);
    Random rnd = new Random(40 + isa.ordinal());
    long N = batch.tokens();
    float[] q = Reference.gaussian(rnd, N * H * d), k = Reference.gaussian(rnd, N * G * d), v = Reference.gaussian(rnd, N * G * d);
    int visual = 0;
    for (Spans sp : SPANS) visual += (int) sp.visual();
    for (boolean bf16 : new boolean[] {false, true}) {
      String what = isa + (bf16 ? " bf16" : " fp32");
      float[] out = new float[(int) (N * H * d)], lse = new float[(int) (H * N)], self = new float[visual],
          cross = new float[visual];
      float[] out2 = out.clone(), lse2 = lse.clone(), self2 = self.clone(), cross2 = cross.clone();
      if (bf16) {
        Data qb = Data.roundBf16(q), kb = Data.roundBf16(k), vb = Data.roundBf16(v);
        Kernels.attentionScores(shape, SPANS, qb, kb, vb, Data.of(out), Data.of(lse), Data.of(self),
            Data.of(cross));
        Kernels.attention(shape, qb, kb, vb, Data.of(out2), Data.of(lse2));
        Kernels.scores(shape, SPANS, qb, kb, Data.of(lse2), Data.of(self2), Data.of(cross2));
      } else {
        Kernels.attentionScores(shape, SPANS, Data.of(q), Data.of(k), Data.of(v), Data.of(out),
            Data.of(lse), Data.of(self), Data.of(cross));
        Kernels.attention(shape, Data.of(q), Data.of(k), Data.of(v), Data.of(out2), Data.of(lse2));
        Kernels.scores(shape, SPANS, Data.of(q), Data.of(k), Data.of(lse2), Data.of(self2),
            Data.of(cross2));
      }
      assertArrayEquals(out2, out, what + " out vs separate");
      assertArrayEquals(lse2, lse, what + " lse vs separate");
      assertTrue(Reference.relError(self, self2) <= 1e-6, what + " self vs separate");
      assertTrue(Reference.relError(cross, cross2) <= 1e-6, what + " cross vs separate");

      int visual0 = 0;
      for (int b = 0; b < batch.size(); b++) {
        long s0 = batch.start(b), n = batch.length(b);
        int V = (int) SPANS[b].visual();
        if (n == 0) continue;
        AttentionShape one = shape.sequence(b);
        float[] qs = rows(q, s0, n, (long) H * d), ks = rows(k, s0, n, (long) G * d), vs = rows(v, s0, n, (long) G * d);
        float[] oa = new float[qs.length], la = new float[(int) (H * n)], sa = new float[V], ca = new float[V];
        Kernels.attentionScores(one, SPANS[b], bf16 ? Data.roundBf16(qs) : Data.of(qs),
            bf16 ? Data.roundBf16(ks) : Data.of(ks), bf16 ? Data.roundBf16(vs) : Data.of(vs), Data.of(oa),
            Data.of(la), Data.of(sa), Data.of(ca));
        String seq = what + " sequence " + b;
        assertArrayEquals(oa, rows(out, s0, n, (long) H * d), seq + " out");
        assertArrayEquals(la, lseColumns(lse, H, N, s0, n), seq + " lse");
        assertArrayEquals(sa, Arrays.copyOfRange(self, visual0, visual0 + V), seq + " self");
        assertArrayEquals(ca, Arrays.copyOfRange(cross, visual0, visual0 + V), seq + " cross");
        visual0 += V;
      }
    }
  }

  /** The packed calls whose element type is chosen at run time give the typed calls' bits and refuse mixed types. */
  @Test
  void runTimeTypedPackedCallsEqualTheTypedOnes() {
    int H = 4, G = 2, d = 24;
    Batch batch = Batch.ofLengths(9, 1, 40);
    BatchShape shape = new BatchShape(batch, H, G, d);
    Spans[] spans = {new Spans(1, 5), new Spans(0, 1), new Spans(3, 30)};
    Random rnd = new Random(61);
    long N = batch.tokens();
    Data q = Data.roundBf16(Reference.gaussian(rnd, N * H * d)), k = Data.roundBf16(Reference.gaussian(rnd, N * G * d)),
        v = Data.roundBf16(Reference.gaussian(rnd, N * G * d));
    float[][] typed = new float[4][], any = new float[4][];
    for (float[][] r : new float[][][] {typed, any}) {
      r[0] = new float[(int) (N * H * d)];
      r[1] = new float[(int) (H * N)];
      r[2] = new float[36];
      r[3] = new float[36];
    }
    Kernels.attentionScores(shape, spans, q, k, v, Data.of(typed[0]), Data.of(typed[1]), Data.of(typed[2]),
        Data.of(typed[3]));
    Data qn = q, kn = k, vn = v;
    Kernels.attentionScores(shape, spans, qn, kn, vn, Data.of(any[0]), Data.of(any[1]), Data.of(any[2]),
        Data.of(any[3]));
    for (int i = 0; i < 4; i++) assertArrayEquals(typed[i], any[i], "fused output " + i);
    float[] out = new float[typed[0].length], lse = new float[typed[1].length];
    Kernels.attention(shape, qn, kn, vn, Data.of(out), Data.of(lse));
    assertArrayEquals(typed[0], out, "attention out");
    Data kf = Data.of(k.toFloats());
    assertMessage(() -> Kernels.attention(shape, qn, kf, vn, Data.of(out), Data.of(lse)), "k, v: expected bfloat16 like q");
    Data qf = Data.of(q.toFloats()), vf = Data.of(v.toFloats());
    assertMessage(() -> Kernels.attention(shape, qf, kf, vf, Data.bf16(new short[out.length]), Data.of(lse)),
        "out: expected float32 for float32 inputs");
  }

  @Test
  void batchMatchesFloat64Reference() {
    int H = 4, G = 4, d = 64;
    Batch batch = Batch.ofLengths(40, 1, 77);
    BatchShape shape = new BatchShape(batch, H, G, d);
    Random rnd = new Random(5);
    long N = batch.tokens();
    float[] q = Reference.gaussian(rnd, N * H * d), k = Reference.gaussian(rnd, N * G * d), v = Reference.gaussian(rnd, N * G * d);
    Kernels.AttentionOutput got = Kernels.attention(shape, q, k, v);
    for (int b = 0; b < batch.size(); b++) {
      long s0 = batch.start(b);
      int n = (int) batch.length(b);
      Reference.Attention ref = Reference.attention(rows(q, s0, n, H * d), rows(k, s0, n, G * d), rows(v, s0, n, G * d), n, H, G, d);
      assertTrue(Reference.relError(rows(got.out(), s0, n, H * d), ref.out()) <= AttentionAndScoresTest.BOUND, "out " + b);
      assertTrue(Reference.lseError(lseColumns(got.lse(), H, N, s0, n), ref.lse()) <= AttentionAndScoresTest.BOUND, "lse " + b);
    }
  }

  /** Ragged caches, a few new tokens per sequence (speculative), against the prefill of the whole sequence. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void decodeEqualsFullRecomputation(Isa isa) {
    Kernels.useIsa(isa);
    int H = 8, G = 2, d = 40;
    long[] kvLen = {1, 9, 200, 64, 65};
    long[] qLen = {1, 1, 3, 1, 4};
    long[] cap = {3, 9, 210, 70, 65}; // spare rows beyond kv_len are never read
    Random rnd = new Random(40 + isa.ordinal());
    int B = kvLen.length;
    float[][] kc = new float[B][], vc = new float[B][], qFull = new float[B][];
    for (int b = 0; b < B; b++) {
      kc[b] = Reference.gaussian(rnd, cap[b] * G * d);
      vc[b] = Reference.gaussian(rnd, cap[b] * G * d);
      qFull[b] = Reference.gaussian(rnd, kvLen[b] * H * d);
      for (long i = kvLen[b] * G * d; i < cap[b] * G * d; i++) kc[b][(int) i] = vc[b][(int) i] = Float.NaN;
    }
    Batch newTokens = Batch.ofLengths(qLen);
    BatchShape shape = new BatchShape(newTokens, H, G, d);
    float[] q = new float[Math.toIntExact(newTokens.tokens() * H * d)];
    for (int b = 0; b < B; b++)
      System.arraycopy(rows(qFull[b], kvLen[b] - qLen[b], qLen[b], H * d), 0, q, (int) (newTokens.start(b) * H * d),
          (int) (qLen[b] * H * d));
    Kernels.AttentionOutput dec = Kernels.decodeAttention(shape, q, kc, vc, kvLen);
    long Nq = newTokens.tokens();
    for (int b = 0; b < B; b++) {
      int n = (int) kvLen[b];
      Kernels.AttentionOutput full = Kernels.attention(new AttentionShape(n, H, G, d), qFull[b],
          rows(kc[b], 0, n, G * d), rows(vc[b], 0, n, G * d));
      float[] want = rows(full.out(), n - qLen[b], qLen[b], H * d);
      float[] got = rows(dec.out(), newTokens.start(b), qLen[b], H * d);
      assertTrue(Reference.relError(got, toDouble(want)) <= 1e-5, "decode out of sequence " + b);
      float[] wantLse = lseColumns(full.lse(), H, n, n - qLen[b], qLen[b]);
      assertTrue(Reference.lseError(lseColumns(dec.lse(), H, Nq, newTokens.start(b), qLen[b]), toDouble(wantLse)) <= 1e-5,
          "decode lse of sequence " + b);

      // the sequence alone gives the same bits as in the batch
      BatchShape alone = new BatchShape(Batch.single(qLen[b]), H, G, d);
      Kernels.AttentionOutput one = Kernels.decodeAttention(alone, rows(q, newTokens.start(b), qLen[b], H * d),
          new float[][] {kc[b]}, new float[][] {vc[b]}, new long[] {kvLen[b]});
      assertArrayEquals(one.out(), got, "decode of sequence " + b + " alone");
    }
  }

  /** One sequence with one kv head and a long cache: the keys are split across the cores and merged. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("isas")
  void splitLongCacheDecodeEqualsFullRecomputation(Isa isa) {
    Kernels.useIsa(isa);
    int H = 4, G = 1, d = 40, n = 1500, qn = 3;
    Random rnd = new Random(90 + isa.ordinal());
    float[] q = Reference.gaussian(rnd, (long) n * H * d), k = Reference.gaussian(rnd, (long) n * G * d),
        v = Reference.gaussian(rnd, (long) n * G * d);
    Kernels.AttentionOutput full = Kernels.attention(new AttentionShape(n, H, G, d), q, k, v);
    Kernels.AttentionOutput dec = Kernels.decodeAttention(new BatchShape(Batch.single(qn), H, G, d),
        rows(q, n - qn, qn, H * d), new float[][] {k}, new float[][] {v}, new long[] {n});
    assertTrue(Reference.relError(dec.out(), toDouble(rows(full.out(), n - qn, qn, H * d))) <= 1e-5, "out");
    assertTrue(Reference.lseError(dec.lse(), toDouble(lseColumns(full.lse(), H, n, n - qn, qn))) <= 1e-5, "lse");
  }

  static double[] toDouble(float[] a) {
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) out[i] = a[i];
    return out;
  }

  @Test
  void refusesBadOffsetsSpansAndCounts() {
    assertMessage(() -> Batch.ofOffsets(1, 4), "cuSeqlens[0]");
    assertMessage(() -> Batch.ofOffsets(0, 5, 3), "cuSeqlens must not decrease");
    assertMessage(() -> Batch.ofOffsets(0), "at least one sequence");
    assertMessage(() -> Batch.ofOffsets(0, 1L << 31), "2^31");
    assertMessage(() -> Batch.ofLengths(Integer.MAX_VALUE, Integer.MAX_VALUE), "2^31");
    assertMessage(() -> Batch.ofLengths(3, -1), "lengths[1]");

    Batch batch = Batch.ofLengths(4, 6);
    BatchShape shape = new BatchShape(batch, 2, 1, 8);
    float[] q = new float[10 * 2 * 8], k = new float[10 * 8], lse = new float[2 * 10];
    assertMessage(() -> Kernels.scores(shape, new Spans[] {new Spans(0, 4)}, q, k, lse), "spans: expected one entry per sequence");
    assertMessage(() -> Kernels.scores(shape, new Spans[] {new Spans(0, 4), new Spans(2, 5)}, q, k, lse), "spans[1]");
    assertMessage(() -> Kernels.scores(shape, new Spans[] {new Spans(0, 4), new Spans(Long.MAX_VALUE, 5)}, q, k, lse),
        "spans[1]");
    Data fq = Data.of(q), fk = Data.of(k), fl = Data.of(lse), f4 = Data.of(new float[4]);
    Spans[] two = {new Spans(0, 4), new Spans(2, 3)};
    assertMessage(() -> Kernels.attentionScores(shape, new Spans[] {new Spans(0, 4)}, fq, fk, fk, fq, fl, f4, f4),
        "spans: expected one entry per sequence");
    assertMessage(() -> Kernels.attentionScores(shape, new Spans[] {new Spans(0, 4), new Spans(2, 5)}, fq, fk, fk, fq,
        fl, f4, f4), "spans[1]");
    assertMessage(() -> Kernels.attentionScores(shape, two, fq, fk, Data.of(new float[5]), fq, fl, f4, f4), "v: expected");
    assertMessage(() -> Kernels.attentionScores(shape, two, fq, fk, fk, fq, fl, Data.of(new float[7]), f4), "cross: expected 7");
    assertMessage(() -> Kernels.attentionScores(shape, two, Data.bf16(new short[160]), Data.bf16(new short[80]),
        Data.bf16(new short[80]), Data.of(new int[160]), fl, f4, f4), "out: expected float32 or bfloat16");
    assertMessage(() -> Kernels.attention(shape, new float[5], k, k), "q: expected 160");
    Spans[] spans = {new Spans(0, 4), new Spans(1, 2)};
    float[] scores6 = new float[6];
    assertMessage(() -> Kernels.selectKeep(batch, spans, scores6, scores6, new long[] {1, 3}), "drop[1]");
    assertMessage(() -> Kernels.selectKeep(batch, spans, scores6, scores6, new long[] {1}), "drop: expected one entry");
    assertMessage(() -> Kernels.selectKeep(batch, spans, new float[5], scores6, new long[] {1, 1}), "self");

    BatchShape dec = new BatchShape(Batch.ofLengths(1, 2), 2, 1, 8);
    float[] q3 = new float[3 * 2 * 8];
    float[][] caches = {new float[8 * 4], new float[8 * 4]};
    assertMessage(() -> Kernels.decodeAttention(dec, q3, caches, caches, new long[] {4, 1}), "kvLengths[1]");
    assertMessage(() -> Kernels.decodeAttention(dec, q3, caches, caches, new long[] {5, 4}), "kCaches[0]");
    assertMessage(() -> Kernels.decodeAttention(dec, q3, new float[][] {caches[0]}, caches, new long[] {4, 4}), "kCaches");
    assertMessage(() -> Kernels.decodeAttention(new BatchShape(Batch.ofLengths(1, 0), 2, 1, 8), new float[16], caches,
        caches, new long[] {1, 1}), "q_len >= 1");
  }

  /** The C API's own checks, the second line of defence, on offsets Java would refuse. */
  @Test
  void nativeChecksOffsets() {
    Data x = Data.of(new float[64]);
    try (var a = HostData.access(x, true, true)) {
      int f32 = FitPruneNative.FP_DTYPE_F32;
      int st = FitPruneNative.fp_cpu_attention_varlen(a.ptr, a.ptr, a.ptr, new long[] {0, 3, 2}, 2, 1, 1, 8, f32, 0.5f,
          a.ptr, f32, a.ptr);
      assertEquals(FitPruneNative.FP_ERR_ARG, st);
      assertTrue(FitPruneNative.fp_last_error().contains("cu_seqlens"), FitPruneNative.fp_last_error());
      st = FitPruneNative.fp_cpu_scores_varlen(a.ptr, a.ptr, a.ptr, new long[] {0, 2}, 1, 1, 1, 8, f32, 0.5f,
          new long[] {1, Long.MAX_VALUE}, a.ptr, a.ptr);
      assertEquals(FitPruneNative.FP_ERR_ARG, st);
      assertTrue(FitPruneNative.fp_last_error().contains("sequence 0"), FitPruneNative.fp_last_error());
      st = FitPruneNative.fp_cpu_attention_scores_varlen(a.ptr, a.ptr, a.ptr, new long[] {0, 3, 2}, 2, 1, 1, 8, f32,
          0.5f, a.ptr, f32, a.ptr, new long[] {0, 1, 0, 1}, a.ptr, a.ptr);
      assertEquals(FitPruneNative.FP_ERR_ARG, st);
      assertTrue(FitPruneNative.fp_last_error().contains("cu_seqlens"), FitPruneNative.fp_last_error());
      st = FitPruneNative.fp_cpu_attention_scores_varlen(a.ptr, a.ptr, a.ptr, new long[] {0, 2}, 1, 1, 1, 8, f32, 0.5f,
          a.ptr, f32, a.ptr, new long[] {1, Long.MAX_VALUE}, a.ptr, a.ptr);
      assertEquals(FitPruneNative.FP_ERR_ARG, st);
      assertTrue(FitPruneNative.fp_last_error().contains("sequence 0"), FitPruneNative.fp_last_error());
      st = FitPruneNative.fp_cpu_decode_attention_f32(a.floats(), new long[] {0, 1, 1}, 2, 1, 1, 8, new long[] {1, 1},
          new long[] {1, 1}, new long[] {1, 1}, a.floats(), null);
      assertEquals(FitPruneNative.FP_ERR_ARG, st);
      assertTrue(FitPruneNative.fp_last_error().contains("cu_q"), FitPruneNative.fp_last_error());
    }
  }

  static void assertMessage(org.junit.jupiter.api.function.Executable e, String part) {
    RuntimeException ex = assertThrows(RuntimeException.class, e);
    assertTrue(ex.getMessage() != null && ex.getMessage().contains(part), "message '" + ex.getMessage() + "' lacks '" + part + "'");
  }
}
