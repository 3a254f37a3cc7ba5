package io.fitprune.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * The FitPrune kernels; methods without a {@link Backend} argument run on the CPU backend: attention forward with log-sum-exp, the FitPrune score
 * pass (fp32, or bf16 inputs with fp32 arithmetic: {@link Bf16Data}), selection of the tokens to keep, and row gathers. Every argument is validated here, before
 * any native call; a native failure becomes a {@link FitPruneException}. All methods are safe to
 * call from many threads at once.
 */
public final class Kernels {
  private Kernels() {}

  /** Results of {@link #attention(AttentionShape, float[], float[], float[])}. */
  public record AttentionOutput(float[] out, float[] lse) {}

  /** FitPrune scores of the visual tokens: self and cross attention received. */
  public record Scores(float[] self, float[] cross) {}

  // ---- attention ----

  /** Causal attention with GQA, scale 1/sqrt(d): writes out {@code [n,H,d]} and lse {@code [H,n]}. */
  public static void attention(AttentionShape shape, FloatData q, FloatData k, FloatData v, FloatData out, FloatData lse) {
    runAttention(shape, null, q, k, v, out, lse, null, null);
  }

  public static AttentionOutput attention(AttentionShape shape, float[] q, float[] k, float[] v) {
    return attentionOfArrays(shape, q, k, v, FloatData::of);
  }

  /** The array attention in fp32 or bf16: {@code input} wraps q, k, v, once checked, and out is fp32. */
  private static AttentionOutput attentionOfArrays(AttentionShape shape, float[] q, float[] k, float[] v,
      Function<float[], NativeData<?>> input) {
    Objects.requireNonNull(shape, "shape");
    requireQk(shape, q, k); // inputs before allocating outputs
    FloatData.of(require(v, "v")).requireShape("v", "[n,G,d]", shape.kvDims());
    float[] out = new float[Lengths.arrayLength("out", shape.qLength(), Float.BYTES)];
    float[] lse = new float[Lengths.arrayLength("lse", shape.lseLength(), Float.BYTES)];
    runAttention(shape, null, input.apply(q), input.apply(k), input.apply(v), FloatData.of(out), FloatData.of(lse), null, null);
    return new AttentionOutput(out, lse);
  }

  // ---- scores ----

  /**
   * The score pass of FitPrune for the visual span: {@code self[j] = (1/V) sum over visual rows of
   * max_h A[h,i,j]}, {@code cross[j] = (1/t) sum over text rows of max_h A[h,i,j]} (0 without text
   * rows), from q, k and the LSE of {@link #attention}. self and cross hold V floats.
   */
  public static void scores(AttentionShape shape, Spans spans, FloatData q, FloatData k, FloatData lse,
      FloatData self, FloatData cross) {
    runScores(shape, spans, q, k, lse, self, cross);
  }

  public static Scores scores(AttentionShape shape, Spans spans, float[] q, float[] k, float[] lse) {
    return scoresOfArrays(shape, spans, q, k, lse, FloatData::of);
  }

  /** The array score pass in fp32 or bf16: {@code input} wraps q and k, once checked; lse, self, cross are fp32. */
  private static Scores scoresOfArrays(AttentionShape shape, Spans spans, float[] q, float[] k, float[] lse,
      Function<float[], NativeData<?>> input) {
    Objects.requireNonNull(shape, "shape");
    require(spans, "spans").requireWithin(shape.tokens()); // inputs before allocating outputs
    requireQk(shape, q, k);
    FloatData.of(require(lse, "lse")).requireShape("lse", "[H,n]", shape.lseDims());
    float[] self = new float[Lengths.arrayLength("self", spans.visual(), Float.BYTES)];
    float[] cross = new float[Lengths.arrayLength("cross", spans.visual(), Float.BYTES)];
    runScores(shape, spans, input.apply(q), input.apply(k), FloatData.of(lse), FloatData.of(self), FloatData.of(cross));
    return new Scores(self, cross);
  }

  // ---- bf16 on the CPU ----

  /**
   * Causal attention with GQA on bf16 q, k, v: fp32 accumulation, softmax and LSE, probabilities
   * rounded to bf16 for {@code p*v} (as FlashAttention does). {@code out} is a {@link FloatData}
   * (fp32 output) or a {@link Bf16Data}; lse is fp32 {@code [H,n]}.
   */
  public static void attention(AttentionShape shape, Bf16Data q, Bf16Data k, Bf16Data v, NativeData<?> out,
      FloatData lse) {
    runAttention(shape, null, q, k, v, out, lse, null, null);
  }

  /**
   * Attention with the element type chosen at run time (as an engine that loads fp32 or bf16
   * weights does): q, k, v all {@link FloatData} or all {@link Bf16Data}; out as in the attention
   * of that type.
   */
  public static void attention(AttentionShape shape, NativeData<?> q, NativeData<?> k, NativeData<?> v,
      NativeData<?> out, FloatData lse) {
    runAttention(shape, null, q, k, v, out, lse, null, null);
  }

