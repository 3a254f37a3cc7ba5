package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The K/V cache protocol on the CPU: paged decode attention gives the bits of contiguous decode
 * attention on the same data (fp32 and bf16, GQA, odd head dims, block sizes that do and do not
 * divide the key tile, shuffled blocks, one-row caches), on every ISA path; with any
 * softmax_scale it matches a float64 reference written here; appends land at the right rows and
 * slots; bad tables, slots, capacities and scales are refused before anything is read or written.
 */
class PagedKvTest {
  @AfterEach
  void restoreIsa() {
    Kernels.useIsa(null);
  }

  /** Contiguous caches [kv_b, G, d] of random values (bf16-representable when bf16), and q. */
  record Case(int H, int G, int d, long[] qLen, long[] kvLen, float[] q, float[][] k, float[][] v) {
    BatchShape shape(float scale) {
      return new BatchShape(Batch.ofLengths(qLen), H, G, d, scale);
    }
  }

  static Case data(long seed, int H, int G, int d, long[] qLen, long[] kvLen, boolean bf16) {
    Random rnd = new Random(seed);
    int B = qLen.length;
    float[][] k = new float[B][], v = new float[B][];
    for (int b = 0; b < B; b++) {
      k[b] = round(Reference.gaussian(rnd, kvLen[b] * G * d), bf16);
      v[b] = round(Reference.gaussian(rnd, kvLen[b] * G * d), bf16);
    }
    long nq = Arrays.stream(qLen).sum();
    return new Case(H, G, d, qLen, kvLen, round(Reference.gaussian(rnd, nq * H * d), bf16), k, v);
  }

  static float[] round(float[] x, boolean bf16) {
    return bf16 ? Data.roundBf16(x).toFloats() : x;
  }

  static Data wrap(float[] x, boolean bf16) {
    return bf16 ? Data.roundBf16(x) : Data.of(x);
  }

  /** The same caches in pools [numBlocks, bs, G, d]: each sequence's blocks shuffled among spare ones. */
  record Paged(float[] kPool, float[] vPool, int numBlocks, int[] table) {}

