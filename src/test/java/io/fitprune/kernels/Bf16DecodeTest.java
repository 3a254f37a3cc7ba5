package io.fitprune.kernels;

import static io.fitprune.kernels.BatchKernelsTest.assertMessage;
import static io.fitprune.kernels.BatchKernelsTest.lseColumns;
import static io.fitprune.kernels.BatchKernelsTest.rows;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.bytedeco.javacpp.ShortPointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * bf16 decode attention over ragged bf16 caches, against the float64 reference on the same
 * bf16-rounded inputs. Bounds (the FlashAttention rule, as Bf16KernelsTest): the yardstick is the
 * float64 computation's error when its probabilities are rounded to bf16 (what a kernel feeding P
 * to vdpbf16ps makes); this kernel multiplies fp32 probabilities by exactly converted v, so its
 * output and LSE must stay within the fp32 bound 1e-5, far below that yardstick. Every CPU path
 * gives the same bits; a batch gives each sequence the bits it gets alone; and decode equals the
 * last rows of the bf16 prefill within the prefill's own bound plus this one.
 */
class Bf16DecodeTest {
  static final double FP32_BOUND = 1e-5;
  static final short NAN = Bf16.fromFloat(Float.NaN);

  @AfterEach
  void restoreIsa() {
    Kernels.useIsa(null);
  }

  /** A ragged batch: bf16 caches (spare rows poisoned with NaN) and the new tokens' q. */
  record Case(int H, int G, int d, long[] kvLen, long[] qLen, Data q, short[][] k, short[][] v) {
    BatchShape shape() {
      return new BatchShape(Batch.ofLengths(qLen), H, G, d);
    }

    Data[] caches(short[][] c) {
      Data[] out = new Data[c.length];
      for (int b = 0; b < c.length; b++) out[b] = Data.bf16(c[b]);
      return out;
    }

    /** out fp32 and lse of the kernel. */
    float[][] run() {
      BatchShape s = shape();
      float[] out = new float[Math.toIntExact(s.packed().qLength())], lse = new float[Math.toIntExact(s.packed().lseLength())];
      Kernels.decodeAttention(s, q, caches(k), caches(v), kvLen, Data.of(out), Data.of(lse));
      return new float[][] {out, lse};
    }
  }

  static Case randomCase(long seed, int H, int G, int d, long[] kvLen, long[] qLen, long spare) {
    Random rnd = new Random(seed);
    int B = kvLen.length;
    short[][] k = new short[B][], v = new short[B][];
    for (int b = 0; b < B; b++) {
      long valid = kvLen[b] * G * d, cap = (kvLen[b] + spare) * G * d;
      k[b] = Arrays.copyOf(Data.roundBf16(Reference.gaussian(rnd, valid)).toShorts(), (int) cap);
      v[b] = Arrays.copyOf(Data.roundBf16(Reference.gaussian(rnd, valid)).toShorts(), (int) cap);
      Arrays.fill(k[b], (int) valid, (int) cap, NAN); // rows past kv_len are never read
      Arrays.fill(v[b], (int) valid, (int) cap, NAN);
    }
    long nq = 0;
    for (long n : qLen) nq += n;
    return new Case(H, G, d, kvLen, qLen, Data.roundBf16(Reference.gaussian(rnd, nq * H * d)), k, v);
  }