  /** The score pass on bf16 q and k (fp32 LSE, scores and arithmetic), as {@link #scores(AttentionShape, Spans, FloatData, FloatData, FloatData, FloatData, FloatData)}. */
  public static void scores(AttentionShape shape, Spans spans, Bf16Data q, Bf16Data k, FloatData lse,
      FloatData self, FloatData cross) {
    runScores(shape, spans, q, k, lse, self, cross);
  }

  // ---- attention and scores in one pass ----

  /**
   * {@link #attention} and {@link #scores} in one call, with their results (to rounding: the
   * scores' LSE is taken before its conversion to the natural log): the score pass reuses the
   * attention's own logits of the visual keys instead of recomputing q*k^T. q, k, v are all
   * {@link FloatData} or all {@link Bf16Data}; out as in the attention of that type.
   */
  public static void attentionScores(AttentionShape shape, Spans spans, NativeData<?> q, NativeData<?> k,
      NativeData<?> v, NativeData<?> out, FloatData lse, FloatData self, FloatData cross) {
    Objects.requireNonNull(spans, "spans");
    runAttention(shape, spans, q, k, v, out, lse, self, cross);
  }

  /** The checks and call of every attention entry point; with spans, the scores in the same pass. */
  private static void runAttention(AttentionShape shape, Spans spans, NativeData<?> q, NativeData<?> k,
      NativeData<?> v, NativeData<?> out, FloatData lse, FloatData self, FloatData cross) {
    Objects.requireNonNull(shape, "shape");
    int dtype = inputType(q, k, v);
    q.requireShape("q", "[n,H,d]", shape.qDims());
    k.requireShape("k", "[n,G,d]", shape.kvDims());
    v.requireShape("v", "[n,G,d]", shape.kvDims());
    int outType = outputType(dtype, out);
    out.requireShape("out", "[n,H,d]", shape.qDims());
    require(lse, "lse").requireShape("lse", "[H,n]", shape.lseDims());
    out.requireWritable("out");
    lse.requireWritable("lse");
    if (spans != null) requireScoreOutputs(shape, spans, self, cross);
    try (var qa = q.open(true, false); var ka = k.open(true, false); var va = v.open(true, false);
        var oa = out.open(false, true); var la = lse.open(false, true)) {
      if (spans == null) {
        check(FitPruneNative.fp_cpu_attention(qa.untyped(), ka.untyped(), va.untyped(), shape.tokens(), shape.heads(), shape.kvHeads(),
            shape.headDim(), dtype, oa.untyped(), outType, la.untyped()));
        return;
      }
      try (var sa = self.open(false, true); var ca = cross.open(false, true)) {
        check(FitPruneNative.fp_cpu_attention_scores(qa.untyped(), ka.untyped(), va.untyped(), shape.tokens(), shape.heads(),
            shape.kvHeads(), shape.headDim(), dtype, oa.untyped(), outType, la.untyped(), spans.prefix(), spans.visual(), sa.untyped(),
            ca.untyped()));
      }
    }
  }

  /** The checks and call of both score-pass entry points. */
  private static void runScores(AttentionShape shape, Spans spans, NativeData<?> q, NativeData<?> k, FloatData lse,
      FloatData self, FloatData cross) {
    Objects.requireNonNull(shape, "shape");
    int dtype = inputType(require(q, "q"), "q");
    if (inputType(require(k, "k"), "k") != dtype)
      throw new IllegalArgumentException("k: expected " + q.elementName() + " like q");
    requireScoreOutputs(shape, spans, self, cross);
    q.requireShape("q", "[n,H,d]", shape.qDims());
    k.requireShape("k", "[n,G,d]", shape.kvDims());
    require(lse, "lse").requireShape("lse", "[H,n]", shape.lseDims());
    try (var qa = q.open(true, false); var ka = k.open(true, false); var la = lse.open(true, false);
        var sa = self.open(false, true); var ca = cross.open(false, true)) {
      check(FitPruneNative.fp_cpu_scores(qa.untyped(), ka.untyped(), la.untyped(), shape.tokens(), shape.heads(), shape.kvHeads(),
          shape.headDim(), dtype, spans.prefix(), spans.visual(), sa.untyped(), ca.untyped()));
    }
  }

  private static void requireScoreOutputs(AttentionShape shape, Spans spans, FloatData self, FloatData cross) {
    Objects.requireNonNull(spans, "spans");
    spans.requireWithin(shape.tokens());
    require(self, "self").requireShape("self", "[V]", spans.visual());
    require(cross, "cross").requireShape("cross", "[V]", spans.visual());
    self.requireWritable("self");
    cross.requireWritable("cross");
  }

