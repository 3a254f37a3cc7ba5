package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Prefill attention over a cached prefix ({@code cu_seqlens_k} apart from {@code cu_seqlens_q}):
 * against a float64 reference written here on ragged batches (GQA, odd head dims, one query,
 * sequences with no new query, any softmax scale) on every ISA path; with the keys equal to the
 * queries and the default scale, the bits of the packed attention; a chunked prefill matches the
 * whole one; bad key counts and scales are refused.
 */
class CachedPrefixTest {
  @AfterEach
  void restoreIsa() {
    Kernels.useIsa(null);
  }

  /** Float64: query t of sequence b sees keys [0, kLen_b - qLen_b + t] of that sequence. */
  static double[][] reference(float[] q, float[] k, float[] v, long[] qLen, long[] kLen, int H, int G, int d,
      double scale) {
    int group = H / G, nq = (int) Arrays.stream(qLen).sum();
    double[] out = new double[nq * H * d], lse = new double[H * nq];
    int row = 0, k0 = 0;
    for (int b = 0; b < qLen.length; b++) {
      for (int t = 0; t < qLen[b]; t++, row++) {
        int seen = (int) (kLen[b] - qLen[b] + t + 1);
        for (int h = 0; h < H; h++) {
          int g = h / group;
          double[] s = new double[seen];
          double m = Double.NEGATIVE_INFINITY;
          for (int j = 0; j < seen; j++) {
            double dot = 0;
            for (int x = 0; x < d; x++) dot += (double) q[(row * H + h) * d + x] * k[((k0 + j) * G + g) * d + x];
            s[j] = dot * scale;
            m = Math.max(m, s[j]);
          }
          double l = 0;
          for (double x : s) l += Math.exp(x - m);
          for (int j = 0; j < seen; j++) {
            double p = Math.exp(s[j] - m) / l;
            for (int x = 0; x < d; x++) out[(row * H + h) * d + x] += p * v[((k0 + j) * G + g) * d + x];
          }
          lse[h * nq + row] = m + Math.log(l);
        }
      }
      k0 += (int) kLen[b];
    }
    return new double[][] {out, lse};
  }

  static float[][] run(BatchShape s, Batch keys, Data q, Data k, Data v) {
    float[] out = new float[(int) s.packed().qLength()], lse = new float[(int) s.packed().lseLength()];
    Kernels.attention(s, keys, q, k, v, Data.of(out), Data.of(lse));
    return new float[][] {out, lse};
  }

  @Test
  void matchesTheFloat64ReferenceOnEveryPath() {
    long[][][] cases = {{{1}, {1}}, {{1}, {300}}, {{37, 0, 5}, {100, 64, 5}}, {{70, 3}, {200, 3}}, {{0}, {9}}};
    int[][] heads = {{4, 2, 16}, {6, 3, 13}, {2, 2, 128}};
    int seed = 0;
    for (Isa isa : Kernels.supportedIsas()) {
      Kernels.useIsa(isa);
      for (long[][] c : cases)
        for (int[] hg : heads) {
          Random rnd = new Random(++seed);
          int H = hg[0], G = hg[1], d = hg[2];
          long nq = Arrays.stream(c[0]).sum(), nk = Arrays.stream(c[1]).sum();
          float[] q = Reference.gaussian(rnd, nq * H * d), k = Reference.gaussian(rnd, nk * G * d),
              v = Reference.gaussian(rnd, nk * G * d);
          float scale = seed % 2 == 0 ? BatchShape.defaultScale(d) : 0.2f;
          BatchShape s = new BatchShape(Batch.ofLengths(c[0]), H, G, d, scale);
          float[][] got = run(s, Batch.ofLengths(c[1]), Data.of(q), Data.of(k), Data.of(v));
          double[][] ref = reference(q, k, v, c[0], c[1], H, G, d, scale);
          String what = isa + " " + Arrays.toString(hg) + " q" + Arrays.toString(c[0]) + " k" + Arrays.toString(c[1]);
          assertTrue(Reference.relError(got[0], ref[0]) < 1e-5, what + ": out " + Reference.relError(got[0], ref[0]));
          assertTrue(Reference.lseError(got[1], ref[1]) < 1e-5, what + ": lse " + Reference.lseError(got[1], ref[1]));
        }
    }
  }