  static Paged page(Case c, int bs, long seed) {
    int B = c.qLen().length, row = c.G() * c.d();
    int maxBlocks = 0, used = 0;
    for (long kv : c.kvLen()) {
      maxBlocks = Math.max(maxBlocks, (int) ((kv + bs - 1) / bs));
      used += (int) ((kv + bs - 1) / bs);
    }
    int numBlocks = used + 3; // spare blocks, never referenced
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < numBlocks; i++) ids.add(i);
    Collections.shuffle(ids, new Random(seed));
    float[] kp = new float[numBlocks * bs * row], vp = new float[numBlocks * bs * row];
    Arrays.fill(kp, Float.NaN); // rows no table entry names are never read
    Arrays.fill(vp, Float.NaN);
    int[] table = new int[B * maxBlocks];
    Arrays.fill(table, -1); // entries past a sequence's blocks are never read either
    int next = 0;
    for (int b = 0; b < B; b++)
      for (long r = 0; r < c.kvLen()[b]; r++) {
        if (r % bs == 0) table[b * maxBlocks + (int) (r / bs)] = ids.get(next++);
        int slot = table[b * maxBlocks + (int) (r / bs)] * bs + (int) (r % bs);
        System.arraycopy(c.k()[b], (int) r * row, kp, slot * row, row);
        System.arraycopy(c.v()[b], (int) r * row, vp, slot * row, row);
      }
    return new Paged(kp, vp, numBlocks, table);
  }

  static float[][] contiguous(Case c, boolean bf16, float scale) {
    BatchShape s = c.shape(scale);
    int B = c.qLen().length;
    Data[] k = new Data[B], v = new Data[B];
    for (int b = 0; b < B; b++) {
      k[b] = wrap(c.k()[b], bf16);
      v[b] = wrap(c.v()[b], bf16);
    }
    float[] out = new float[(int) s.packed().qLength()], lse = new float[(int) s.packed().lseLength()];
    Kernels.decodeAttention(s, wrap(c.q(), bf16), k, v, c.kvLen(), Data.of(out), Data.of(lse));
    return new float[][] {out, lse};
  }

  static float[][] paged(Case c, Paged p, int bs, boolean bf16, float scale) {
    BatchShape s = c.shape(scale);
    float[] out = new float[(int) s.packed().qLength()], lse = new float[(int) s.packed().lseLength()];
    Kernels.pagedDecodeAttention(s, wrap(c.q(), bf16), wrap(p.kPool(), bf16), wrap(p.vPool(), bf16), bs, p.table(),
        c.kvLen(), Data.of(out), Data.of(lse));
    return new float[][] {out, lse};
  }

  /**
   * Float64 decode: new token t of sequence b sees cache rows [0, kv - qLen + t]; logits q.k * scale.
   * The caches' first kv rows, packed, are the keys of the cached-prefix reference.
   */
  static double[][] reference(Case c, double scale) {
    int row = c.G() * c.d(), B = c.qLen().length;
    long total = 0;
    for (long n : c.kvLen()) total += n;
    float[] k = new float[Math.toIntExact(total * row)], v = new float[k.length];
    for (int b = 0, at = 0; b < B; at += (int) c.kvLen()[b] * row, b++) {
      System.arraycopy(c.k()[b], 0, k, at, (int) c.kvLen()[b] * row);
      System.arraycopy(c.v()[b], 0, v, at, (int) c.kvLen()[b] * row);
    }
    return CachedPrefixTest.reference(c.q(), k, v, c.qLen(), c.kvLen(), c.H(), c.G(), c.d(), scale);
  }

  @Test
  void pagedGivesTheBitsOfContiguousOnEveryPath() {
    long[][][] cases = { // {qLen, kvLen}
        {{1}, {1}}, {{1, 1, 1}, {300, 1, 77}}, {{3, 1}, {129, 4}}, {{1, 2}, {700, 65}}, {{1}, {1000}}};
    int[][] heads = {{4, 4, 16}, {8, 2, 64}, {6, 3, 13}, {2, 1, 1}, {4, 2, 128}};
    int[] blockSizes = {1, 7, 16, 64, 100};
    int seed = 0;
    for (Isa isa : Kernels.supportedIsas()) {
      Kernels.useIsa(isa);
      for (long[][] qk : cases)
        for (int[] hg : heads)
          for (boolean bf16 : new boolean[] {false, true}) {
            int bs = blockSizes[seed % blockSizes.length];
            Case c = data(++seed, hg[0], hg[1], hg[2], qk[0], qk[1], bf16);
            Paged p = page(c, bs, seed);
            float scale = seed % 2 == 0 ? BatchShape.defaultScale(hg[2]) : 0.37f;
            float[][] want = contiguous(c, bf16, scale), got = paged(c, p, bs, bf16, scale);
            String what = isa + " " + Arrays.toString(hg) + " q" + Arrays.toString(qk[0]) + " kv" + Arrays.toString(qk[1])
                + " bs=" + bs + (bf16 ? " bf16" : " fp32");
            assertArrayEquals(want[0], got[0], what);
            assertArrayEquals(want[1], got[1], what);
          }
    }
  }

  @Test
  void softmaxScaleMatchesTheFloat64Reference() {
    for (float scale : new float[] {0.05f, 0.37f, 1.5f, BatchShape.defaultScale(24)}) {
      Case c = data(7, 6, 2, 24, new long[] {1, 2, 1}, new long[] {90, 5, 1}, false);
      Paged p = page(c, 5, 9);
      double[][] ref = reference(c, scale);
      float[][] got = paged(c, p, 5, false, scale);
      assertTrue(Reference.relError(got[0], ref[0]) < 1e-5, "out, scale " + scale + ": " + Reference.relError(got[0], ref[0]));
      assertTrue(Reference.lseError(got[1], ref[1]) < 1e-5, "lse, scale " + scale + ": " + Reference.lseError(got[1], ref[1]));
    }
  }

  @Test
  void theDefaultScaleKeepsTodaysBits() {
    Case c = data(3, 8, 2, 64, new long[] {1, 1}, new long[] {200, 33}, false);
    BatchShape plain = new BatchShape(Batch.ofLengths(c.qLen()), 8, 2, 64);
    assertEquals(0.125f, plain.softmaxScale());
    float[] out = new float[(int) plain.packed().qLength()];
    Kernels.AttentionOutput f32 = Kernels.decodeAttention(plain, c.q(), c.k(), c.v(), c.kvLen());
    try (var q = new org.bytedeco.javacpp.FloatPointer(c.q()); var o = new org.bytedeco.javacpp.FloatPointer(out.length)) {
      long[] kp = new long[2], vp = new long[2];
      var keep = new ArrayList<org.bytedeco.javacpp.FloatPointer>();
      for (int b = 0; b < 2; b++) {
        var kb = new org.bytedeco.javacpp.FloatPointer(c.k()[b]);
        var vb = new org.bytedeco.javacpp.FloatPointer(c.v()[b]);
        keep.add(kb);
        keep.add(vb);
        kp[b] = kb.address();
        vp[b] = vb.address();
      }
      Kernels.check(FitPruneNative.fp_cpu_decode_attention_f32(q, plain.batch().raw(), 2, 8, 2, 64, kp, vp, c.kvLen(), o, null));
      o.get(out);
      keep.forEach(org.bytedeco.javacpp.Pointer::close);
    }
    assertArrayEquals(out, f32.out(), "the default-scale entry and 1/sqrt(d) give the same bits");
  }

  @Test
  void appendWritesTheRowsAtTheLengthAndNothingElse() {
    int G = 2, d = 5, row = G * d;
    Random rnd = new Random(11);
    float[] k0 = Reference.gaussian(rnd, 6L * row), k1 = Reference.gaussian(rnd, 3L * row);
    float[] kNew = Reference.gaussian(rnd, 3L * row), vNew = Reference.gaussian(rnd, 3L * row);
    float[] v0 = k0.clone(), v1 = k1.clone();
    BatchShape step = new BatchShape(Batch.ofLengths(2, 1), 4, G, d);
    long[] kvLen = {4, 2};
    float[] wantK0 = k0.clone(), wantK1 = k1.clone();
    System.arraycopy(kNew, 0, wantK0, 4 * row, 2 * row);
    System.arraycopy(kNew, 2 * row, wantK1, 2 * row, row);
    Kernels.appendKv(step, Data.of(kNew), Data.of(vNew), new Data[] {Data.of(k0), Data.of(k1)},
        new Data[] {Data.of(v0), Data.of(v1)}, kvLen);
    assertArrayEquals(wantK0, k0);
    assertArrayEquals(wantK1, k1);
    assertArrayEquals(Arrays.copyOfRange(vNew, 2 * row, 3 * row), Arrays.copyOfRange(v1, 2 * row, 3 * row));
    assertArrayEquals(new long[] {4, 2}, kvLen, "the caller owns the lengths");

    float[] before = k1.clone();
    var e = assertThrows(IllegalArgumentException.class, () -> Kernels.appendKv(step, Data.of(kNew),
        Data.of(vNew), new Data[] {Data.of(k0), Data.of(k1)},
        new Data[] {Data.of(v0), Data.of(v1)}, new long[] {4, 3}));
    assertTrue(e.getMessage().contains("kvLengths[1]") && e.getMessage().contains("cap = 3"), e.getMessage());
    assertArrayEquals(before, k1, "nothing written");
  }

  @Test
  void pagedAppendFollowsTheSlotMappingAndDecodeReadsIt() {
    int H = 4, G = 2, d = 7, bs = 3;
    for (boolean bf16 : new boolean[] {false, true}) {
      try (PagedKvCache cache = PagedKvCache.allocate(bf16 ? ElementType.BF16 : ElementType.FP32, 10, bs, G, d)) {
        int a = cache.addSequence(), b = cache.addSequence();
        Random rnd = new Random(5);
        // prefill of 5 and 2 rows, then one decode step each: the caches must equal contiguous ones
        float[][] kAll = {round(Reference.gaussian(rnd, 6L * G * d), bf16), round(Reference.gaussian(rnd, 3L * G * d), bf16)};
        float[][] vAll = {round(Reference.gaussian(rnd, 6L * G * d), bf16), round(Reference.gaussian(rnd, 3L * G * d), bf16)};
        int[] seqs = {a, b};
        long[][] steps = {{5, 2}, {1, 1}};
        long[] done = {0, 0};
        for (long[] rows : steps)
          for (int s = 0; s < 2; s++) {
            long[] slots = cache.reserve(seqs[s], (int) rows[s]);
            int from = (int) done[s] * G * d, to = (int) (done[s] + rows[s]) * G * d;
            Kernels.appendKv(wrap(Arrays.copyOfRange(kAll[s], from, to), bf16), wrap(Arrays.copyOfRange(vAll[s], from, to), bf16),
                cache, slots);
            done[s] += rows[s];
          }
        assertArrayEquals(new long[] {6, 3}, cache.lengths(seqs));
        assertEquals(10 - 2 - 1, cache.freeBlocks());
        Case c = new Case(H, G, d, new long[] {1, 1}, new long[] {6, 3},
            round(Reference.gaussian(rnd, 2L * H * d), bf16), kAll, vAll);
        BatchShape shape = c.shape(BatchShape.defaultScale(d));
        float[] out = new float[2 * H * d], lse = new float[2 * H];
        Kernels.pagedDecodeAttention(shape, wrap(c.q(), bf16), cache, seqs, Data.of(out), Data.of(lse));
        float[][] want = contiguous(c, bf16, BatchShape.defaultScale(d));
        assertArrayEquals(want[0], out);
        assertArrayEquals(want[1], lse);
        cache.free(a);
        assertEquals(10 - 1, cache.freeBlocks());
        assertEquals(0, cache.length(a));
      }
    }
  }

  @Test
  void paddingSlotsAreSkippedAndBadSlotsRefused() {
    int G = 1, d = 4;
    float[] kp = new float[2 * 2 * d], vp = new float[2 * 2 * d];
    PagedKvCache cache = PagedKvCache.over(Data.of(kp), Data.of(vp), 2, 2, G, d);
    float[] k = {1, 2, 3, 4, 5, 6, 7, 8}, v = {9, 10, 11, 12, 13, 14, 15, 16};
    Kernels.appendKv(Data.of(k), Data.of(v), cache, new long[] {3, -1});
    assertArrayEquals(new float[] {1, 2, 3, 4}, Arrays.copyOfRange(kp, 12, 16));
    assertEquals(4 * 4 - 4, Arrays.stream(toDoubles(kp)).filter(x -> x == 0).count(), "only slot 3 written");
    var e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.appendKv(Data.of(k), Data.of(v), cache, new long[] {0, 4}));
    assertTrue(e.getMessage().contains("slots[1] = 4"), e.getMessage());
    // the native check, reached through the binding with the Java checks bypassed
    try (var kk = new org.bytedeco.javacpp.FloatPointer(k); var pool = new org.bytedeco.javacpp.FloatPointer(16)) {
      int st = FitPruneNative.fp_cpu_kv_append_paged(kk, kk, 2, G, d, FitPruneNative.FP_DTYPE_F32, pool, pool, 2, 2,
          new long[] {0, 4});
      assertEquals(FitPruneNative.FP_ERR_INDEX, st);
      assertTrue(FitPruneNative.fp_last_error().contains("slot_mapping[1] = 4"), FitPruneNative.fp_last_error());
    }
  }

  static double[] toDoubles(float[] x) {
    double[] out = new double[x.length];
    for (int i = 0; i < x.length; i++) out[i] = x[i];
    return out;
  }

  @Test
  void blockIdsOutOfRangeAreRefusedNamingSequenceAndPosition() {
    Case c = data(1, 2, 1, 8, new long[] {1, 1}, new long[] {5, 4}, false);
    Paged p = page(c, 2, 1);
    int[] bad = p.table().clone();
    int maxBlocks = bad.length / 2;
    bad[maxBlocks + 1] = p.numBlocks(); // sequence 1, position 1
    var e = assertThrows(IllegalArgumentException.class, () -> Kernels.pagedDecodeAttention(c.shape(0.3f),
        Data.of(c.q()), Data.of(p.kPool()), Data.of(p.vPool()), 2, bad, c.kvLen(),
        Data.of(new float[2 * 2 * 8]), null));
    assertTrue(e.getMessage().contains("blockTable[1][1]"), e.getMessage());
    try (var q = new org.bytedeco.javacpp.FloatPointer(c.q()); var kp = new org.bytedeco.javacpp.FloatPointer(p.kPool());
        var out = new org.bytedeco.javacpp.FloatPointer(32)) {
      for (int id : new int[] {p.numBlocks(), -1, Integer.MAX_VALUE}) {
        bad[maxBlocks + 1] = id;
        int st = FitPruneNative.fp_cpu_paged_decode_attention(q, new long[] {0, 1, 2}, 2, 2, 1, 8,
            FitPruneNative.FP_DTYPE_F32, 0.3f, kp, kp, p.numBlocks(), 2, bad, maxBlocks, c.kvLen(), out,
            FitPruneNative.FP_DTYPE_F32, null);
        assertEquals(FitPruneNative.FP_ERR_INDEX, st);
        assertTrue(FitPruneNative.fp_last_error().contains("block_table[1][1]"), FitPruneNative.fp_last_error());
      }
      int st = FitPruneNative.fp_cpu_paged_decode_attention(q, new long[] {0, 1, 2}, 2, 2, 1, 8,
          FitPruneNative.FP_DTYPE_F32, Float.NaN, kp, kp, p.numBlocks(), 2, p.table(), maxBlocks, c.kvLen(), out,
          FitPruneNative.FP_DTYPE_F32, null);
      assertEquals(FitPruneNative.FP_ERR_ARG, st);
      assertTrue(FitPruneNative.fp_last_error().contains("softmax_scale"), FitPruneNative.fp_last_error());
      st = FitPruneNative.fp_cpu_paged_decode_attention(q, new long[] {0, 1, 2}, 2, 2, 1, 8,
          FitPruneNative.FP_DTYPE_F32, 0.3f, kp, kp, p.numBlocks(), 2, p.table(), 1, c.kvLen(), out,
          FitPruneNative.FP_DTYPE_F32, null);
      assertEquals(FitPruneNative.FP_ERR_ARG, st, "a table too narrow for kv_len");
    }
    for (float s : new float[] {0f, -1f, Float.NaN, Float.POSITIVE_INFINITY}) {
      var se = assertThrows(IllegalArgumentException.class, () -> c.shape(s));
      assertTrue(se.getMessage().contains("softmaxScale"), se.getMessage());
    }
  }

  @Test
  void emptyAppendsWriteNothing() {
    int G = 1, d = 8;
    float[] k0 = new float[2 * d], k1 = new float[2 * d];
    float[] x = Reference.gaussian(new Random(2), d);
    BatchShape step = new BatchShape(Batch.ofLengths(0, 1), 2, G, d); // sequence 0 appends nothing
    Kernels.appendKv(step, Data.of(x), Data.of(x), new Data[] {Data.of(k0), Data.of(k1)},
        new Data[] {Data.of(k0), Data.of(k1)}, new long[] {2, 1});
    assertArrayEquals(new float[2 * d], k0);
    assertArrayEquals(x, Arrays.copyOfRange(k1, d, 2 * d));
    try (PagedKvCache cache = PagedKvCache.allocate(ElementType.FP32, 1, 4, G, d)) {
      Kernels.appendKv(Data.of(new float[0]), Data.of(new float[0]), cache, cache.reserve(cache.addSequence(), 0));
      assertEquals(1, cache.freeBlocks());
      var e = assertThrows(IllegalStateException.class, () -> cache.reserve(0, 5));
      assertTrue(e.getMessage().contains("2 more blocks"), e.getMessage());
      assertEquals(0, cache.length(0), "nothing reserved");
    }
  }
}