  /** The element type of attention inputs: q, k, v all float32 or all bfloat16. */
  static int inputType(NativeData<?> q, NativeData<?> k, NativeData<?> v) {
    int dtype = inputType(require(q, "q"), "q");
    if (inputType(require(k, "k"), "k") != dtype || inputType(require(v, "v"), "v") != dtype)
      throw new IllegalArgumentException("k, v: expected " + q.elementName() + " like q");
    return dtype;
  }

  /** The type of an attention output for inputs of type dtype: float32, or bfloat16 for bfloat16 inputs. */
  static int outputType(int dtype, NativeData<?> out) {
    int outType = inputType(require(out, "out"), "out");
    if (dtype == FitPruneNative.FP_DTYPE_F32 && outType != dtype)
      throw new IllegalArgumentException("out: expected float32 for float32 inputs, got " + out.elementName());
    return outType;
  }

  /** The element type (FP_DTYPE_*) of float32 or bfloat16 memory; anything else is refused naming the argument. */
  static int inputType(NativeData<?> d, String name) {
    if (d instanceof FloatData) return FitPruneNative.FP_DTYPE_F32;
    if (d instanceof Bf16Data) return FitPruneNative.FP_DTYPE_BF16;
    throw new IllegalArgumentException(name + ": expected float32 or bfloat16 memory, got " + d.elementName());
  }

  // ---- select ----

  /**
   * Drops the {@code drop} visual tokens with the lowest {@code self*cross} (ties: the lower token
   * index is dropped first) and writes the {@code n - drop} kept row indices of the whole
   * sequence, ascending, into {@code keep}.
   */
  public static void selectKeep(long n, Spans spans, FloatData self, FloatData cross, long drop, IntData keep) {
    require(spans, "spans").requireSelect(n, drop);
    require(self, "self").requireShape("self", "[V]", spans.visual());
    require(cross, "cross").requireShape("cross", "[V]", spans.visual());
    require(keep, "keep").requireShape("keep", "[n-k]", n - drop);
    keep.requireWritable("keep");
    try (var sa = self.open(true, false); var ca = cross.open(true, false); var ka = keep.open(false, true)) {
      check(FitPruneNative.fp_select_keep(sa.ptr, ca.ptr, n, spans.prefix(), spans.visual(), drop, ka.ptr));
    }
  }

  public static int[] selectKeep(long n, Spans spans, float[] self, float[] cross, long drop) {
    require(spans, "spans").requireSelect(n, drop);
    FloatData.of(require(self, "self")).requireShape("self", "[V]", spans.visual()); // before allocating keep
    FloatData.of(require(cross, "cross")).requireShape("cross", "[V]", spans.visual());
    int[] keep = new int[Lengths.arrayLength("keep", n - drop, Integer.BYTES)];
    selectKeep(n, spans, FloatData.of(require(self, "self")), FloatData.of(require(cross, "cross")), drop,
        IntData.of(keep));
    return keep;
  }

  // ---- gather ----

  /**
   * {@code dst[r,:] = src[index[r],:]} for {@code r < index.length()}, rows of {@code width}
   * floats: hidden states and attention output ({@code width = D}), K/V ({@code width = G*d}).
   * {@code dst} may be {@code src} itself when the indices are strictly ascending (compaction).
   */
  public static void gatherRows(FloatData src, long rows, long width, IntData index, FloatData dst) {
    long count = checkGather(src, rows, width, index, dst);
    try (var sa = src.open(true, false); var ia = index.open(true, false); var da = dst.open(src == dst, true)) {
      check(FitPruneNative.fp_cpu_gather_rows_f32(src == dst ? da.ptr : sa.ptr, rows, width, ia.ptr, count, da.ptr));
    }
  }

  /** As {@link #gatherRows(FloatData, long, long, IntData, FloatData)} for int32 rows (position ids: width 1). */
  public static void gatherRows(IntData src, long rows, long width, IntData index, IntData dst) {
    long count = checkGather(src, rows, width, index, dst);
    try (var sa = src.open(true, false); var ia = index.open(true, false); var da = dst.open(src == dst, true)) {
      check(FitPruneNative.fp_cpu_gather_rows_i32(src == dst ? da.ptr : sa.ptr, rows, width, ia.ptr, count, da.ptr));
    }
  }

  /** As {@link #gatherRows(FloatData, long, long, IntData, FloatData)} for bf16 rows (hidden states, K/V caches). */
  public static void gatherRows(Bf16Data src, long rows, long width, IntData index, Bf16Data dst) {
    long count = checkGather(src, rows, width, index, dst);
    try (var sa = src.open(true, false); var ia = index.open(true, false); var da = dst.open(src == dst, true)) {
      check(FitPruneNative.fp_cpu_gather_rows(src == dst ? da.untyped() : sa.untyped(), rows, Lengths.product("row bytes", width, 2), ia.untyped(),
          count, da.untyped()));
    }
  }