  @Test
  void keysEqualToQueriesGiveThePackedAttentionsBits() {
    Random rnd = new Random(3);
    long[] len = {100, 1, 65};
    int H = 8, G = 2, d = 40;
    long n = Arrays.stream(len).sum();
    float[] q = Reference.gaussian(rnd, n * H * d), k = Reference.gaussian(rnd, n * G * d), v = Reference.gaussian(rnd, n * G * d);
    BatchShape s = new BatchShape(Batch.ofLengths(len), H, G, d);
    for (boolean bf16 : new boolean[] {false, true}) {
      Data qd = bf16 ? Data.roundBf16(q) : Data.of(q), kd = bf16 ? Data.roundBf16(k) : Data.of(k),
          vd = bf16 ? Data.roundBf16(v) : Data.of(v);
      float[] out = new float[(int) s.packed().qLength()], lse = new float[(int) s.packed().lseLength()];
      Kernels.attention(s, qd, kd, vd, Data.of(out), Data.of(lse));
      float[][] got = run(s, Batch.ofLengths(len), qd, kd, vd);
      assertArrayEquals(out, got[0], bf16 ? "bf16" : "fp32");
      assertArrayEquals(lse, got[1], bf16 ? "bf16" : "fp32");
    }
  }

  @Test
  void aChunkedPrefillMatchesTheWholeOne() {
    Random rnd = new Random(8);
    int H = 4, G = 2, d = 32, n = 150, c = 57; // chunk 1: rows [0, c); chunk 2: rows [c, n) over all n keys
    float[] q = Reference.gaussian(rnd, (long) n * H * d), k = Reference.gaussian(rnd, (long) n * G * d),
        v = Reference.gaussian(rnd, (long) n * G * d);
    Kernels.AttentionOutput whole = Kernels.attention(new AttentionShape(n, H, G, d), q, k, v);
    BatchShape second = new BatchShape(Batch.single(n - c), H, G, d);
    float[][] got = run(second, Batch.single(n), Data.of(Arrays.copyOfRange(q, c * H * d, n * H * d)), Data.of(k),
        Data.of(v));
    float[] want = Arrays.copyOfRange(whole.out(), c * H * d, n * H * d);
    assertTrue(Reference.relError(got[0], want) < 1e-6, "chunk 2 against the whole prefill: " + Reference.relError(got[0], want));
    for (int h = 0; h < H; h++)
      for (int i = c; i < n; i++)
        assertEquals(whole.lse()[h * n + i], got[1][h * (n - c) + i - c], 1e-5, "lse h=" + h + " row " + i);
  }

  @Test
  void badKeyCountsAndScalesAreRefused() {
    BatchShape s = new BatchShape(Batch.ofLengths(3, 2), 2, 1, 8);
    float[] q = new float[5 * 2 * 8], kv = new float[4 * 8];
    var e = assertThrows(IllegalArgumentException.class,
        () -> run(s, Batch.ofLengths(3, 1), Data.of(q), Data.of(kv), Data.of(kv)));
    assertTrue(e.getMessage().contains("sequence 1 has 1 keys for 2 queries"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> run(s, Batch.ofLengths(4), Data.of(q), Data.of(kv), Data.of(kv)));
    assertTrue(e.getMessage().contains("one length per sequence"), e.getMessage());
    try (var p = new org.bytedeco.javacpp.FloatPointer(q); var o = new org.bytedeco.javacpp.FloatPointer(q.length);
        var l = new org.bytedeco.javacpp.FloatPointer(10)) {
      int st = FitPruneNative.fp_cpu_attention_varlen_kv(p, p, p, new long[] {0, 3, 5}, new long[] {0, 3, 4}, 2, 2, 1, 8,
          FitPruneNative.FP_DTYPE_F32, 0.3f, o, FitPruneNative.FP_DTYPE_F32, l);
      assertEquals(FitPruneNative.FP_ERR_ARG, st);
      assertTrue(FitPruneNative.fp_last_error().contains("sequence 1"), FitPruneNative.fp_last_error());
      st = FitPruneNative.fp_cpu_attention_varlen_kv(p, p, p, new long[] {0, 3, 5}, new long[] {0, 3, 5}, 2, 2, 1, 8,
          FitPruneNative.FP_DTYPE_F32, Float.POSITIVE_INFINITY, o, FitPruneNative.FP_DTYPE_F32, l);
      assertEquals(FitPruneNative.FP_ERR_ARG, st);
      assertTrue(FitPruneNative.fp_last_error().contains("softmax_scale"), FitPruneNative.fp_last_error());
    }
  }
}
