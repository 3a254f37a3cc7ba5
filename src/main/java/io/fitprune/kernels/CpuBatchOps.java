package io.fitprune.kernels;

import static io.fitprune.kernels.HostData.access;
import static io.fitprune.kernels.Kernels.check;
import static io.fitprune.kernels.Kernels.require;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The packed-batch calls of {@link Kernels} on host memory: attention and the score pass over
 * sequences packed back to back (cumulative lengths), per-sequence selection, and decode attention
 * over per-sequence K/V caches. Every argument is checked here, before the native call.
 */
final class CpuBatchOps {
  private CpuBatchOps() {}

  /** The packed attention on q, k, v of element type {@code dtype}; out of the type the caller checked. */
  static void attention(BatchShape shape, Data q, Data k, Data v,
      Data out, Data lse, ElementType dtype) {
    requireAttention(shape, q, k, v, out, lse);
    int outType = out.type().code;
    long[] cu = shape.batch().raw();
    try (var qa = access(q, true, false); var ka = access(k, true, false); var va = access(v, true, false);
        var oa = access(out, false, true); var la = access(lse, false, true)) {
      check(FitPruneNative.fp_cpu_attention_varlen(qa.untyped(), ka.untyped(), va.untyped(), cu, cu.length - 1, shape.heads(),
          shape.kvHeads(), shape.headDim(), dtype.code, shape.softmaxScale(), oa.untyped(), outType, la.untyped()));
    }
  }

  /** The packed score pass on q and k, both float32 or both bfloat16. */
  static void scores(BatchShape shape, Spans[] spans, Data q, Data k, Data lse, Data self, Data cross) {
    Objects.requireNonNull(shape, "shape");
    long[] flat = flatSpans(shape.batch(), spans);
    ElementType dtype = CpuOps.inputType(require(q, "q"), "q");
    if (CpuOps.inputType(require(k, "k"), "k") != dtype)
      throw new IllegalArgumentException("k: expected " + q.elementName() + " like q");
    long visual = totalVisual(flat);
    AttentionShape all = shape.packed();
    require(q, "q").requireShape("q", "[N,H,d]", all.qDims());
    require(k, "k").requireShape("k", "[N,G,d]", all.kvDims());
    CpuOps.requireFp32(lse, "lse").requireShape("lse", "[H,N]", all.lseDims());
    requireScoreArrays(visual, self, cross);
    long[] cu = shape.batch().raw();
    try (var qa = access(q, true, false); var ka = access(k, true, false); var la = access(lse, true, false);
        var sa = access(self, false, true); var ca = access(cross, false, true)) {
      check(FitPruneNative.fp_cpu_scores_varlen(qa.untyped(), ka.untyped(), la.untyped(), cu, cu.length - 1, shape.heads(),
          shape.kvHeads(), shape.headDim(), dtype.code, shape.softmaxScale(), flat, sa.untyped(), ca.untyped()));
    }
  }

  /** The packed attention and score pass in one call, with the checks of both. */
  static void attentionScores(BatchShape shape, Spans[] spans, Data q, Data k, Data v,
      Data out, Data lse, Data self, Data cross, ElementType dtype) {
    Objects.requireNonNull(shape, "shape");
    long[] flat = flatSpans(shape.batch(), spans);
    requireAttention(shape, q, k, v, out, lse);
    requireScoreArrays(totalVisual(flat), self, cross);
    int outType = out.type().code;
    long[] cu = shape.batch().raw();
    try (var qa = access(q, true, false); var ka = access(k, true, false); var va = access(v, true, false);
        var oa = access(out, false, true); var la = access(lse, false, true); var sa = access(self, false, true);
        var ca = access(cross, false, true)) {
      check(FitPruneNative.fp_cpu_attention_scores_varlen(qa.untyped(), ka.untyped(), va.untyped(), cu, cu.length - 1, shape.heads(),
          shape.kvHeads(), shape.headDim(), dtype.code, shape.softmaxScale(), oa.untyped(), outType, la.untyped(), flat,
          sa.untyped(), ca.untyped()));
    }
  }

  /** q, k, v, out and lse of a packed attention call. */
  private static void requireAttention(BatchShape shape, Data q, Data k, Data v,
      Data out, Data lse) {
    Objects.requireNonNull(shape, "shape");
    AttentionShape all = shape.packed();
    require(q, "q").requireShape("q", "[N,H,d]", all.qDims());
    require(k, "k").requireShape("k", "[N,G,d]", all.kvDims());
    require(v, "v").requireShape("v", "[N,G,d]", all.kvDims());
    require(out, "out").requireShape("out", "[N,H,d]", all.qDims());
    CpuOps.requireFp32(lse, "lse").requireShape("lse", "[H,N]", all.lseDims());
  }

  /** self and cross of the packed scores: the sequences' visual tokens concatenated. */
  private static void requireScoreArrays(long visual, Data self, Data cross) {
    CpuOps.requireFp32(self, "self").requireShape("self", "[sum V_b]", visual);
    CpuOps.requireFp32(cross, "cross").requireShape("cross", "[sum V_b]", visual);
  }