  public static float[] gatherRows(float[] src, long width, int[] index) {
    long rows = rowsOf(require(src, "src").length, width);
    float[] dst = new float[gatheredLength(index, width)];
    gatherRows(FloatData.of(src), rows, width, IntData.of(index), FloatData.of(dst));
    return dst;
  }

  public static int[] gatherRows(int[] src, long width, int[] index) {
    long rows = rowsOf(require(src, "src").length, width);
    int[] dst = new int[gatheredLength(index, width)];
    gatherRows(IntData.of(src), rows, width, IntData.of(index), IntData.of(dst));
    return dst;
  }

  /** The length of an array gather's result, {@code [count,width]}, checked to fit an array. */
  private static int gatheredLength(int[] index, long width) {
    return Lengths.arrayLength("dst", Lengths.product("dst [count,width]", require(index, "index").length, width), Integer.BYTES);
  }

  private static long rowsOf(long length, long width) {
    if (width <= 0) throw new IllegalArgumentException("width must be > 0, got " + width);
    if (length % width != 0)
      throw new IllegalArgumentException("src: length " + length + " is not a multiple of width " + width);
    return length / width;
  }

  private static long checkGather(NativeData<?> src, long rows, long width, IntData index, NativeData<?> dst) {
    if (rows < 0) throw new IllegalArgumentException("rows must be >= 0, got " + rows);
    if (width <= 0) throw new IllegalArgumentException("width must be > 0, got " + width);
    require(index, "index");
    long count = index.length();
    require(src, "src").requireShape("src", "[rows,width]", rows, width);
    require(dst, "dst").requireWritable("dst");
    dst.requireAtLeast("dst", Lengths.product("dst [count,width]", count, width), "[count,width] = [" + count + ", " + width + "]");
    if (dst == src && count > rows)
      throw new IllegalArgumentException("index: in-place gather cannot produce more rows (" + count + ") than src has (" + rows + ")");
    return count;
  }

  // ---- packed batches ----

  /**
   * Causal attention over a packed batch (each sequence on its own, as {@link #attention} on it
   * alone, bit for bit): q {@code [N,H,d]}, k and v {@code [N,G,d]}, out {@code [N,H,d]}, lse
   * {@code [H,N]}. Work is spread over (sequence, head, query block), so a batch of short
   * sequences keeps every core busy.
   */
  public static void attention(BatchShape shape, FloatData q, FloatData k, FloatData v, FloatData out, FloatData lse) {
    PackedBatches.attention(shape, q, k, v, out, lse, FitPruneNative.FP_DTYPE_F32);
  }

  /** The packed attention on bf16 q, k, v; out fp32 ({@link FloatData}) or {@link Bf16Data}, lse fp32. */
  public static void attention(BatchShape shape, Bf16Data q, Bf16Data k, Bf16Data v, NativeData<?> out, FloatData lse) {
    if (require(out, "out") instanceof IntData)
      throw new IllegalArgumentException("out: expected float32 or bfloat16 memory, got int32");
    PackedBatches.attention(shape, q, k, v, out, lse, FitPruneNative.FP_DTYPE_BF16);
  }

  /**
   * The packed attention with the element type chosen at run time (a decoder on fp32 or bf16
   * weights): q, k, v all {@link FloatData} or all {@link Bf16Data}; out as in the attention of that type.
   */
  public static void attention(BatchShape shape, NativeData<?> q, NativeData<?> k, NativeData<?> v, NativeData<?> out,
      FloatData lse) {
    int dtype = inputType(q, k, v);
    outputType(dtype, out);
    PackedBatches.attention(shape, q, k, v, out, lse, dtype);
  }

  public static AttentionOutput attention(BatchShape shape, float[] q, float[] k, float[] v) {
    return PackedBatches.attention(shape, q, k, v);
  }

  /**
   * {@link #attention(BatchShape, FloatData, FloatData, FloatData, FloatData, FloatData)} and
   * {@link #scores(BatchShape, Spans[], FloatData, FloatData, FloatData, FloatData, FloatData)} in
   * one pass, with their results (each sequence as
   * {@link #attentionScores(AttentionShape, Spans, NativeData, NativeData, NativeData, NativeData, FloatData, FloatData, FloatData)}
   * on it alone): the scores reuse the attention's own logits of the visual keys.
   */
  public static void attentionScores(BatchShape shape, Spans[] spans, FloatData q, FloatData k, FloatData v,
      FloatData out, FloatData lse, FloatData self, FloatData cross) {
    PackedBatches.attentionScores(shape, spans, q, k, v, out, lse, self, cross, FitPruneNative.FP_DTYPE_F32);
  }

