package io.fitprune.kernels;

import static io.fitprune.kernels.Kernels.check;
import static io.fitprune.kernels.Kernels.require;

import io.fitprune.kernels.Kernels.AttentionOutput;
import io.fitprune.kernels.Kernels.Scores;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The packed-batch entry points behind {@link Kernels}: attention and the score pass over
 * sequences packed back to back (cumulative lengths), per-sequence selection, and decode attention
 * over per-sequence K/V caches. Every argument is checked here, before the native call.
 */
final class PackedBatches {
  private PackedBatches() {}

  /** The packed attention on q, k, v of element type {@code dtype}; out of the type the caller checked. */
  static void attention(BatchShape shape, NativeData<?> q, NativeData<?> k, NativeData<?> v,
      NativeData<?> out, FloatData lse, int dtype) {
    requireAttention(shape, q, k, v, out, lse);
    int outType = out instanceof Bf16Data ? FitPruneNative.FP_DTYPE_BF16 : FitPruneNative.FP_DTYPE_F32;
    long[] cu = shape.batch().raw();
    try (var qa = q.open(true, false); var ka = k.open(true, false); var va = v.open(true, false);
        var oa = out.open(false, true); var la = lse.open(false, true)) {
      check(FitPruneNative.fp_cpu_attention_varlen(qa.ptr, ka.ptr, va.ptr, cu, cu.length - 1, shape.heads(),
          shape.kvHeads(), shape.headDim(), dtype, oa.ptr, outType, la.ptr));
    }
  }

  static AttentionOutput attention(BatchShape shape, float[] q, float[] k, float[] v) {
    Objects.requireNonNull(shape, "shape");
    AttentionShape all = shape.packed();
    float[] out = new float[Lengths.arrayLength("out", all.qLength(), Float.BYTES)];
    float[] lse = new float[Lengths.arrayLength("lse", all.lseLength(), Float.BYTES)];
    attention(shape, FloatData.of(require(q, "q")), FloatData.of(require(k, "k")), FloatData.of(require(v, "v")),
        FloatData.of(out), FloatData.of(lse), FitPruneNative.FP_DTYPE_F32);
    return new AttentionOutput(out, lse);
  }

  /** The packed score pass on q and k of element type {@code dtype}. */
  static void scores(BatchShape shape, Spans[] spans, NativeData<?> q, NativeData<?> k, FloatData lse,
      FloatData self, FloatData cross, int dtype) {
    Objects.requireNonNull(shape, "shape");
    long[] flat = flatSpans(shape.batch(), spans);
    long visual = totalVisual(flat);
    AttentionShape all = shape.packed();
    require(q, "q").requireShape("q", "[N,H,d]", all.qDims());
    require(k, "k").requireShape("k", "[N,G,d]", all.kvDims());
    require(lse, "lse").requireShape("lse", "[H,N]", all.lseDims());
    requireScoreArrays(visual, self, cross);
    long[] cu = shape.batch().raw();
    try (var qa = q.open(true, false); var ka = k.open(true, false); var la = lse.open(true, false);
        var sa = self.open(false, true); var ca = cross.open(false, true)) {
      check(FitPruneNative.fp_cpu_scores_varlen(qa.ptr, ka.ptr, la.ptr, cu, cu.length - 1, shape.heads(),
          shape.kvHeads(), shape.headDim(), dtype, flat, sa.ptr, ca.ptr));
    }
  }

  static Scores scores(BatchShape shape, Spans[] spans, float[] q, float[] k, float[] lse) {
    Objects.requireNonNull(shape, "shape");
    int visual = Lengths.arrayLength("self", totalVisual(flatSpans(shape.batch(), spans)), Float.BYTES);
    float[] self = new float[visual], cross = new float[visual];
    scores(shape, spans, FloatData.of(require(q, "q")), FloatData.of(require(k, "k")), FloatData.of(require(lse, "lse")),
        FloatData.of(self), FloatData.of(cross), FitPruneNative.FP_DTYPE_F32);
    return new Scores(self, cross);
  }

