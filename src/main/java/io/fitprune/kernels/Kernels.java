package io.fitprune.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The FitPrune kernels, the one class an engine calls: attention forward with log-sum-exp, the
 * FitPrune score pass, selection of the tokens to keep, row gathers, decode attention over K/V
 * caches and a decode step's dense layers, on single sequences ({@link AttentionShape}) and packed
 * batches ({@link BatchShape}).
 *
 * <p>Every attention-like call scales its logits by the shape's {@code softmaxScale()}: 1/sqrt(d)
 * unless the shape was built {@code withSoftmaxScale(s)}. A score pass reads the LSE of an
 * attention call, so it takes the shape (the scale) that call had.
 *
 * <p>Every call takes {@link Data} handles and runs where they live: all in host memory, on the
 * CPU kernels (float32, or bfloat16 with float32 arithmetic); all on the GPU
 * ({@link DeviceBuffer}), on the CUDA kernels (fp16/bf16 on the tensor cores, fp32 exact; head
 * dims 64 and 128). A call mixing the two is refused naming the argument. A device call given a
 * {@link CudaStream} only enqueues work on it: no synchronisation, no read-back, bad data found
 * on the GPU recorded in a {@link DeviceStatus}; without a stream it runs on the default stream
 * and waits for it. The {@code float[]} forms return their results; those with a
 * {@link Backend} pick the backend ({@link #choose}) and round the inputs to the element type.
 *
 * <p>Every argument is validated before any native call; a native failure becomes a
 * {@link FitPruneException}. All methods are safe to call from many threads at once.
 */
public final class Kernels {
  private Kernels() {}

  /** System property: {@code true} keeps the library off the GPU (CUDA reports unavailable). Read on first use. */
  public static final String CUDA_DISABLE_PROPERTY = "fitprune.cuda.disable";

  /** Results of the array forms of attention. */
  public record AttentionOutput(float[] out, float[] lse) {}

  /** FitPrune scores of the visual tokens: self and cross attention received. */
  public record Scores(float[] self, float[] cross) {}

  // ---- attention ----

  /**
   * Causal attention with GQA, logits {@code q.k * shape.softmaxScale()}: q {@code [n,H,d]}, k and
   * v {@code [n,G,d]} of one element type; writes out {@code [n,H,d]} (float32, or bfloat16 for
   * bfloat16 inputs; on CUDA q's type) and lse {@code [H,n]} float32. bfloat16: float32 accumulation, softmax and LSE,
   * probabilities rounded to bf16 for {@code p*v} (as FlashAttention does).
   */
  public static void attention(AttentionShape shape, Data q, Data k, Data v, Data out, Data lse) {
    if (onDevice("q,k,v,out,lse", q, k, v, out, lse)) {
      CudaOps.attention(shape, dev(q), dev(k), dev(v), dev(out), dev(lse), CudaStream.DEFAULT);
      sync();
    } else {
      CpuOps.attention(shape, null, q, k, v, out, lse, null, null);
    }
  }

  /** As {@link #attention(AttentionShape, Data, Data, Data, Data, Data)} on device data, enqueued on {@code stream}. */
  public static void attention(AttentionShape shape, Data q, Data k, Data v, Data out, Data lse, CudaStream stream) {
    requireDeviceCall(stream, "q,k,v,out,lse", q, k, v, out, lse);
    CudaOps.attention(shape, dev(q), dev(k), dev(v), dev(out), dev(lse), stream);
  }

  /**
   * Causal attention over a packed batch, each sequence on its own (as the single-sequence call on
   * it alone, bit for bit): q {@code [N,H,d]}, k and v {@code [N,G,d]}, out {@code [N,H,d]}, lse
   * {@code [H,N]}. Work is spread over (sequence, head, query block). On CUDA, fp16/bf16 run as
   * one call; fp32 (no packed kernel) sequence by sequence through a temporary LSE.
   */
  public static void attention(BatchShape shape, Data q, Data k, Data v, Data out, Data lse) {
    if (onDevice("q,k,v,out,lse", q, k, v, out, lse)) {
      CudaOps.attention(shape, dev(q), dev(k), dev(v), dev(out), dev(lse), CudaStream.DEFAULT);
      sync();
    } else {
      CpuOps.outputType(CpuOps.inputType(q, k, v), out);
      CpuBatchOps.attention(shape, q, k, v, out, lse, q.type());
    }
  }

  /** As {@link #attention(BatchShape, Data, Data, Data, Data, Data)} on device data, enqueued on {@code stream}. */
  public static void attention(BatchShape shape, Data q, Data k, Data v, Data out, Data lse, CudaStream stream) {
    requireDeviceCall(stream, "q,k,v,out,lse", q, k, v, out, lse);
    CudaOps.attention(shape, dev(q), dev(k), dev(v), dev(out), dev(lse), stream);
  }

  /** Attention on the CPU in float32. */
  public static AttentionOutput attention(AttentionShape shape, float[] q, float[] k, float[] v) {
    return attention(Backend.CPU, ElementType.FP32, shape, q, k, v);
  }

  /** The packed attention on the CPU in float32. */
  public static AttentionOutput attention(BatchShape shape, float[] q, float[] k, float[] v) {
    return attention(Backend.CPU, ElementType.FP32, shape, q, k, v);
  }

  /**
   * Attention on a backend (see {@link #choose}); inputs are rounded to {@code type}. The CPU's
   * BF16 output is fp32 (not rounded); CUDA's is rounded to {@code type}.
   */
  public static AttentionOutput attention(Backend backend, ElementType type, AttentionShape shape, float[] q, float[] k,
      float[] v) {
    Objects.requireNonNull(shape, "shape");
    requireArray(q, "q", "[n,H,d]", shape.qDims());
    requireArray(k, "k", "[n,G,d]", shape.kvDims());
    requireArray(v, "v", "[n,G,d]", shape.kvDims());
    return arrayAttention(backend, type, shape, null, q, k, v);
  }

  /** The packed attention on a backend, as {@link #attention(Backend, ElementType, AttentionShape, float[], float[], float[])}. */
  public static AttentionOutput attention(Backend backend, ElementType type, BatchShape shape, float[] q, float[] k,
      float[] v) {
    Objects.requireNonNull(shape, "shape");
    AttentionShape all = shape.packed();
    requireArray(q, "q", "[N,H,d]", all.qDims());
    requireArray(k, "k", "[N,G,d]", all.kvDims());
    requireArray(v, "v", "[N,G,d]", all.kvDims());
    return arrayAttention(backend, type, all, shape, q, k, v);
  }

  /** The one body of the array attention forms; {@code batch} null for a single sequence. */
  private static AttentionOutput arrayAttention(Backend backend, ElementType type, AttentionShape all, BatchShape batch,
      float[] q, float[] k, float[] v) {
    if (backend == Backend.CUDA) CudaOps.requireHeadDim(all); // before the device is touched
    try (ArrayCall in = ArrayCall.of(choose(backend, type), type)) {
      Data out = in.output(type, all.qLength(), "out"), lse = in.output(ElementType.FP32, all.lseLength(), "lse");
      Data dq = in.input(q), dk = in.input(k), dv = in.input(v);
      if (batch == null) attention(all, dq, dk, dv, out, lse);
      else attention(batch, dq, dk, dv, out, lse);
      return new AttentionOutput(out.toFloats(), lse.toFloats());
    }
  }

  // ---- scores ----

  /**
   * The score pass of FitPrune for the visual span: {@code self[j] = (1/V) sum over visual rows of
   * max_h A[h,i,j]}, {@code cross[j] = (1/t) sum over text rows of max_h A[h,i,j]} (0 without text
   * rows), from q, k (one element type) and the float32 LSE of attention on them with the same
   * softmax scale ({@code A = exp(scale * q.k - lse)}); self and cross hold V float32 values.
   */
  public static void scores(AttentionShape shape, Spans spans, Data q, Data k, Data lse, Data self, Data cross) {
    if (onDevice("q,k,lse,self,cross", q, k, lse, self, cross)) {
      CudaOps.scores(shape, spans, dev(q), dev(k), dev(lse), dev(self), dev(cross), CudaStream.DEFAULT);
      sync();
    } else {
      CpuOps.scores(shape, spans, q, k, lse, self, cross);
    }
  }

  /** As {@link #scores(AttentionShape, Spans, Data, Data, Data, Data, Data)} on device data, enqueued on {@code stream}. */
  public static void scores(AttentionShape shape, Spans spans, Data q, Data k, Data lse, Data self, Data cross,
      CudaStream stream) {
    requireDeviceCall(stream, "q,k,lse,self,cross", q, k, lse, self, cross);
    CudaOps.scores(shape, spans, dev(q), dev(k), dev(lse), dev(self), dev(cross), stream);
  }

  /**
   * The score pass of every sequence of a packed batch over its own visual span ({@code spans[b]},
   * within sequence b); self and cross hold the sequences' visual tokens concatenated in sequence
   * order ({@code [sum V_b]}).
   */
  public static void scores(BatchShape shape, Spans[] spans, Data q, Data k, Data lse, Data self, Data cross) {
    if (onDevice("q,k,lse,self,cross", q, k, lse, self, cross)) {
      CudaOps.scores(shape, spans, dev(q), dev(k), dev(lse), dev(self), dev(cross), CudaStream.DEFAULT);
      sync();
    } else {
      CpuBatchOps.scores(shape, spans, q, k, lse, self, cross);
    }
  }

  /** As {@link #scores(BatchShape, Spans[], Data, Data, Data, Data, Data)} on device data, enqueued on {@code stream}. */
  public static void scores(BatchShape shape, Spans[] spans, Data q, Data k, Data lse, Data self, Data cross,
      CudaStream stream) {
    requireDeviceCall(stream, "q,k,lse,self,cross", q, k, lse, self, cross);
    CudaOps.scores(shape, spans, dev(q), dev(k), dev(lse), dev(self), dev(cross), stream);
  }

  public static Scores scores(AttentionShape shape, Spans spans, float[] q, float[] k, float[] lse) {
    return scores(Backend.CPU, ElementType.FP32, shape, spans, q, k, lse);
  }

  public static Scores scores(BatchShape shape, Spans[] spans, float[] q, float[] k, float[] lse) {
    return scores(Backend.CPU, ElementType.FP32, shape, spans, q, k, lse);
  }

  /** Scores on a backend (see {@link #choose}); q and k are rounded to {@code type}. */
  public static Scores scores(Backend backend, ElementType type, AttentionShape shape, Spans spans, float[] q, float[] k,
      float[] lse) {
    Objects.requireNonNull(shape, "shape");
    require(spans, "spans").requireWithin(shape.tokens()); // inputs before allocating outputs
    requireArray(q, "q", "[n,H,d]", shape.qDims());
    requireArray(k, "k", "[n,G,d]", shape.kvDims());
    requireArray(lse, "lse", "[H,n]", shape.lseDims());
    return arrayScores(backend, type, shape, null, new Spans[] {spans}, spans.visual(), q, k, lse);
  }

  /** The packed scores on a backend (see {@link #choose}); q and k are rounded to {@code type}. */
  public static Scores scores(Backend backend, ElementType type, BatchShape shape, Spans[] spans, float[] q, float[] k,
      float[] lse) {
    Objects.requireNonNull(shape, "shape");
    long visual = CpuBatchOps.totalVisual(CpuBatchOps.flatSpans(shape.batch(), spans));
    AttentionShape all = shape.packed();
    requireArray(q, "q", "[N,H,d]", all.qDims());
    requireArray(k, "k", "[N,G,d]", all.kvDims());
    requireArray(lse, "lse", "[H,N]", all.lseDims());
    return arrayScores(backend, type, all, shape, spans, visual, q, k, lse);
  }

  /** The one body of the array score forms; {@code batch} null for a single sequence ({@code spans[0]}). */
  private static Scores arrayScores(Backend backend, ElementType type, AttentionShape all, BatchShape batch, Spans[] spans,
      long visual, float[] q, float[] k, float[] lse) {
    if (backend == Backend.CUDA) CudaOps.requireHeadDim(all);
    try (ArrayCall in = ArrayCall.of(choose(backend, type), type)) {
      Data self = in.output(ElementType.FP32, visual, "self"), cross = in.output(ElementType.FP32, visual, "cross");
      Data dq = in.input(q), dk = in.input(k), dl = in.exact(lse);
      if (batch == null) scores(all, spans[0], dq, dk, dl, self, cross);
      else scores(batch, spans, dq, dk, dl, self, cross);
      return new Scores(self.toFloats(), cross.toFloats());
    }
  }

  // ---- attention and scores in one pass (CPU) ----

  /**
   * Attention and the score pass in one call, with their results (to rounding: the scores' LSE is
   * taken before its conversion to the natural log): the score pass reuses the attention's own
   * logits of the visual keys instead of recomputing q*k^T. Host memory only.
   */
  public static void attentionScores(AttentionShape shape, Spans spans, Data q, Data k, Data v, Data out, Data lse,
      Data self, Data cross) {
    requireHost("attentionScores", "q,k,v,out,lse,self,cross", q, k, v, out, lse, self, cross);
    CpuOps.attention(shape, require(spans, "spans"), q, k, v, out, lse, self, cross);
  }

  /** The packed attention and scores in one pass, each sequence as the single-sequence call on it alone. Host memory only. */
  public static void attentionScores(BatchShape shape, Spans[] spans, Data q, Data k, Data v, Data out, Data lse,
      Data self, Data cross) {
    requireHost("attentionScores", "q,k,v,out,lse,self,cross", q, k, v, out, lse, self, cross);
    ElementType dtype = CpuOps.inputType(q, k, v);
    CpuOps.outputType(dtype, out);
    CpuBatchOps.attentionScores(shape, spans, q, k, v, out, lse, self, cross, dtype);
  }

  // ---- select ----

  /**
   * Drops the {@code drop} visual tokens with the lowest {@code self*cross} (ties: the lower token
   * index is dropped first) and writes the {@code n - drop} kept row indices of the whole
   * sequence, ascending, into {@code keep} (int32). Both backends give the same indices.
   */
  public static void selectKeep(long n, Spans spans, Data self, Data cross, long drop, Data keep) {
    if (onDevice("self,cross,keep", self, cross, keep)) {
      try (DeviceStatus status = DeviceStatus.allocate()) {
        CudaOps.selectKeep(n, spans, dev(self), dev(cross), drop, dev(keep), status, CudaStream.DEFAULT);
        status.check(CudaStream.DEFAULT);
      }
    } else {
      CpuOps.selectKeep(n, spans, self, cross, drop, keep);
    }
  }

  /**
   * The selection on device data enqueued on {@code stream}: a NaN {@code self*cross} is recorded
   * in {@code status} (reported by {@link DeviceStatus#check}) and keep's contents are then unspecified.
   */
  public static void selectKeep(long n, Spans spans, Data self, Data cross, long drop, Data keep, DeviceStatus status,
      CudaStream stream) {
    requireDeviceCall(stream, "self,cross,keep", self, cross, keep);
    CudaOps.selectKeep(n, spans, dev(self), dev(cross), drop, dev(keep), status, stream);
  }

  public static int[] selectKeep(long n, Spans spans, float[] self, float[] cross, long drop) {
    return selectKeep(Backend.CPU, n, spans, self, cross, drop);
  }

  /** Selection on a backend; both give the same indices on the same scores. */
  public static int[] selectKeep(Backend backend, long n, Spans spans, float[] self, float[] cross, long drop) {
    require(spans, "spans").requireSelect(n, drop);
    requireArray(self, "self", "[V]", spans.visual()); // before allocating keep
    requireArray(cross, "cross", "[V]", spans.visual());
    try (ArrayCall in = ArrayCall.of(choose(backend, ElementType.FP32), ElementType.FP32)) {
      Data keep = in.output(ElementType.INT32, n - drop, "keep");
      selectKeep(n, spans, in.input(self), in.input(cross), drop, keep);
      return keep.toInts();
    }
  }

  /**
   * The selection for every sequence of a packed batch, {@code drop[b]} tokens from sequence b:
   * keep receives the {@code N - sum(drop)} global row indices, ascending, so one
   * {@link #gatherRows} compacts the whole batch. Host memory only.
   */
  public static void selectKeep(Batch batch, Spans[] spans, Data self, Data cross, long[] drop, Data keep) {
    requireHost("the packed selectKeep", "self,cross,keep", self, cross, keep);
    CpuBatchOps.selectKeep(batch, spans, self, cross, drop, keep);
  }

  public static int[] selectKeep(Batch batch, Spans[] spans, float[] self, float[] cross, long[] drop) {
    Objects.requireNonNull(batch, "batch");
    long[] flat = CpuBatchOps.flatSpans(batch, spans);
    long dropped = CpuBatchOps.totalDrop(batch, flat, drop); // inputs before allocating keep
    requireArray(self, "self", "[sum V_b]", CpuBatchOps.totalVisual(flat));
    int[] keep = new int[Lengths.arrayLength("keep", batch.tokens() - dropped, Integer.BYTES)];
    selectKeep(batch, spans, Data.of(self), Data.of(require(cross, "cross")), drop, Data.of(keep));
    return keep;
  }

  // ---- gather ----

  /**
   * {@code dst[r,:] = src[index[r],:]} for {@code r < index.length()}, rows of {@code width}
   * elements of any type (hidden states and attention output: {@code width = D}; K/V:
   * {@code width = G*d}; position ids: int32, width 1); index int32. {@code dst} may be {@code src}
   * itself: on the CPU with strictly ascending indices (compaction), on CUDA with any. On the
   * device without a stream, an index outside {@code [0, rows)} is a {@link FitPruneException}.
   */
  public static void gatherRows(Data src, long rows, long width, Data index, Data dst) {
    if (onDevice("src,index,dst", src, index, dst)) {
      try (DeviceStatus status = DeviceStatus.allocate()) {
        CudaOps.gatherRows(dev(src), rows, width, dev(index), dev(dst), status, CudaStream.DEFAULT);
        status.check(CudaStream.DEFAULT);
      }
    } else {
      CpuOps.gatherRows(src, rows, width, index, dst);
    }
  }

  /**
   * The gather on device data enqueued on {@code stream}: an index outside {@code [0, rows)} is
   * never read, its row is zero-filled and recorded in {@code status}.
   */
  public static void gatherRows(Data src, long rows, long width, Data index, Data dst, DeviceStatus status,
      CudaStream stream) {
    requireDeviceCall(stream, "src,index,dst", src, index, dst);
    CudaOps.gatherRows(dev(src), rows, width, dev(index), dev(dst), status, stream);
  }

  public static float[] gatherRows(float[] src, long width, int[] index) {
    long rows = rowsOf(require(src, "src").length, width);
    float[] dst = new float[gatheredLength(index, width)];
    gatherRows(Data.of(src), rows, width, Data.of(index), Data.of(dst));
    return dst;
  }

  public static int[] gatherRows(int[] src, long width, int[] index) {
    long rows = rowsOf(require(src, "src").length, width);
    int[] dst = new int[gatheredLength(index, width)];
    gatherRows(Data.of(src), rows, width, Data.of(index), Data.of(dst));
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

  // ---- decode ----

  /**
   * Decode attention of a batch over per-sequence K/V caches. {@code shape.batch()} describes the
   * new tokens (rows of q {@code [Nq,H,d]}, at least one per sequence: one per step, or a few for
   * speculative decoding). Sequence b's cache is {@code kCaches[b]}, {@code vCaches[b]}, each
   * {@code [cap_b,G,d]} (row-major, cap_b >= kvLengths[b]) whose first {@code kvLengths[b]} rows
   * are valid and end with the new tokens' K/V; new token t sees cache rows
   * {@code [0, kvLengths[b] - q_len_b + t]}. Writes out {@code [Nq,H,d]} and, unless null, lse
   * {@code [H,Nq]}. q and the caches float32 or bfloat16 (fp32 accumulation, softmax and LSE, q.k
   * the pairwise dot product of the bf16 prefill, P*V with fp32 probabilities; every CPU path
   * gives the same bits); out float32 or q's type. Caches in native memory are read in place.
   */
  public static void decodeAttention(BatchShape shape, Data q, Data[] kCaches, Data[] vCaches, long[] kvLengths,
      Data out, Data lse) {
    if (onDevice(shape, q, kCaches, vCaches, out, lse)) {
      CudaOps.decodeAttention(shape, dev(q), devs(kCaches), devs(vCaches), kvLengths, dev(out), dev(lse),
          CudaStream.DEFAULT);
      sync();
    } else {
      CpuBatchOps.decodeAttention(shape, q, kCaches, vCaches, kvLengths, out, lse);
    }
  }

  /** As {@link #decodeAttention(BatchShape, Data, Data[], Data[], long[], Data, Data)} on device data, enqueued on {@code stream}. */
  public static void decodeAttention(BatchShape shape, Data q, Data[] kCaches, Data[] vCaches, long[] kvLengths,
      Data out, Data lse, CudaStream stream) {
    if (!onDevice(shape, q, kCaches, vCaches, out, lse)) requireDeviceCall(stream, "q", q);
    Objects.requireNonNull(stream, "stream");
    CudaOps.decodeAttention(shape, dev(q), devs(kCaches), devs(vCaches), kvLengths, dev(out), dev(lse), stream);
  }

  /** Decode attention on arrays (float32, CPU). */
  public static AttentionOutput decodeAttention(BatchShape shape, float[] q, float[][] kCaches, float[][] vCaches,
      long[] kvLengths) {
    Objects.requireNonNull(shape, "shape");
    int B = shape.batch().size();
    requireCount(require(kCaches, "kCaches").length, B, "kCaches");
    requireCount(require(vCaches, "vCaches").length, B, "vCaches");
    Data[] kd = new Data[B], vd = new Data[B];
    for (int b = 0; b < B; b++) {
      kd[b] = Data.of(require(kCaches[b], "kCaches[" + b + "]"));
      vd[b] = Data.of(require(vCaches[b], "vCaches[" + b + "]"));
    }
    AttentionShape all = shape.packed();
    float[] out = new float[Lengths.arrayLength("out", all.qLength(), Float.BYTES)];
    float[] lse = new float[Lengths.arrayLength("lse", all.lseLength(), Float.BYTES)];
    decodeAttention(shape, Data.of(require(q, "q")), kd, vd, kvLengths, Data.of(out), Data.of(lse));
    return new AttentionOutput(out, lse);
  }

  // ---- Row-wise steps of a decoder layer ----

  /**
   * RMSNorm of the rows of x {@code [rows, width]} into y (which may be x):
   * {@code y = x / sqrt(mean(x^2) + eps) * weight}, float32 host memory, weight {@code [width]}.
   * Each square is rounded to float32 and the squares are summed in order in double; the scale is
   * rounded to float32 and applied without fused multiply-adds, so the bits are those of the same
   * loop in Java. One thread: a decode step's rows are a few thousand values.
   */
  public static void rmsNorm(Data x, Data y, long rows, long width, Data weight, double eps) {
    requireHost("rmsNorm", "x,y,weight", x, y, weight);
    RowOps.rmsNorm(x, y, rows, width, weight, eps);
  }

  /**
   * float32 values of src rounded to bfloat16 into dst (of the same length), round to nearest
   * even; NaN stays NaN. {@link Bf16#fromFloat} value by value, in native code: a decode step
   * rounds q for the attention and each new K/V row into bf16 caches.
   */
  public static void roundBf16(Data src, Data dst) {
    requireHost("roundBf16", "src,dst", src, dst);
    RowOps.roundBf16(src, dst);
  }

  // ---- K/V caches ----

  /**
   * Appends a step's K/V (after RoPE) to contiguous caches: rows of sequence b of k and v
   * {@code [Nq,G,d]} ({@code shape.batch()} gives the new tokens per sequence) go to rows
   * {@code [kvLengths[b], kvLengths[b] + q_len_b)} of {@code kCaches[b]}, {@code vCaches[b]}
   * {@code [cap_b,G,d]}, whose capacity is their length. kvLengths is not changed. Nothing is
   * written when any sequence's rows would pass its capacity (the exception names it). On device
   * data: one device-to-device copy per sequence and tensor, of any element type.
   */
  public static void appendKv(BatchShape shape, Data k, Data v, Data[] kCaches,
      Data[] vCaches, long[] kvLengths) {
    if (onDevice("k,v", kCaches, vCaches, k, v)) {
      CudaKvOps.appendKv(shape, dev(k), dev(v), devs(kCaches), devs(vCaches), kvLengths, CudaStream.DEFAULT);
      sync();
    } else {
      KvCaches.appendKv(shape, k, v, kCaches, vCaches, kvLengths);
    }
  }

  /** As {@link #appendKv(BatchShape, Data, Data, Data[], Data[], long[])} on device data, enqueued on {@code stream}. */
  public static void appendKv(BatchShape shape, Data k, Data v, Data[] kCaches, Data[] vCaches, long[] kvLengths,
      CudaStream stream) {
    if (!onDevice("k,v", kCaches, vCaches, k, v)) requireDeviceCall(stream, "k", k);
    Objects.requireNonNull(stream, "stream");
    CudaKvOps.appendKv(shape, dev(k), dev(v), devs(kCaches), devs(vCaches), kvLengths, stream);
  }

  /**
   * Appends rows of k and v {@code [n,G,d]} to a paged cache as vLLM's {@code reshape_and_cache}:
   * row i goes to slot {@code slots[i] = block * blockSize + offset} (from
   * {@link PagedKvCache#reserve}); a negative slot (a padding row) is skipped. On a device cache
   * the slots are copied to the device for each call (on the call's stream).
   */
  public static void appendKv(Data k, Data v, PagedKvCache cache, long[] slots) {
    if (onDevice("k,v,cache", k, v, require(cache, "cache").keys())) {
      CudaKvOps.appendKv(dev(k), dev(v), cache, slots, CudaStream.DEFAULT);
      sync();
    } else {
      KvCaches.appendKv(k, v, cache, slots);
    }
  }

  /** As {@link #appendKv(Data, Data, PagedKvCache, long[])} on a device cache, enqueued on {@code stream}. */
  public static void appendKv(Data k, Data v, PagedKvCache cache, long[] slots, CudaStream stream) {
    requireDeviceCall(stream, "k,v,cache", k, v, require(cache, "cache").keys());
    CudaKvOps.appendKv(dev(k), dev(v), cache, slots, stream);
  }

  /**
   * Decode attention over paged caches, as
   * {@link #decodeAttention(BatchShape, Data, Data[], Data[], long[], Data, Data)}
   * (same rules and bits) but with sequence b's cache rows in blocks of pools k and v
   * {@code [numBlocks, blockSize, G, d]}: row r is row {@code r % blockSize} of block
   * {@code blockTable[b * maxBlocks + r / blockSize]}, blockTable {@code [B, maxBlocks]} (vLLM's and
   * FlashAttention's layout). Each layer passes its own table and lengths. Every block id a sequence
   * uses is checked against the pools. On device data the block table and lengths are copied to
   * the device for each call (on the call's stream); fp32, fp16 or bf16, out of q's type, head dims
   * 64 and 128.
   */
  public static void pagedDecodeAttention(BatchShape shape, Data q, Data kPool, Data vPool,
      int blockSize, int[] blockTable, long[] kvLengths, Data out, Data lse) {
    if (onDevice("q,kPool,vPool,out,lse", q, kPool, vPool, out, lse)) {
      CudaKvOps.pagedDecodeAttention(shape, dev(q), dev(kPool), dev(vPool), blockSize, blockTable, kvLengths, dev(out),
          dev(lse), CudaStream.DEFAULT);
      sync();
    } else {
      KvCaches.pagedDecodeAttention(shape, q, kPool, vPool, blockSize, blockTable, kvLengths, out, lse);
    }
  }

  /** As {@link #pagedDecodeAttention(BatchShape, Data, Data, Data, int, int[], long[], Data, Data)} on device data, enqueued on {@code stream}. */
  public static void pagedDecodeAttention(BatchShape shape, Data q, Data kPool, Data vPool, int blockSize,
      int[] blockTable, long[] kvLengths, Data out, Data lse, CudaStream stream) {
    requireDeviceCall(stream, "q,kPool,vPool,out,lse", q, kPool, vPool, out, lse);
    CudaKvOps.pagedDecodeAttention(shape, dev(q), dev(kPool), dev(vPool), blockSize, blockTable, kvLengths, dev(out),
        dev(lse), stream);
  }

  /**
   * Packed prefill attention over a cached prefix (prefix caching, chunked prefill): sequence b's
   * queries are rows {@code shape.batch()} of q {@code [Nq,H,d]}, its keys and values rows
   * {@code keys} of k and v {@code [Nk,G,d]} (at least as many as its queries, ending with the
   * queries' own), and query t sees keys {@code [0, k_len_b - q_len_b + t]}; logits scaled by
   * {@code shape.softmaxScale()}. Writes out {@code [Nq,H,d]} and lse {@code [H,Nq]}. With
   * {@code keys} equal to the queries' batch, the bits of
   * {@link #attention(BatchShape, Data, Data, Data, Data, Data)}.
   *
   * <p>On device data (fp32, fp16 or bf16, out of q's type, head dims 64 and 128) it runs the
   * decode kernel, which reads a sequence's visible keys once per 8 query rows (queries x H/G): right
   * for chunks of up to a few hundred queries over a long prefix, slower than the prefill kernel on
   * long chunks; equal to the CPU within fp32 rounding.
   */
  public static void attention(BatchShape shape, Batch keys, Data q, Data k, Data v,
      Data out, Data lse) {
    if (onDevice("q,k,v,out,lse", q, k, v, out, lse)) {
      CudaKvOps.attention(shape, keys, dev(q), dev(k), dev(v), dev(out), dev(lse), CudaStream.DEFAULT);
      sync();
    } else {
      KvCaches.attention(shape, keys, q, k, v, out, lse);
    }
  }

  /** As {@link #attention(BatchShape, Batch, Data, Data, Data, Data, Data)} on device data, enqueued on {@code stream}. */
  public static void attention(BatchShape shape, Batch keys, Data q, Data k, Data v, Data out, Data lse,
      CudaStream stream) {
    requireDeviceCall(stream, "q,k,v,out,lse", q, k, v, out, lse);
    CudaKvOps.attention(shape, keys, dev(q), dev(k), dev(v), dev(out), dev(lse), stream);
  }

  /**
   * Paged decode attention of sequences {@code seqs} of one layer's {@link PagedKvCache} (its tables
   * and lengths); runs where the cache's pools live (a device cache: its table copied to the device
   * for each call).
   */
  public static void pagedDecodeAttention(BatchShape shape, Data q, PagedKvCache cache, int[] seqs,
      Data out, Data lse) {
    require(cache, "cache");
    require(seqs, "seqs");
    pagedDecodeAttention(shape, q, cache.keys(), cache.values(), cache.blockSize(), cache.blockTable(seqs),
        cache.lengths(seqs), out, lse);
  }

  /** As {@link #pagedDecodeAttention(BatchShape, Data, PagedKvCache, int[], Data, Data)} on a device cache, enqueued on {@code stream}. */
  public static void pagedDecodeAttention(BatchShape shape, Data q, PagedKvCache cache, int[] seqs, Data out, Data lse,
      CudaStream stream) {
    require(cache, "cache");
    require(seqs, "seqs");
    pagedDecodeAttention(shape, q, cache.keys(), cache.values(), cache.blockSize(), cache.blockTable(seqs),
        cache.lengths(seqs), out, lse, stream);
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
  public static void linear(Data x, long rows, Weight[] w, Data[] y, boolean accumulate) {
    LinearKernel.linear(x, rows, w, y, accumulate ? LinearKernel.ACCUMULATE : 0);
  }

  /** {@link #linear(Data, long, Weight[], Data[], boolean)} of one matrix, overwriting y. */
  public static void linear(Data x, long rows, Weight w, Data y) {
    LinearKernel.linear(x, rows, new Weight[] {w}, new Data[] {y}, 0);
  }

  /**
   * A SwiGLU MLP's first half in one pass over both weights: {@code y = silu(x gate^T) * (x up^T)}
   * ({@code silu(g) = g / (1 + e^-g)}, float32), with {@code upOut [rows, out]} as the second
   * product's room; as {@link #linear(Data, long, Weight[], Data[], boolean)} otherwise.
   */
  public static void linearSwiglu(Data x, long rows, Weight gate, Weight up, Data y, Data upOut) {
    LinearKernel.linear(x, rows, new Weight[] {gate, up}, new Data[] {y, upOut}, LinearKernel.SWIGLU);
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
   * Refuses float32 data holding NaN or infinity with an {@link IllegalArgumentException} that
   * names {@code tensor} and the first bad position, e.g. {@code "embeds [n,D] is not finite at
   * [3, 17] (NaN)"}. {@code dims} give the row-major shape for the position (and are checked
   * against the length); {@code names} spells them, e.g. "[n,D]". A native scan on host memory:
   * about memory bandwidth.
   */
  public static void requireFinite(String tensor, String names, Data x, long... dims) {
    requireHost("requireFinite", tensor, x);
    CpuOps.requireFp32(x, tensor).requireShape(tensor, names, dims);
    long at = CpuOps.firstNonFinite(x);
    if (at < 0) return;
    float value = ((HostData) x).floatAt(at);
    long[] pos = new long[dims.length];
    long rest = at;
    for (int i = dims.length - 1; i >= 0; i--) {
      pos[i] = rest % dims[i];
      rest /= dims[i];
    }
    throw new IllegalArgumentException(tensor + " " + names + " is not finite at " + java.util.Arrays.toString(pos)
        + " (" + value + ")");
  }

  /** As {@link #requireFinite(String, String, Data, long...)} for a Java array. */
  public static void requireFinite(String tensor, String names, float[] x, long... dims) {
    requireFinite(tensor, names, Data.of(require(x, tensor)), dims);
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
            + info().cudaStatus() + ")");
      throw new IllegalArgumentException("dtype " + type + " needs the CUDA backend (the CPU backend computes in fp32 and bf16)");
    }
    if (b == Backend.CUDA) CudaBackend.requireDevice();
    return b;
  }

  /**
   * True when the native library loaded, it has the CUDA backend, CUDA is not disabled
   * ({@link #CUDA_DISABLE_PROPERTY}) and a device is present. Never throws.
   */
  public static boolean cudaAvailable() {
    return CudaBackend.unavailabilityCause() == null;
  }

  /**
   * Why the CUDA backend cannot be used (the native library's load failure, or a
   * {@link FitPruneException} saying what the driver reported or that CUDA is disabled), or null.
   */
  public static Throwable cudaUnavailabilityCause() {
    return CudaBackend.unavailabilityCause();
  }

  /** The backends' description (cached after the first query). */
  public static BackendInfo info() {
    return CudaBackend.info();
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

  static <T> T require(T value, String name) {
    if (value == null) throw new NullPointerException(name + " is null");
    return value;
  }

  // ---- where the arguments live ----

  /**
   * True when the non-null arguments all live on the device, false when all in host memory; a mix
   * is refused naming the first argument that lives elsewhere than the first one. {@code names}:
   * the arguments' names, comma-separated.
   */
  private static boolean onDevice(String names, Data... args) {
    int first = -1;
    for (int i = 0; i < args.length; i++) {
      if (args[i] == null) continue;
      if (first < 0) {
        first = i;
      } else if (args[i].onDevice() != args[first].onDevice()) {
        String[] name = names.split(","); // only for the message: the check itself allocates nothing
        throw new IllegalArgumentException(name[i] + ": lives " + where(args[i]) + " but " + name[first] + " "
            + where(args[first]) + "; a call runs where its data lives, so pass every argument in one place");
      }
    }
    return first >= 0 && args[first].onDevice();
  }

  private static boolean onDevice(BatchShape shape, Data q, Data[] kCaches, Data[] vCaches, Data out, Data lse) {
    boolean device = onDevice("q,out,lse", q, out, lse);
    for (int kv = 0; kv < 2; kv++) {
      Data[] caches = kv == 0 ? kCaches : vCaches;
      if (caches == null || q == null) continue;
      for (int b = 0; b < caches.length; b++)
        if (caches[b] != null && caches[b].onDevice() != device)
          throw new IllegalArgumentException((kv == 0 ? "kCaches[" : "vCaches[") + b + "]: lives " + where(caches[b])
              + " but q " + where(q) + "; a call runs where its data lives, so pass every argument in one place");
    }
    return device;
  }

  /** {@link #onDevice(String, Data...)} over {@code args} and every cache, a cache named by its index. */
  private static boolean onDevice(String names, Data[] kCaches, Data[] vCaches, Data... args) {
    boolean device = onDevice(names, args);
    Data first = java.util.Arrays.stream(args).filter(Objects::nonNull).findFirst().orElse(null);
    for (int kv = 0; kv < 2 && first != null; kv++) {
      Data[] caches = kv == 0 ? kCaches : vCaches;
      if (caches == null) continue;
      for (int b = 0; b < caches.length; b++)
        if (caches[b] != null && caches[b].onDevice() != device)
          throw new IllegalArgumentException((kv == 0 ? "kCaches[" : "vCaches[") + b + "]: lives " + where(caches[b])
              + " but " + names.split(",")[0] + " " + where(first)
              + "; a call runs where its data lives, so pass every argument in one place");
    }
    return device;
  }

  private static String where(Data d) {
    return d.onDevice() ? "on the device" : "in host memory";
  }

  /** A call with a stream: its data must live on the device. */
  private static void requireDeviceCall(CudaStream stream, String names, Data... args) {
    Objects.requireNonNull(stream, "stream");
    if (!onDevice(names, args) && java.util.Arrays.stream(args).anyMatch(Objects::nonNull))
      throw new IllegalArgumentException("stream: the arguments live in host memory, where the CPU kernels run; "
          + "a CudaStream goes with device data (DeviceBuffer) only");
  }

  /** A call the CPU alone has: its data must live in host memory. */
  private static void requireHost(String call, String names, Data... args) {
    if (onDevice(names, args))
      throw new IllegalArgumentException(names.split(",")[0] + ": lives on the device, but " + call
          + " runs on the CPU only; pass host memory");
  }

  private static DeviceBuffer dev(Data d) {
    return (DeviceBuffer) d;
  }

  private static DeviceBuffer[] devs(Data[] d) {
    if (d == null) return null;
    DeviceBuffer[] out = new DeviceBuffer[d.length];
    for (int i = 0; i < d.length; i++) out[i] = (DeviceBuffer) d[i];
    return out;
  }

  private static void sync() {
    check(FitPruneNative.fp_cuda_stream_synchronize(null));
  }

  private static void requireArray(float[] a, String name, String dims, long... expected) {
    Data.of(require(a, name)).requireShape(name, dims, expected);
  }

  private static void requireCount(int got, int expected, String name) {
    if (got != expected)
      throw new IllegalArgumentException(name + ": expected one entry per sequence (" + expected + "), got " + got);
  }
}