  /** The packed attention and scores in one pass on bf16 q, k, v; out fp32 ({@link FloatData}) or {@link Bf16Data}. */
  public static void attentionScores(BatchShape shape, Spans[] spans, Bf16Data q, Bf16Data k, Bf16Data v,
      NativeData<?> out, FloatData lse, FloatData self, FloatData cross) {
    if (require(out, "out") instanceof IntData)
      throw new IllegalArgumentException("out: expected float32 or bfloat16 memory, got int32");
    PackedBatches.attentionScores(shape, spans, q, k, v, out, lse, self, cross, FitPruneNative.FP_DTYPE_BF16);
  }

  /** The packed attention and scores in one pass with the element type chosen at run time, as {@link #attention(BatchShape, NativeData, NativeData, NativeData, NativeData, FloatData)}. */
  public static void attentionScores(BatchShape shape, Spans[] spans, NativeData<?> q, NativeData<?> k, NativeData<?> v,
      NativeData<?> out, FloatData lse, FloatData self, FloatData cross) {
    int dtype = inputType(q, k, v);
    outputType(dtype, out);
    PackedBatches.attentionScores(shape, spans, q, k, v, out, lse, self, cross, dtype);
  }

  /**
   * The score pass of every sequence of a packed batch over its own visual span
   * ({@code spans[b]}, within sequence b), from q, k and the LSE of
   * {@link #attention(BatchShape, FloatData, FloatData, FloatData, FloatData, FloatData)}. self and
   * cross hold the sequences' visual tokens concatenated in sequence order ({@code [sum V_b]}).
   */
  public static void scores(BatchShape shape, Spans[] spans, FloatData q, FloatData k, FloatData lse, FloatData self,
      FloatData cross) {
    PackedBatches.scores(shape, spans, q, k, lse, self, cross, FitPruneNative.FP_DTYPE_F32);
  }

  /** The packed score pass on bf16 q and k (fp32 LSE, scores and arithmetic). */
  public static void scores(BatchShape shape, Spans[] spans, Bf16Data q, Bf16Data k, FloatData lse, FloatData self,
      FloatData cross) {
    PackedBatches.scores(shape, spans, q, k, lse, self, cross, FitPruneNative.FP_DTYPE_BF16);
  }

  public static Scores scores(BatchShape shape, Spans[] spans, float[] q, float[] k, float[] lse) {
    return PackedBatches.scores(shape, spans, q, k, lse);
  }

  /**
   * {@link #selectKeep(long, Spans, FloatData, FloatData, long, IntData)} for every sequence of a
   * packed batch, {@code drop[b]} tokens from sequence b: keep receives the {@code N - sum(drop)}
   * global row indices, ascending, so one {@link #gatherRows} compacts the whole batch.
   */
  public static void selectKeep(Batch batch, Spans[] spans, FloatData self, FloatData cross, long[] drop, IntData keep) {
    PackedBatches.selectKeep(batch, spans, self, cross, drop, keep);
  }

  public static int[] selectKeep(Batch batch, Spans[] spans, float[] self, float[] cross, long[] drop) {
    return PackedBatches.selectKeep(batch, spans, self, cross, drop);
  }

  /**
   * Decode attention of a batch over per-sequence K/V caches. {@code shape.batch()} describes the
   * new tokens (rows of q {@code [Nq,H,d]}, at least one per sequence: one per step, or a few for
   * speculative decoding). Sequence b's cache is {@code kCaches[b]}, {@code vCaches[b]}, each
   * {@code [cap_b,G,d]} (row-major, cap_b >= kvLengths[b]) whose first {@code kvLengths[b]} rows
   * are valid and end with the new tokens' K/V; new token t sees cache rows
   * {@code [0, kvLengths[b] - q_len_b + t]}. Writes out {@code [Nq,H,d]} and, unless null, lse
   * {@code [H,Nq]}. Caches given as tensors or pointers are read in place (arrays are copied).
   */
  public static void decodeAttention(BatchShape shape, FloatData q, FloatData[] kCaches, FloatData[] vCaches,
      long[] kvLengths, FloatData out, FloatData lse) {
    PackedBatches.decodeAttention(shape, q, kCaches, vCaches, kvLengths, out, lse);
  }

  /**
   * Decode attention on bf16 q and bf16 K/V caches, as
   * {@link #decodeAttention(BatchShape, FloatData, FloatData[], FloatData[], long[], FloatData, FloatData)}:
   * fp32 accumulation, softmax and LSE, q.k the pairwise dot product of the bf16 prefill, P*V with
   * fp32 probabilities; out a {@link FloatData} or a {@link Bf16Data} (rounded to nearest even),
   * lse fp32 {@code [H,Nq]} or null. Every CPU path gives the same bits.
   */
  public static void decodeAttention(BatchShape shape, Bf16Data q, Bf16Data[] kCaches, Bf16Data[] vCaches,
      long[] kvLengths, NativeData<?> out, FloatData lse) {
    PackedBatches.decodeAttention(shape, q, kCaches, vCaches, kvLengths, out, lse);
  }