  /** The packed attention and score pass in one call, with the checks of both. */
  static void attentionScores(BatchShape shape, Spans[] spans, NativeData<?> q, NativeData<?> k, NativeData<?> v,
      NativeData<?> out, FloatData lse, FloatData self, FloatData cross, int dtype) {
    Objects.requireNonNull(shape, "shape");
    long[] flat = flatSpans(shape.batch(), spans);
    requireAttention(shape, q, k, v, out, lse);
    requireScoreArrays(totalVisual(flat), self, cross);
    int outType = out instanceof Bf16Data ? FitPruneNative.FP_DTYPE_BF16 : FitPruneNative.FP_DTYPE_F32;
    long[] cu = shape.batch().raw();
    try (var qa = q.open(true, false); var ka = k.open(true, false); var va = v.open(true, false);
        var oa = out.open(false, true); var la = lse.open(false, true); var sa = self.open(false, true);
        var ca = cross.open(false, true)) {
      check(FitPruneNative.fp_cpu_attention_scores_varlen(qa.ptr, ka.ptr, va.ptr, cu, cu.length - 1, shape.heads(),
          shape.kvHeads(), shape.headDim(), dtype, oa.ptr, outType, la.ptr, flat, sa.ptr, ca.ptr));
    }
  }

  /** q, k, v, out and lse of a packed attention call. */
  private static void requireAttention(BatchShape shape, NativeData<?> q, NativeData<?> k, NativeData<?> v,
      NativeData<?> out, FloatData lse) {
    Objects.requireNonNull(shape, "shape");
    AttentionShape all = shape.packed();
    require(q, "q").requireShape("q", "[N,H,d]", all.qDims());
    require(k, "k").requireShape("k", "[N,G,d]", all.kvDims());
    require(v, "v").requireShape("v", "[N,G,d]", all.kvDims());
    require(out, "out").requireShape("out", "[N,H,d]", all.qDims());
    require(lse, "lse").requireShape("lse", "[H,N]", all.lseDims());
  }

  /** self and cross of the packed scores: the sequences' visual tokens concatenated. */
  private static void requireScoreArrays(long visual, FloatData self, FloatData cross) {
    require(self, "self").requireShape("self", "[sum V_b]", visual);
    require(cross, "cross").requireShape("cross", "[sum V_b]", visual);
  }

  static void selectKeep(Batch batch, Spans[] spans, FloatData self, FloatData cross, long[] drop, IntData keep) {
    Objects.requireNonNull(batch, "batch");
    long[] flat = flatSpans(batch, spans);
    long dropped = totalDrop(batch, flat, drop);
    requireScoreArrays(totalVisual(flat), self, cross);
    require(keep, "keep").requireShape("keep", "[N - sum k_b]", batch.tokens() - dropped);
    long[] cu = batch.raw();
    try (var sa = self.open(true, false); var ca = cross.open(true, false); var ka = keep.open(false, true)) {
      check(FitPruneNative.fp_select_keep_varlen(sa.ptr, ca.ptr, cu, cu.length - 1, flat, drop, ka.ptr));
    }
  }

  static int[] selectKeep(Batch batch, Spans[] spans, float[] self, float[] cross, long[] drop) {
    Objects.requireNonNull(batch, "batch");
    long dropped = totalDrop(batch, flatSpans(batch, spans), drop);
    int[] keep = new int[Lengths.arrayLength("keep", batch.tokens() - dropped, Integer.BYTES)];
    selectKeep(batch, spans, FloatData.of(require(self, "self")), FloatData.of(require(cross, "cross")), drop,
        IntData.of(keep));
    return keep;
  }

  /**
   * Decode attention on q and caches of one element type (float32 or bfloat16, checked here); out
   * float32 or q's type.
   */
  static void decodeAttention(BatchShape shape, NativeData<?> q, NativeData<?>[] kCaches, NativeData<?>[] vCaches,
      long[] kvLengths, NativeData<?> out, FloatData lse) {
    Objects.requireNonNull(shape, "shape");
    Batch batch = shape.batch();
    int B = batch.size();
    AttentionShape all = shape.packed();
    int dtype = Kernels.inputType(require(q, "q"), "q");
    int outType = Kernels.outputType(dtype, out);
    q.requireShape("q", "[Nq,H,d]", all.qDims());
    out.requireShape("out", "[Nq,H,d]", all.qDims());
    out.requireWritable("out");
    if (lse != null) {
      lse.requireShape("lse", "[H,Nq]", all.lseDims());
      lse.requireWritable("lse");
    }
    requireLength(require(kCaches, "kCaches").length, B, "kCaches");
    requireLength(require(vCaches, "vCaches").length, B, "vCaches");
    requireLength(require(kvLengths, "kvLengths").length, B, "kvLengths");
    long row = (long) shape.kvHeads() * shape.headDim();
    for (int b = 0; b < B; b++) {
      if (batch.length(b) < 1)
        throw new IllegalArgumentException("shape: sequence " + b + " has no new token (each needs q_len >= 1)");
      if (kvLengths[b] < batch.length(b) || kvLengths[b] > Integer.MAX_VALUE)
        throw new IllegalArgumentException("kvLengths[" + b + "] must be in [q_len=" + batch.length(b)
            + ", 2^31) (the cache holds the new tokens' K/V), got " + kvLengths[b]);
      String need = "[cap,G,d] with cap >= kvLengths[" + b + "] = " + kvLengths[b];
      for (int kv = 0; kv < 2; kv++) {
        NativeData<?> cache = kv == 0 ? kCaches[b] : vCaches[b];
        String name = (kv == 0 ? "kCaches[" : "vCaches[") + b + "]";
        if (Kernels.inputType(require(cache, name), name) != dtype)
          throw new IllegalArgumentException(name + ": expected " + q.elementName() + " like q, got " + cache.elementName());
        cache.requireAtLeast(name, kvLengths[b] * row, need);
      }
    }
    List<NativeData.Access<?>> opened = new ArrayList<>();
    try (var qa = q.open(true, false); var oa = out.open(false, true); var la = lse == null ? null : lse.open(false, true)) {
      long[] kp = new long[B], vp = new long[B];
      for (int b = 0; b < B; b++) {
        kp[b] = address(opened, kCaches[b]);
        vp[b] = address(opened, vCaches[b]);
      }
      check(FitPruneNative.fp_cpu_decode_attention(qa.untyped(), batch.raw(), B, shape.heads(), shape.kvHeads(),
          shape.headDim(), dtype, shape.softmaxScale(), kp, vp, kvLengths, oa.untyped(), outType, la == null ? null : la.untyped()));
    } finally {
      for (NativeData.Access<?> a : opened) a.close();
    }
  }