  static void selectKeep(Batch batch, Spans[] spans, Data self, Data cross, long[] drop, Data keep) {
    Objects.requireNonNull(batch, "batch");
    long[] flat = flatSpans(batch, spans);
    long dropped = totalDrop(batch, flat, drop);
    requireScoreArrays(totalVisual(flat), self, cross);
    require(keep, "keep").requireType("keep", ElementType.INT32).requireShape("keep", "[N - sum k_b]", batch.tokens() - dropped);
    long[] cu = batch.raw();
    try (var sa = access(self, true, false); var ca = access(cross, true, false); var ka = access(keep, false, true)) {
      check(FitPruneNative.fp_select_keep_varlen(sa.floats(), ca.floats(), cu, cu.length - 1, flat, drop, ka.ints()));
    }
  }

  /**
   * Decode attention on q and caches of one element type (float32 or bfloat16, checked here); out
   * float32 or q's type.
   */
  static void decodeAttention(BatchShape shape, Data q, Data[] kCaches, Data[] vCaches,
      long[] kvLengths, Data out, Data lse) {
    Objects.requireNonNull(shape, "shape");
    Batch batch = shape.batch();
    int B = batch.size();
    AttentionShape all = shape.packed();
    ElementType dtype = decodeQuery(all, q, out, lse);
    int outType = CpuOps.outputType(dtype, out).code;
    requireLength(require(kCaches, "kCaches").length, B, "kCaches");
    requireLength(require(vCaches, "vCaches").length, B, "vCaches");
    requireLength(require(kvLengths, "kvLengths").length, B, "kvLengths");
    long row = (long) shape.kvHeads() * shape.headDim();
    for (int b = 0; b < B; b++) {
      requireDecodeLength(batch, kvLengths, b);
      String need = "[cap,G,d] with cap >= kvLengths[" + b + "] = " + kvLengths[b];
      for (int kv = 0; kv < 2; kv++) {
        Data cache = kv == 0 ? kCaches[b] : vCaches[b];
        String name = (kv == 0 ? "kCaches[" : "vCaches[") + b + "]";
        if (CpuOps.inputType(require(cache, name), name) != dtype)
          throw new IllegalArgumentException(name + ": expected " + q.elementName() + " like q, got " + cache.elementName());
        cache.requireAtLeast(name, kvLengths[b] * row, need);
      }
    }
    List<HostData.Access> opened = new ArrayList<>();
    try (var qa = access(q, true, false); var oa = access(out, false, true); var la = lse == null ? null : access(lse, false, true)) {
      long[] kp = new long[B], vp = new long[B];
      for (int b = 0; b < B; b++) {
        kp[b] = address(opened, kCaches[b]);
        vp[b] = address(opened, vCaches[b]);
      }
      check(FitPruneNative.fp_cpu_decode_attention(qa.untyped(), batch.raw(), B, shape.heads(), shape.kvHeads(),
          shape.headDim(), dtype.code, shape.softmaxScale(), kp, vp, kvLengths, oa.untyped(), outType,
          la == null ? null : la.untyped()));
    } finally {
      for (HostData.Access a : opened) a.close();
    }
  }

  /** Sequence b of a decode step brings at least one new token, and its cache holds them (a length below 2^31). */
  static void requireDecodeLength(Batch batch, long[] kvLengths, int b) {
    if (batch.length(b) < 1)
      throw new IllegalArgumentException("shape: sequence " + b + " has no new token (each needs q_len >= 1)");
    if (kvLengths[b] < batch.length(b) || kvLengths[b] > Integer.MAX_VALUE)
      throw new IllegalArgumentException("kvLengths[" + b + "] must be in [q_len=" + batch.length(b)
          + ", 2^31) (the cache holds the new tokens' K/V), got " + kvLengths[b]);
  }

  /** Checks a decode step's q, out and lse (optional) {@code [Nq,H,d]}, {@code [H,Nq]}; returns q's element type. */
  static ElementType decodeQuery(AttentionShape all, Data q, Data out, Data lse) {
    ElementType dtype = CpuOps.inputType(require(q, "q"), "q");
    CpuOps.outputType(dtype, out);
    q.requireShape("q", "[Nq,H,d]", all.qDims());
    out.requireShape("out", "[Nq,H,d]", all.qDims());
    out.requireWritable("out");
    if (lse != null) {
      CpuOps.requireFp32(lse, "lse").requireShape("lse", "[H,Nq]", all.lseDims());
      lse.requireWritable("lse");
    }
    return dtype;
  }

  /** The native address of data opened for reading; the access is closed by the caller. */
  private static long address(List<HostData.Access> opened, Data data) {
    HostData.Access a = access(data, true, false);
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

  /** The sum of drop[b], each checked against its sequence's visual span in {@code flat}. */
  static long totalDrop(Batch batch, long[] flat, long[] drop) {
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