  /**
   * Decode attention with the element type chosen at run time (a decoder on fp32 or bf16 weights):
   * q and every cache all {@link FloatData} or all {@link Bf16Data}; out as for that type.
   */
  public static void decodeAttention(BatchShape shape, NativeData<?> q, NativeData<?>[] kCaches,
      NativeData<?>[] vCaches, long[] kvLengths, NativeData<?> out, FloatData lse) {
    PackedBatches.decodeAttention(shape, q, kCaches, vCaches, kvLengths, out, lse);
  }

  /** {@link #decodeAttention(BatchShape, FloatData, FloatData[], FloatData[], long[], FloatData, FloatData)} on arrays. */
  public static AttentionOutput decodeAttention(BatchShape shape, float[] q, float[][] kCaches, float[][] vCaches,
      long[] kvLengths) {
    return PackedBatches.decodeAttention(shape, q, kCaches, vCaches, kvLengths);
  }

  // ---- K/V caches ----

  /**
   * Appends a step's K/V (after RoPE) to contiguous caches: rows of sequence b of k and v
   * {@code [Nq,G,d]} ({@code shape.batch()} gives the new tokens per sequence) go to rows
   * {@code [kvLengths[b], kvLengths[b] + q_len_b)} of {@code kCaches[b]}, {@code vCaches[b]}
   * {@code [cap_b,G,d]}, whose capacity is their length. kvLengths is not changed. Nothing is
   * written when any sequence's rows would pass its capacity (the exception names it).
   */
  public static void appendKv(BatchShape shape, NativeData<?> k, NativeData<?> v, NativeData<?>[] kCaches,
      NativeData<?>[] vCaches, long[] kvLengths) {
    KvCaches.appendKv(shape, k, v, kCaches, vCaches, kvLengths);
  }

  /**
   * Appends rows of k and v {@code [n,G,d]} to a paged cache as vLLM's {@code reshape_and_cache}:
   * row i goes to slot {@code slots[i] = block * blockSize + offset} (from
   * {@link PagedKvCache#reserve}); a negative slot (a padding row) is skipped.
   */
  public static void appendKv(NativeData<?> k, NativeData<?> v, PagedKvCache cache, long[] slots) {
    KvCaches.appendKv(k, v, cache, slots);
  }

  /**
   * Decode attention over paged caches, as
   * {@link #decodeAttention(BatchShape, NativeData, NativeData[], NativeData[], long[], NativeData, FloatData)}
   * (same rules and bits) but with sequence b's cache rows in blocks of pools k and v
   * {@code [numBlocks, blockSize, G, d]}: row r is row {@code r % blockSize} of block
   * {@code blockTable[b * maxBlocks + r / blockSize]}, blockTable {@code [B, maxBlocks]} (vLLM's and
   * FlashAttention's layout). Each layer passes its own table and lengths. Every block id a sequence
   * uses is checked against the pools.
   */
  public static void pagedDecodeAttention(BatchShape shape, NativeData<?> q, NativeData<?> kPool, NativeData<?> vPool,
      int blockSize, int[] blockTable, long[] kvLengths, NativeData<?> out, FloatData lse) {
    KvCaches.pagedDecodeAttention(shape, q, kPool, vPool, blockSize, blockTable, kvLengths, out, lse);
  }

  /**
   * Packed prefill attention over a cached prefix (prefix caching, chunked prefill): sequence b's
   * queries are rows {@code shape.batch()} of q {@code [Nq,H,d]}, its keys and values rows
   * {@code keys} of k and v {@code [Nk,G,d]} (at least as many as its queries, ending with the
   * queries' own), and query t sees keys {@code [0, k_len_b - q_len_b + t]}; logits scaled by
   * {@code shape.softmaxScale()}. Writes out {@code [Nq,H,d]} and lse {@code [H,Nq]}. With
   * {@code keys} equal to the queries' batch and the default scale, the bits of
   * {@link #attention(BatchShape, NativeData, NativeData, NativeData, NativeData, FloatData)}.
   */
  public static void attention(BatchShape shape, Batch keys, NativeData<?> q, NativeData<?> k, NativeData<?> v,
      NativeData<?> out, FloatData lse) {
    KvCaches.attention(shape, keys, q, k, v, out, lse);
  }