  /**
   * Float64 decode on the bf16 values: new token t of sequence b sees keys [0, kv - qLen + t]; with
   * roundP each probability is rounded to bf16 before it multiplies v (the yardstick).
   */
  static double[][] reference(Case c, boolean roundP) {
    int H = c.H(), G = c.G(), d = c.d();
    float[] q = c.q().toFloats();
    int nq = q.length / (H * d);
    double[] out = new double[q.length], lse = new double[H * nq];
    int row = 0;
    for (int b = 0; b < c.kvLen().length; b++) {
      float[] k = Data.bf16(c.k()[b]).toFloats(), v = Data.bf16(c.v()[b]).toFloats();
      long past = c.kvLen()[b] - c.qLen()[b];
      for (int t = 0; t < c.qLen()[b]; t++, row++) {
        int keys = (int) (past + t + 1);
        for (int h = 0; h < H; h++) {
          int g = h / (H / G), qo = (row * H + h) * d;
          double[] s = new double[keys];
          double m = Double.NEGATIVE_INFINITY;
          for (int j = 0; j < keys; j++) {
            double dot = 0;
            for (int e = 0; e < d; e++) dot += (double) q[qo + e] * k[(j * G + g) * d + e];
            s[j] = dot / Math.sqrt(d);
            m = Math.max(m, s[j]);
          }
          double sum = 0;
          for (double x : s) sum += Math.exp(x - m);
          double l = m + Math.log(sum);
          lse[h * nq + row] = l;
          for (int j = 0; j < keys; j++) {
            double p = Math.exp(s[j] - l);
            if (roundP) p = Bf16.toFloat(Bf16.fromFloat((float) p));
            for (int e = 0; e < d; e++) out[qo + e] += p * v[(j * G + g) * d + e];
          }
        }
      }
    }
    return new double[][] {out, lse};
  }

  static float[] toFloats(double[] a) {
    float[] f = new float[a.length];
    for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
    return f;
  }

  static Case[] cases() {
    return new Case[] {
      // GQA, odd head dim (a padded element pair), an n = 1 cache, a sequence all of whose cache is new tokens,
      // caches crossing and ending on key tiles
      randomCase(1, 6, 2, 33, new long[] {1, 9, 130, 4, 64, 65}, new long[] {1, 1, 3, 4, 1, 2}, 5),
      // MHA, head dim 128, one token each
      randomCase(2, 4, 4, 128, new long[] {70, 1, 200}, new long[] {1, 1, 1}, 3),
      // one sequence, one kv head, a long cache: split along the keys and merged
      randomCase(3, 4, 1, 64, new long[] {1500}, new long[] {3}, 7),
      // head dim 80 (a part step of q.k lanes and of widened V), 10 rows a kv group: work items of 6
      // groups and of the 2 left
      randomCase(4, 16, 8, 80, new long[] {37, 300, 700}, new long[] {5, 2, 1}, 3),
    };
  }

  @Test
  void matchesFloat64ReferenceWithTheSameBitsOnEveryPath() {
    for (Case c : cases()) {
      double[][] ref = reference(c, false);
      double yardstick = Reference.relError(toFloats(reference(c, true)[0]), ref[0]);
      assertTrue(yardstick > 10 * FP32_BOUND, "the bf16-P yardstick " + yardstick + " is not vacuous");
      float[][] first = null;
      for (Isa isa : Kernels.supportedIsas()) {
        Kernels.useIsa(isa);
        float[][] got = c.run();
        String what = isa + " H=" + c.H() + " G=" + c.G() + " d=" + c.d();
        double e = Reference.relError(got[0], ref[0]);
        assertTrue(e <= FP32_BOUND, what + ": out relative error " + e + " (bf16-P yardstick " + yardstick + ")");
        double el = Reference.lseError(got[1], ref[1]);
        assertTrue(el <= FP32_BOUND, what + ": lse error " + el);

        // bf16 output: the fp32 output rounded to nearest even, bit for bit
        BatchShape s = c.shape();
        short[] outBf16 = new short[got[0].length];
        Kernels.decodeAttention(s, c.q(), c.caches(c.k()), c.caches(c.v()), c.kvLen(), Data.bf16(outBf16), null);
        for (int i = 0; i < outBf16.length; i++)
          if (outBf16[i] != Bf16.fromFloat(got[0][i])) throw new AssertionError(what + ": bf16 out[" + i + "] is not rne(fp32 out)");

        if (first == null) first = got;
        assertArrayEquals(first[0], got[0], what + ": out differs from " + Kernels.supportedIsas().get(0));
        assertArrayEquals(first[1], got[1], what + ": lse differs from " + Kernels.supportedIsas().get(0));
      }
    }
  }

