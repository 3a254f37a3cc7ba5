package io.fitprune.kernels;

import java.util.Objects;

/**
 * The CUDA side of {@link Kernels}, on {@link DeviceBuffer}s: attention forward with LSE
 * (FP16/BF16 on the tensor cores, FP32 exact and slower; head dims 64 and 128), the score pass,
 * selection, row gathers and decode attention. Every call only enqueues work on the given stream:
 * no device-wide synchronisation and no read-back; bad data found on the GPU is recorded in a
 * {@link DeviceStatus}. Arguments are validated here, before any native call.
 */
final class CudaOps {
  private CudaOps() {}

  // ---- attention ----

  /** Causal attention with GQA: q, k, v, out of one float type; lse FP32 {@code [H,n]}. */
  static void attention(AttentionShape shape, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
      DeviceBuffer lse, CudaStream stream) {
    Objects.requireNonNull(shape, "shape");
    requireHeadDim(shape);
    ElementType t = floatType(q, "q");
    requireAttention(shape, "n", t, q, k, v, out, lse);
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_attention(q.pointer(), k.pointer(), v.pointer(), shape.tokens(),
        shape.heads(), shape.kvHeads(), shape.headDim(), t.code, shape.softmaxScale(), out.pointer(), lse.pointer(),
        stream.pointer()));
  }

  // ---- scores ----

  /** FitPrune self and cross scores (FP32, V each) from q, k (one float type) and the FP32 LSE. */
  static void scores(AttentionShape shape, Spans spans, DeviceBuffer q, DeviceBuffer k, DeviceBuffer lse,
      DeviceBuffer self, DeviceBuffer cross, CudaStream stream) {
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(spans, "spans");
    spans.requireWithin(shape.tokens());
    requireHeadDim(shape);
    ElementType t = floatType(q, "q");
    requireScores(shape, "n", t, q, k, lse, spans.visual(), "[V]", self, cross);
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_scores(q.pointer(), k.pointer(), lse.pointer(), shape.tokens(), shape.heads(),
        shape.kvHeads(), shape.headDim(), t.code, shape.softmaxScale(), spans.prefix(), spans.visual(), self.pointer(),
        cross.pointer(), stream.pointer()));
  }

  // ---- select ----

  /**
   * The selection: a NaN {@code self*cross} is recorded in {@code status} (reported by
   * {@link DeviceStatus#check}) and keep's contents are then unspecified.
   */
  static void selectKeep(long n, Spans spans, DeviceBuffer self, DeviceBuffer cross, long drop, DeviceBuffer keep,
      DeviceStatus status, CudaStream stream) {
    Objects.requireNonNull(spans, "spans").requireSelect(n, drop); // the one check of every select entry point
    require(self, "self", ElementType.FP32, spans.visual(), "[V]");
    require(cross, "cross", ElementType.FP32, spans.visual(), "[V]");
    require(keep, "keep", ElementType.INT32, n - drop, "[n-k]");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_select_keep_async(self.pointer(), cross.pointer(), n, spans.prefix(),
        spans.visual(), drop, keep.pointer(), status.pointer(), stream.pointer()));
  }

  // ---- gather ----

  /**
   * {@code dst[r,:] = src[index[r],:]}, rows of {@code width} elements of any type; index INT32;
   * {@code dst} may be {@code src} (in place, any indices, count <= rows). An index outside
   * {@code [0, rows)} is never read, its row is zero-filled and recorded in {@code status}.
   */
  static void gatherRows(DeviceBuffer src, long rows, long width, DeviceBuffer index, DeviceBuffer dst,
      DeviceStatus status, CudaStream stream) {
    Objects.requireNonNull(src, "src");
    Objects.requireNonNull(index, "index");
    Objects.requireNonNull(dst, "dst");
    if (rows < 0) throw new IllegalArgumentException("rows must be >= 0, got " + rows);
    if (width <= 0) throw new IllegalArgumentException("width must be > 0, got " + width);
    if (index.type() != ElementType.INT32) throw new IllegalArgumentException("index: expected int32, got " + index.type());
    if (dst.type() != src.type())
      throw new IllegalArgumentException("dst: expected " + src.type() + " like src, got " + dst.type());
    long count = index.length();
    require(src, "src", src.type(), Lengths.product("src [rows,width]", rows, width), "[rows,width]");
    Lengths.product("src bytes", rows, width, src.type().bytes);
    if (dst.length() < Lengths.product("dst [count,width]", count, width))
      throw new IllegalArgumentException("dst: expected at least " + count * width + " " + dst.type()
          + " values ([count,width] = [" + count + ", " + width + "]), got " + dst.length());
    if (src.pointer().address() == dst.pointer().address() && count > rows)
      throw new IllegalArgumentException("index: in-place gather cannot produce more rows (" + count + ") than src has ("
          + rows + ")");
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_gather_rows(src.pointer(), rows, width * src.type().bytes, index.pointer(),
        count, dst.pointer(), status.pointer(), stream.pointer()));
  }

  // ---- packed batches and decode ----

  /**
   * The packed attention: fp16/bf16 in one call on the tensor cores; fp32 (exact, no packed
   * kernel) sequence by sequence on slices of the same memory, each sequence's LSE through a
   * temporary {@code [H,n_b]} that is copied into its columns of lse on the stream.
   */
  static void attention(BatchShape shape, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
      DeviceBuffer lse, CudaStream stream) {
    Objects.requireNonNull(shape, "shape");
    AttentionShape all = shape.packed();
    requireHeadDim(all);
    ElementType t = floatType(q, "q");
    requireAttention(all, "N", t, q, k, v, out, lse);
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    if (t == ElementType.FP32) {
      bySequence(shape, lse, stream, true, (one, b, seqLse) -> attention(one, slice(q, shape, b, true),
          slice(k, shape, b, false), slice(v, shape, b, false), slice(out, shape, b, true), seqLse, stream));
      return;
    }
    long[] cu = shape.batch().raw();
    Kernels.check(FitPruneNative.fp_cuda_attention_varlen(q.pointer(), k.pointer(), v.pointer(), cu, cu.length - 1,
        shape.heads(), shape.kvHeads(), shape.headDim(), t.code, shape.softmaxScale(), out.pointer(), lse.pointer(),
        stream.pointer()));
  }

  /** The packed score pass; fp32 sequence by sequence, as {@link #attention(BatchShape, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer, CudaStream)}. */
  static void scores(BatchShape shape, Spans[] spans, DeviceBuffer q, DeviceBuffer k, DeviceBuffer lse,
      DeviceBuffer self, DeviceBuffer cross, CudaStream stream) {
    Objects.requireNonNull(shape, "shape");
    long[] flat = CpuBatchOps.flatSpans(shape.batch(), spans);
    AttentionShape all = shape.packed();
    requireHeadDim(all);
    ElementType t = floatType(q, "q");
    requireScores(all, "N", t, q, k, lse, CpuBatchOps.totalVisual(flat), "[sum V_b]", self, cross);
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    if (t == ElementType.FP32) {
      long[] visual0 = new long[shape.batch().size() + 1];
      for (int b = 0; b < spans.length; b++) visual0[b + 1] = visual0[b] + spans[b].visual();
      bySequence(shape, lse, stream, false, (one, b, seqLse) -> scores(one, spans[b], slice(q, shape, b, true),
          slice(k, shape, b, false), seqLse, self.slice(visual0[b], spans[b].visual()),
          cross.slice(visual0[b], spans[b].visual()), stream));
      return;
    }
    long[] cu = shape.batch().raw();
    Kernels.check(FitPruneNative.fp_cuda_scores_varlen(q.pointer(), k.pointer(), lse.pointer(), cu, cu.length - 1,
        shape.heads(), shape.kvHeads(), shape.headDim(), t.code, shape.softmaxScale(), flat, self.pointer(),
        cross.pointer(), stream.pointer()));
  }

  /** One sequence's call of a packed fp32 batch, with that sequence's LSE {@code [H,n_b]}. */
  private interface SequenceCall {
    void run(AttentionShape one, int b, DeviceBuffer seqLse);
  }

  /**
   * Runs {@code call} for every sequence with a temporary LSE; the packed LSE's columns of the
   * sequence are copied out to it first ({@code lseOut} false: the call reads it) or back from it
   * after ({@code lseOut} true: the call writes it), as stream-ordered device copies.
   */
  private static void bySequence(BatchShape shape, DeviceBuffer lse, CudaStream stream, boolean lseOut, SequenceCall call) {
    Batch batch = shape.batch();
    long longest = 0;
    for (int b = 0; b < batch.size(); b++) longest = Math.max(longest, batch.length(b));
    int H = shape.heads();
    long N = batch.tokens();
    try (DeviceBuffer tmp = DeviceBuffer.allocate(ElementType.FP32, Lengths.product("lse [H,n_b]", H, longest))) {
      for (int b = 0; b < batch.size(); b++) {
        long n = batch.length(b), s0 = batch.start(b);
        if (n == 0) continue;
        DeviceBuffer seqLse = tmp.view(H * n);
        for (int h = 0; !lseOut && h < H; h++) copy(lse.slice(h * N + s0, n), seqLse.slice(h * n, n), stream);
        call.run(shape.sequence(b), b, seqLse);
        for (int h = 0; lseOut && h < H; h++) copy(seqLse.slice(h * n, n), lse.slice(h * N + s0, n), stream);
      }
      // the temporary is freed when the stream's work on it is done: cudaFree waits for the device
    }
  }

  private static void copy(DeviceBuffer from, DeviceBuffer to, CudaStream stream) {
    Kernels.check(FitPruneNative.fp_cuda_convert(from.pointer(), from.type().code, to.pointer(), to.type().code,
        from.length(), stream.pointer()));
  }

  /** Sequence b's rows of a packed q-like ({@code [N,H,d]}) or k-like ({@code [N,G,d]}) buffer. */
  private static DeviceBuffer slice(DeviceBuffer x, BatchShape shape, int b, boolean queryHeads) {
    long row = (long) (queryHeads ? shape.heads() : shape.kvHeads()) * shape.headDim();
    return x.slice(shape.batch().start(b) * row, shape.batch().length(b) * row);
  }

  /**
   * Decode attention over per-sequence K/V caches on the device: q, the caches and out of one
   * float type, lse FP32 (or null).
   */
  static void decodeAttention(BatchShape shape, DeviceBuffer q, DeviceBuffer[] kCaches, DeviceBuffer[] vCaches,
      long[] kvLengths, DeviceBuffer out, DeviceBuffer lse, CudaStream stream) {
    Objects.requireNonNull(shape, "shape");
    AttentionShape all = shape.packed();
    requireHeadDim(all);
    ElementType t = floatType(q, "q");
    require(q, "q", t, all.qLength(), "[Nq,H,d]");
    require(out, "out", t, all.qLength(), "[Nq,H,d]");
    if (lse != null) require(lse, "lse", ElementType.FP32, all.lseLength(), "[H,Nq]");
    Batch batch = shape.batch();
    int B = batch.size();
    Objects.requireNonNull(kCaches, "kCaches");
    Objects.requireNonNull(vCaches, "vCaches");
    Objects.requireNonNull(kvLengths, "kvLengths");
    if (kCaches.length != B || vCaches.length != B || kvLengths.length != B)
      throw new IllegalArgumentException("kCaches, vCaches, kvLengths: expected one entry per sequence (" + B + "), got "
          + kCaches.length + ", " + vCaches.length + ", " + kvLengths.length);
    long row = (long) shape.kvHeads() * shape.headDim();
    long[] kp = new long[B], vp = new long[B];
    for (int b = 0; b < B; b++) {
      CpuBatchOps.requireDecodeLength(batch, kvLengths, b);
      for (DeviceBuffer c : new DeviceBuffer[] {kCaches[b], vCaches[b]}) {
        String name = (c == kCaches[b] ? "kCaches[" : "vCaches[") + b + "]";
        if (c == null) throw new NullPointerException(name + " is null");
        if (c.type() != t) throw new IllegalArgumentException(name + ": expected " + t + " like q, got " + c.type());
        if (c.length() < kvLengths[b] * row)
          throw new IllegalArgumentException(name + ": expected at least " + kvLengths[b] * row + " values ([cap,G,d] with cap >= "
              + kvLengths[b] + "), got " + c.length());
      }
      kp[b] = kCaches[b].pointer().address();
      vp[b] = vCaches[b].pointer().address();
    }
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_decode_attention(q.pointer(), batch.raw(), B, shape.heads(), shape.kvHeads(),
        shape.headDim(), t.code, shape.softmaxScale(), kp, vp, kvLengths, out.pointer(), lse == null ? null : lse.pointer(), stream.pointer()));
  }

  // ---- helpers ----

  static void requireHeadDim(AttentionShape shape) {
    if (shape.headDim() != 64 && shape.headDim() != 128)
      throw new IllegalArgumentException("headDim (d): the CUDA kernels support 64 and 128, got " + shape.headDim());
  }

  static ElementType floatType(DeviceBuffer b, String name) {
    Objects.requireNonNull(b, name);
    if (!b.type().isFloat()) throw new IllegalArgumentException(name + ": expected fp32, fp16 or bf16, got " + b.type());
    return b.type();
  }

  /** The buffers of an attention call: q, k, v, out of type t, lse fp32; {@code rows} names the token dimension (n, or N packed). */
  private static void requireAttention(AttentionShape shape, String rows, ElementType t, DeviceBuffer q, DeviceBuffer k,
      DeviceBuffer v, DeviceBuffer out, DeviceBuffer lse) {
    require(q, "q", t, shape.qLength(), "[" + rows + ",H,d]");
    require(k, "k", t, shape.kvLength(), "[" + rows + ",G,d]");
    require(v, "v", t, shape.kvLength(), "[" + rows + ",G,d]");
    require(out, "out", t, shape.qLength(), "[" + rows + ",H,d]");
    require(lse, "lse", ElementType.FP32, shape.lseLength(), "[H," + rows + "]");
  }

  /** The buffers of a score pass: q, k of type t, lse fp32 as in {@link #requireAttention}; self and cross fp32, {@code visual} long. */
  private static void requireScores(AttentionShape shape, String rows, ElementType t, DeviceBuffer q, DeviceBuffer k,
      DeviceBuffer lse, long visual, String visualDims, DeviceBuffer self, DeviceBuffer cross) {
    require(q, "q", t, shape.qLength(), "[" + rows + ",H,d]");
    require(k, "k", t, shape.kvLength(), "[" + rows + ",G,d]");
    require(lse, "lse", ElementType.FP32, shape.lseLength(), "[H," + rows + "]");
    require(self, "self", ElementType.FP32, visual, visualDims);
    require(cross, "cross", ElementType.FP32, visual, visualDims);
  }

  static void require(DeviceBuffer b, String name, ElementType type, long length, String dims) {
    if (b == null) throw new NullPointerException(name + " is null");
    if (b.type() != type) throw new IllegalArgumentException(name + ": expected " + type + ", got " + b.type());
    if (b.length() != length)
      throw new IllegalArgumentException(name + ": expected " + length + " " + type + " values for shape " + dims
          + ", got " + b.length());
  }
}