  /** Paged decode attention of sequences {@code seqs} of one layer's {@link PagedKvCache} (its tables and lengths). */
  public static void pagedDecodeAttention(BatchShape shape, NativeData<?> q, PagedKvCache cache, int[] seqs,
      NativeData<?> out, FloatData lse) {
    require(cache, "cache");
    require(seqs, "seqs");
    KvCaches.pagedDecodeAttention(shape, q, cache.keys(), cache.values(), cache.blockSize(), cache.blockTable(seqs),
        cache.lengths(seqs), out, lse);
  }

  // ---- dense layers of a decode step ----

  /**
   * {@code y[i] = x w[i]^T}, or {@code y[i] += x w[i]^T} when {@code accumulate}, for the
   * {@code rows} rows of x {@code [rows, in]} (float32) and 1 to 8 weight matrices {@code w[i]
   * [out_i, in]} read in place in their stored type; y[i] {@code [rows, out_i]} float32, none
   * overlapping x or another y. All matrices are one pass: blocks of output columns are spread
   * over the pool, and each weight row is read from memory once for all rows (a decode step is
   * bound by reading the weights). BF16 weights take x rounded to bf16 (exact products,
   * {@code vdpbf16ps} where the CPU has it), FP32 and FP16 weights take x as it is; accumulation is
   * fp32. NaN or infinity in x or the weights shows in y.
   */
  public static void linear(FloatData x, long rows, Weight[] w, FloatData[] y, boolean accumulate) {
    LinearKernel.linear(x, rows, w, y, accumulate ? LinearKernel.ACCUMULATE : 0);
  }

  /** {@link #linear(FloatData, long, Weight[], FloatData[], boolean)} of one matrix, overwriting y. */
  public static void linear(FloatData x, long rows, Weight w, FloatData y) {
    LinearKernel.linear(x, rows, new Weight[] {w}, new FloatData[] {y}, 0);
  }

  /**
   * A SwiGLU MLP's first half in one pass over both weights: {@code y = silu(x gate^T) * (x up^T)}
   * ({@code silu(g) = g / (1 + e^-g)}, float32), with {@code upOut [rows, out]} as the second
   * product's room; as {@link #linear(FloatData, long, Weight[], FloatData[], boolean)} otherwise.
   */
  public static void linearSwiglu(FloatData x, long rows, Weight gate, Weight up, FloatData y, FloatData upOut) {
    LinearKernel.linear(x, rows, new Weight[] {gate, up}, new FloatData[] {y, upOut}, LinearKernel.SWIGLU);
  }

  /**
   * The read-bandwidth probe that decode efficiency is a fraction of: one pass over the first
   * {@code bytes} of {@code buffer} with the widest vector loads of the ISA path in use, spread over
   * {@code threads} workers of the pool ({@code <= 0}: all). Returns GB/s (10^9 bytes per second).
   */
  public static double readBandwidth(org.bytedeco.javacpp.Pointer buffer, long bytes, int threads) {
    return LinearKernel.readStream(buffer, bytes, threads);
  }

  /**
   * The read probe over weight matrices where they lie (a memory-mapped checkpoint reads slower
   * than fresh anonymous memory on some machines): one pass over each in turn. Returns GB/s.
   */
  public static double readBandwidth(Weight[] weights, int threads) {
    return LinearKernel.readStream(weights, threads);
  }

  // ---- finiteness ----

  /**
   * Refuses data holding NaN or infinity with an {@link IllegalArgumentException} that names
   * {@code tensor} and the first bad position, e.g. {@code "embeds [n,D] is not finite at [3, 17]
   * (NaN)"}. {@code dims} give the row-major shape for the position (and are checked against the
   * length); {@code names} spells them, e.g. "[n,D]". A native scan: about memory bandwidth.
   */
  public static void requireFinite(String tensor, String names, FloatData x, long... dims) {
    require(x, tensor).requireShape(tensor, names, dims);
    long at;
    try (var xa = x.open(true, false); var index = new org.bytedeco.javacpp.LongPointer(1)) {
      check(FitPruneNative.fp_first_nonfinite_f32(xa.ptr, x.length(), index));
      at = index.get();
    }
    if (at < 0) return;
    float value = x.pointer() != null ? x.pointer().get(at) : x.get(at);
    long[] pos = new long[dims.length];
    long rest = at;
    for (int i = dims.length - 1; i >= 0; i--) {
      pos[i] = rest % dims[i];
      rest /= dims[i];
    }
    throw new IllegalArgumentException(tensor + " " + names + " is not finite at " + java.util.Arrays.toString(pos)
        + " (" + value + ")");
  }

  /** As {@link #requireFinite(String, String, FloatData, long...)} for a Java array. */
  public static void requireFinite(String tensor, String names, float[] x, long... dims) {
    requireFinite(tensor, names, FloatData.of(require(x, tensor)), dims);
  }

  // ---- backend choice ----