  @Test
  void aBatchGivesEachSequenceItsBitsAlone() {
    Case c = cases()[0]; // caches below the key-split threshold: no sequence is split, in or out of the batch
    float[][] all = c.run();
    Batch batch = Batch.ofLengths(c.qLen());
    long nq = batch.tokens();
    int qd = c.H() * c.d();
    float[] q = c.q().toFloats();
    for (int b = 0; b < c.kvLen().length; b++) {
      long s0 = batch.start(b), n = c.qLen()[b];
      Case one = new Case(c.H(), c.G(), c.d(), new long[] {c.kvLen()[b]}, new long[] {n},
          Data.roundBf16(rows(q, s0, n, qd)), new short[][] {c.k()[b]}, new short[][] {c.v()[b]});
      float[][] alone = one.run();
      assertArrayEquals(alone[0], rows(all[0], s0, n, qd), "out of sequence " + b);
      assertArrayEquals(alone[1], lseColumns(all[1], c.H(), nq, s0, n), "lse of sequence " + b);
    }
  }

  /**
   * Decode equals the last rows of the bf16 prefill of the whole sequence: the prefill is within
   * twice the bf16-P yardstick plus 1e-5 of float64 (Bf16KernelsTest), decode within 1e-5, so
   * they differ by at most twice the yardstick plus 2e-5; the LSE within 2e-5.
   */
  @Test
  void equalsTheLastRowsOfTheBf16Prefill() {
    int H = 8, G = 2, d = 72, n = 150, qn = 3;
    Random rnd = new Random(11);
    AttentionShape full = new AttentionShape(n, H, G, d);
    Data q = Data.roundBf16(Reference.gaussian(rnd, full.qLength()));
    Data k = Data.roundBf16(Reference.gaussian(rnd, full.kvLength()));
    Data v = Data.roundBf16(Reference.gaussian(rnd, full.kvLength()));
    float[] out = new float[Math.toIntExact(full.qLength())], lse = new float[Math.toIntExact(full.lseLength())];
    Kernels.attention(full, q, k, v, Data.of(out), Data.of(lse));
    Case c = new Case(H, G, d, new long[] {n}, new long[] {qn}, Data.roundBf16(rows(q.toFloats(), n - qn, qn, H * d)),
        new short[][] {k.toShorts()}, new short[][] {v.toShorts()});
    float[][] dec = c.run();
    double yardstick = Reference.relError(toFloats(reference(c, true)[0]), reference(c, false)[0]);
    float[] want = rows(out, n - qn, qn, H * d);
    double e = Reference.relError(dec[0], BatchKernelsTest.toDouble(want));
    assertTrue(e <= 2 * yardstick + 2 * FP32_BOUND, "decode vs prefill " + e + ", yardstick " + yardstick);
    assertTrue(e > 0, "the prefill rounds P to bf16, decode does not: they cannot agree to the bit");
    double el = Reference.lseError(dec[1], BatchKernelsTest.toDouble(lseColumns(lse, H, n, n - qn, qn)));
    assertTrue(el <= 2 * FP32_BOUND, "lse " + el);
  }

  /** Caches read in place from native memory at an offset give the array result. */
  @Test
  void zeroCopyCachesGiveTheArrayResult() {
    Case c = cases()[1];
    float[][] want = c.run();
    int B = c.kvLen().length, off = 5;
    Data[] kd = new Data[B], vd = new Data[B];
    for (int b = 0; b < B; b++) {
      ShortPointer kp = new ShortPointer(off + c.k()[b].length), vp = new ShortPointer(off + c.v()[b].length);
      kp.position(off).put(c.k()[b]);
      vp.position(off).put(c.v()[b]);
      kd[b] = Data.bf16(kp, c.k()[b].length);
      vd[b] = Data.bf16(vp, c.v()[b].length);
    }
    float[] out = new float[want[0].length];
    Kernels.decodeAttention(c.shape(), (Data) c.q(), kd, vd, c.kvLen(), Data.of(out), null);
    assertArrayEquals(want[0], out);
  }