  static AttentionOutput decodeAttention(BatchShape shape, float[] q, float[][] kCaches, float[][] vCaches,
      long[] kvLengths) {
    Objects.requireNonNull(shape, "shape");
    int B = shape.batch().size();
    requireLength(require(kCaches, "kCaches").length, B, "kCaches");
    requireLength(require(vCaches, "vCaches").length, B, "vCaches");
    FloatData[] kd = new FloatData[B], vd = new FloatData[B];
    for (int b = 0; b < B; b++) {
      kd[b] = FloatData.of(require(kCaches[b], "kCaches[" + b + "]"));
      vd[b] = FloatData.of(require(vCaches[b], "vCaches[" + b + "]"));
    }
    AttentionShape all = shape.packed();
    float[] out = new float[Lengths.arrayLength("out", all.qLength(), Float.BYTES)];
    float[] lse = new float[Lengths.arrayLength("lse", all.lseLength(), Float.BYTES)];
    decodeAttention(shape, FloatData.of(require(q, "q")), kd, vd, kvLengths, FloatData.of(out), FloatData.of(lse));
    return new AttentionOutput(out, lse);
  }

  /** The native address of data opened for reading; the access is closed by the caller. */
  private static long address(List<NativeData.Access<?>> opened, NativeData<?> data) {
    NativeData.Access<?> a = data.open(true, false);
    opened.add(a);
    return a.address();
  }

  private static void requireLength(int got, int expected, String name) {
    if (got != expected)
      throw new IllegalArgumentException(name + ": expected one entry per sequence (" + expected + "), got " + got);
  }

  /** spans as [B,2] (prefix, visual), each checked against its sequence's length. */
  static long[] flatSpans(Batch batch, Spans[] spans) {
    requireLength(require(spans, "spans").length, batch.size(), "spans");
    long[] flat = new long[2 * spans.length];
    for (int b = 0; b < spans.length; b++) {
      Spans s = require(spans[b], "spans[" + b + "]");
      long n = batch.length(b);
      if (s.prefix() > n || s.visual() > n - s.prefix())
        throw new IllegalArgumentException("spans[" + b + "]: prefix + visual (P=" + s.prefix() + ", V=" + s.visual()
            + ") must be <= the sequence's length (" + n + ")");
      flat[2 * b] = s.prefix();
      flat[2 * b + 1] = s.visual();
    }
    return flat;
  }

  /** The sum of the visual spans of {@link #flatSpans}. */
  static long totalVisual(long[] flat) {
    long v = 0;
    for (int b = 1; b < flat.length; b += 2) v += flat[b];
    return v;
  }

  private static long totalDrop(Batch batch, long[] flat, long[] drop) {
    requireLength(require(drop, "drop").length, batch.size(), "drop");
    long total = 0;
    for (int b = 0; b < drop.length; b++) {
      if (drop[b] < 0 || drop[b] > flat[2 * b + 1])
        throw new IllegalArgumentException("drop[" + b + "] (k) must be in [0, V=" + flat[2 * b + 1] + "], got " + drop[b]);
      total += drop[b];
    }
    return total;
  }
}