  /**
   * Resolves {@code backend} for element type {@code type}: AUTO becomes CUDA when a device is
   * present, else CPU; the CPU computes in FP32 and BF16, so FP16 needs CUDA. Throws
   * {@link IllegalArgumentException} for a combination that cannot run and
   * {@link FitPruneException} when CUDA is asked for but unavailable.
   */
  public static Backend choose(Backend backend, ElementType type) {
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(type, "type");
    if (!type.isFloat()) throw new IllegalArgumentException("dtype must be fp32, fp16 or bf16, got " + type);
    Backend b = backend.resolve();
    if (b == Backend.CPU && type == ElementType.FP16) {
      if (backend == Backend.AUTO)
        throw new IllegalArgumentException("dtype " + type + " needs the CUDA backend, which is unavailable here ("
            + CudaKernels.info().cudaStatus() + ")");
      throw new IllegalArgumentException("dtype " + type + " needs the CUDA backend (the CPU backend computes in fp32 and bf16)");
    }
    if (b == Backend.CUDA) CudaKernels.requireDevice();
    return b;
  }

  /**
   * Attention on a backend (see {@link #choose}); inputs are rounded to {@code type}. The CPU's
   * BF16 output is fp32 (not rounded); CUDA's is rounded to {@code type}.
   */
  public static AttentionOutput attention(Backend backend, ElementType type, AttentionShape shape, float[] q, float[] k,
      float[] v) {
    if (choose(backend, type) == Backend.CUDA) return CudaKernels.attention(shape, type, q, k, v);
    return attentionOfArrays(shape, q, k, v, type == ElementType.FP32 ? FloatData::of : Bf16Data::round);
  }

  /** Scores on a backend (see {@link #choose}); q and k are rounded to {@code type}. */
  public static Scores scores(Backend backend, ElementType type, AttentionShape shape, Spans spans, float[] q, float[] k,
      float[] lse) {
    if (choose(backend, type) == Backend.CUDA) return CudaKernels.scores(shape, spans, type, q, k, lse);
    return scoresOfArrays(shape, spans, q, k, lse, type == ElementType.FP32 ? FloatData::of : Bf16Data::round);
  }

  /** Selection on a backend; both give the same indices on the same scores. */
  public static int[] selectKeep(Backend backend, long n, Spans spans, float[] self, float[] cross, long drop) {
    if (choose(backend, ElementType.FP32) == Backend.CPU) return selectKeep(n, spans, self, cross, drop);
    require(spans, "spans").requireSelect(n, drop);
    require(self, "self");
    require(cross, "cross");
    try (DeviceBuffer s = DeviceBuffer.of(self, ElementType.FP32); DeviceBuffer c = DeviceBuffer.of(cross, ElementType.FP32);
        DeviceBuffer keep = DeviceBuffer.allocate(ElementType.INT32, n - drop)) {
      CudaKernels.selectKeep(n, spans, s, c, drop, keep);
      return keep.toInts();
    }
  }

  // ---- backend control ----

  /** The CPU path in use. */
  public static Isa isa() {
    NativeLibrary.ensureAvailability();
    return Isa.of(FitPruneNative.fp_cpu_isa());
  }

  /** The CPU paths this machine can run, slowest first. */
  public static List<Isa> supportedIsas() {
    NativeLibrary.ensureAvailability();
    List<Isa> out = new ArrayList<>();
    for (Isa i : Isa.values()) if (FitPruneNative.fp_cpu_isa_supported(i.code) == 1) out.add(i);
    return out;
  }

  /** Forces a CPU path (tests, benchmarks); {@code null} returns to the best one. Process-wide. */
  public static void useIsa(Isa isa) {
    NativeLibrary.ensureAvailability();
    check(FitPruneNative.fp_cpu_set_isa(isa == null ? FitPruneNative.FP_ISA_AUTO : isa.code));
  }

  public static int threads() {
    NativeLibrary.ensureAvailability();
    return FitPruneNative.fp_cpu_threads();
  }

  /** Worker threads of the native pool; {@code <= 0} means one per available CPU. Process-wide. */
  public static void useThreads(int threads) {
    NativeLibrary.ensureAvailability();
    check(FitPruneNative.fp_cpu_set_threads(threads));
  }

  static void check(int status) {
    if (status != FitPruneNative.FP_OK) throw new FitPruneException(status, FitPruneNative.fp_last_error());
  }

  /** Lengths of the q and k arrays of an array entry point, checked before its outputs are allocated. */
  private static void requireQk(AttentionShape shape, float[] q, float[] k) {
    FloatData.of(require(q, "q")).requireShape("q", "[n,H,d]", shape.qDims());
    FloatData.of(require(k, "k")).requireShape("k", "[n,G,d]", shape.kvDims());
  }

  static <T> T require(T value, String name) {
    if (value == null) throw new NullPointerException(name + " is null");
    return value;
  }
}