  @Test
  void refusesBadArgumentsNamingThem() {
    BatchShape dec = new BatchShape(Batch.ofLengths(1, 2), 2, 1, 8);
    Data q = Data.bf16(new short[3 * 2 * 8]);
    Data[] caches = {Data.bf16(new short[8 * 4]), Data.bf16(new short[8 * 4])};
    Data out = Data.of(new float[3 * 2 * 8]);
    assertMessage(() -> Kernels.decodeAttention(dec, q, caches, caches, new long[] {4, 1}, out, null), "kvLengths[1]");
    assertMessage(() -> Kernels.decodeAttention(dec, q, caches, caches, new long[] {5, 4}, out, null),
        "kCaches[0]: expected at least 40 bfloat16 values");
    assertMessage(() -> Kernels.decodeAttention(dec, q, new Data[] {caches[0]}, caches, new long[] {4, 4}, out, null),
        "kCaches: expected one entry per sequence (2)");
    assertMessage(() -> Kernels.decodeAttention(dec, Data.bf16(new short[5]), caches, caches, new long[] {4, 4}, out,
        null), "q: expected 48 bfloat16 values");
    assertMessage(() -> Kernels.decodeAttention(dec, q, caches, caches, new long[] {4, 4}, Data.of(new int[48]), null),
        "out: expected float32 or bfloat16");
    assertMessage(() -> Kernels.decodeAttention(dec, q, caches, caches, new long[] {4, 4}, out,
        Data.of(new float[5])), "lse: expected 6");
    Data[] mixed = {caches[0], Data.of(new float[8 * 4])};
    assertMessage(() -> Kernels.decodeAttention(dec, q, caches, mixed, new long[] {4, 4}, out, null),
        "vCaches[1]: expected bfloat16 like q, got float32");
    assertMessage(() -> Kernels.decodeAttention(dec, (Data) Data.of(new float[48]), caches, caches,
        new long[] {4, 4}, out, null), "kCaches[0]: expected float32 like q, got bfloat16");
    assertMessage(() -> Kernels.decodeAttention(dec, (Data) Data.of(new float[48]), mixed, mixed,
        new long[] {4, 4}, Data.bf16(new short[48]), null), "out: expected float32 for float32 inputs, got bfloat16");
  }

  /** The C API's own checks of the element types, behind the Java ones. */
  @Test
  void nativeChecksTheElementTypes() {
    Data x = Data.bf16(new short[64]);
    try (var a = HostData.access(x, true, true)) {
      long[] cache = {a.ptr.address(), a.ptr.address()};
      int bf16 = FitPruneNative.FP_DTYPE_BF16;
      int st = FitPruneNative.fp_cpu_decode_attention(a.untyped(), new long[] {0, 1}, 1, 1, 1, 8,
          FitPruneNative.FP_DTYPE_F16, 0.25f, cache, cache, new long[] {1}, a.untyped(), bf16, null);
      assertEquals(FitPruneNative.FP_ERR_UNAVAILABLE, st, FitPruneNative.fp_last_error());
      st = FitPruneNative.fp_cpu_decode_attention(a.untyped(), new long[] {0, 1}, 1, 1, 1, 8, FitPruneNative.FP_DTYPE_F32,
          0.25f, cache, cache, new long[] {1}, a.untyped(), bf16, null);
      assertEquals(FitPruneNative.FP_ERR_ARG, st);
      assertTrue(FitPruneNative.fp_last_error().contains("out_dtype"), FitPruneNative.fp_last_error());
      st = FitPruneNative.fp_cpu_decode_attention(a.untyped(), new long[] {0, 1}, 1, 1, 1, 8, bf16, 0.25f, cache, cache,
          new long[] {0}, a.untyped(), bf16, null);
      assertEquals(FitPruneNative.FP_ERR_ARG, st);
      assertTrue(FitPruneNative.fp_last_error().contains("kv_len"), FitPruneNative.fp_last_error());
    }
  }
}
