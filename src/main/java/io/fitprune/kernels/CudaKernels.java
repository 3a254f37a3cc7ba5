package io.fitprune.kernels;

import java.util.Objects;

/**
 * The FitPrune kernels on the CUDA backend, on {@link DeviceBuffer}s: attention forward with LSE
 * (FP16/BF16 on the tensor cores, FP32 exact and slower; head dims 64 and 128), the score pass,
 * selection and row gathers. Arguments are validated here, as in {@link Kernels}, before any
 * native call; without a usable device every method fails with a {@link FitPruneException} whose
 * one-line message says why.
 *
 * <p>Two forms. The methods that take a {@link CudaStream} only enqueue work on it: no device-wide
 * synchronisation and no read-back, on the caller's memory ({@link DeviceBuffer#wrap}) and stream;
 * bad data is recorded in a {@link DeviceStatus} that the caller checks when it synchronises.
 * The methods without one are synchronous conveniences built on them: each waits for the GPU and
 * reports any error.
 */
public final class CudaKernels {
  private CudaKernels() {}

  /** System property: {@code true} keeps the library off the GPU (CUDA reports unavailable). Read on first use. */
  public static final String DISABLE_PROPERTY = "fitprune.cuda.disable";

  private static volatile BackendInfo info;

  static boolean disabled() {
    return Boolean.parseBoolean(System.getProperty(DISABLE_PROPERTY, "false").trim());
  }

  /**
   * True when the native library loaded, it has the CUDA backend, CUDA is not disabled and a
   * device is present. Never throws.
   */
  public static boolean isAvailable() {
    return unavailabilityCause() == null;
  }

  /**
   * Why the CUDA backend cannot be used (the native library's load failure, or a
   * {@link FitPruneException} saying what the driver reported or that CUDA is disabled), or null
   * when it can.
   */
  public static Throwable unavailabilityCause() {
    if (!NativeLibrary.isAvailable()) return NativeLibrary.unavailabilityCause();
    BackendInfo i = info();
    return i.cudaAvailable() ? null
        : new FitPruneException(FitPruneNative.FP_ERR_UNAVAILABLE, "CUDA backend unavailable: " + i.cudaStatus());
  }

  /** The backend description (cached after the first query). */
  public static BackendInfo info() {
    BackendInfo i = info;
    if (i == null) info = i = BackendInfo.query();
    return i;
  }

  /** Throws a one-line {@link FitPruneException} when there is no usable CUDA device (see {@link #unavailabilityCause()}). */
  public static void requireDevice() {
    NativeLibrary.ensureAvailability();
    Throwable cause = unavailabilityCause();
    if (cause != null) throw (FitPruneException) cause;
  }

  // ---- attention ----

  /** Causal attention with GQA: q, k, v, out of one float type; lse FP32 {@code [H,n]}. Synchronous. */
  public static void attention(AttentionShape shape, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
      DeviceBuffer lse) {
    attention(shape, q, k, v, out, lse, CudaStream.DEFAULT);
    sync();
  }

  /** As {@link #attention(AttentionShape, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer)}, enqueued on {@code stream}. */
  public static void attention(AttentionShape shape, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
      DeviceBuffer lse, CudaStream stream) {
    Objects.requireNonNull(shape, "shape");
    requireHeadDim(shape);
    ElementType t = floatType(q, "q");
    requireAttention(shape, "n", t, q, k, v, out, lse);
    Objects.requireNonNull(stream, "stream");
    requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_attention(q.pointer(), k.pointer(), v.pointer(), shape.tokens(),
        shape.heads(), shape.kvHeads(), shape.headDim(), t.code, out.pointer(), lse.pointer(), stream.pointer()));
  }

  /** Uploads host floats as {@code type}, runs attention, and returns out (as floats) and lse. */
  public static Kernels.AttentionOutput attention(AttentionShape shape, ElementType type, float[] q, float[] k, float[] v) {
    Objects.requireNonNull(shape, "shape");
    requireHostQk(shape, type, q, k);
    requireHost(v, "v", shape.kvLength(), "[n,G,d]");
    requireDevice();
    try (DeviceBuffer dq = DeviceBuffer.of(q, type); DeviceBuffer dk = DeviceBuffer.of(k, type);
        DeviceBuffer dv = DeviceBuffer.of(v, type); DeviceBuffer out = DeviceBuffer.allocate(type, shape.qLength());
        DeviceBuffer lse = DeviceBuffer.allocate(ElementType.FP32, shape.lseLength())) {
      attention(shape, dq, dk, dv, out, lse);
      return new Kernels.AttentionOutput(out.toFloats(), lse.toFloats());
    }
  }

  // ---- scores ----

  /** FitPrune self and cross scores (FP32, V each) from q, k (one float type) and the FP32 LSE. Synchronous. */
  public static void scores(AttentionShape shape, Spans spans, DeviceBuffer q, DeviceBuffer k, DeviceBuffer lse,
      DeviceBuffer self, DeviceBuffer cross) {
    scores(shape, spans, q, k, lse, self, cross, CudaStream.DEFAULT);
    sync();
  }

  /** As {@link #scores(AttentionShape, Spans, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer, DeviceBuffer)}, enqueued on {@code stream}. */
  public static void scores(AttentionShape shape, Spans spans, DeviceBuffer q, DeviceBuffer k, DeviceBuffer lse,
      DeviceBuffer self, DeviceBuffer cross, CudaStream stream) {
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(spans, "spans");
    spans.requireWithin(shape.tokens());
    requireHeadDim(shape);
    ElementType t = floatType(q, "q");
    requireScores(shape, "n", t, q, k, lse, spans.visual(), "[V]", self, cross);
    Objects.requireNonNull(stream, "stream");
    requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_scores(q.pointer(), k.pointer(), lse.pointer(), shape.tokens(), shape.heads(),
        shape.kvHeads(), shape.headDim(), t.code, spans.prefix(), spans.visual(), self.pointer(), cross.pointer(),
        stream.pointer()));
  }

  /** Host-array convenience: uploads q and k as {@code type} and the LSE, returns the scores. */
  public static Kernels.Scores scores(AttentionShape shape, Spans spans, ElementType type, float[] q, float[] k,
      float[] lse) {
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(spans, "spans");
    spans.requireWithin(shape.tokens());
    requireHostQk(shape, type, q, k);
    requireHost(lse, "lse", shape.lseLength(), "[H,n]");
    requireDevice();
    try (DeviceBuffer dq = DeviceBuffer.of(q, type); DeviceBuffer dk = DeviceBuffer.of(k, type);
        DeviceBuffer dl = DeviceBuffer.of(lse, ElementType.FP32);
        DeviceBuffer s = DeviceBuffer.allocate(ElementType.FP32, spans.visual());
        DeviceBuffer c = DeviceBuffer.allocate(ElementType.FP32, spans.visual())) {
      scores(shape, spans, dq, dk, dl, s, c);
      return new Kernels.Scores(s.toFloats(), c.toFloats());
    }
  }

  // ---- select ----

  /** As {@link Kernels#selectKeep(long, Spans, FloatData, FloatData, long, IntData)}, on the device. Synchronous. */
  public static void selectKeep(long n, Spans spans, DeviceBuffer self, DeviceBuffer cross, long drop, DeviceBuffer keep) {
    checkSelect(n, spans, self, cross, drop, keep);
    requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_select_keep(self.pointer(), cross.pointer(), n, spans.prefix(),
        spans.visual(), drop, keep.pointer(), null));
  }

  /**
   * The selection enqueued on {@code stream}: a NaN {@code self*cross} is recorded in
   * {@code status} (reported by {@link DeviceStatus#check}) and keep's contents are then unspecified.
   */
  public static void selectKeep(long n, Spans spans, DeviceBuffer self, DeviceBuffer cross, long drop, DeviceBuffer keep,
      DeviceStatus status, CudaStream stream) {
    checkSelect(n, spans, self, cross, drop, keep);
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(stream, "stream");
    requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_select_keep_async(self.pointer(), cross.pointer(), n, spans.prefix(),
        spans.visual(), drop, keep.pointer(), status.pointer(), stream.pointer()));
  }

  private static void checkSelect(long n, Spans spans, DeviceBuffer self, DeviceBuffer cross, long drop, DeviceBuffer keep) {
    Objects.requireNonNull(spans, "spans").requireSelect(n, drop); // the one check of every select entry point
    require(self, "self", ElementType.FP32, spans.visual(), "[V]");
    require(cross, "cross", ElementType.FP32, spans.visual(), "[V]");
    require(keep, "keep", ElementType.INT32, n - drop, "[n-k]");
  }

  // ---- gather ----

  /**
   * {@code dst[r,:] = src[index[r],:]}, rows of {@code width} elements of any type; index INT32.
   * {@code dst} may be {@code src} (the same memory: in place, any indices, count <= rows).
   * Synchronous: an index outside {@code [0, rows)} is a {@link FitPruneException}.
   */
  public static void gatherRows(DeviceBuffer src, long rows, long width, DeviceBuffer index, DeviceBuffer dst) {
    checkGather(src, rows, width, index, dst);
    requireDevice();
    try (DeviceStatus status = DeviceStatus.allocate()) {
      gatherRows(src, rows, width, index, dst, status, CudaStream.DEFAULT);
      status.check(CudaStream.DEFAULT);
    }
  }

  /**
   * The gather enqueued on {@code stream}: an index outside {@code [0, rows)} is never read, its
   * row is zero-filled and recorded in {@code status} (reported by {@link DeviceStatus#check}).
   */
  public static void gatherRows(DeviceBuffer src, long rows, long width, DeviceBuffer index, DeviceBuffer dst,
      DeviceStatus status, CudaStream stream) {
    long count = checkGather(src, rows, width, index, dst);
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(stream, "stream");
    requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_gather_rows(src.pointer(), rows, width * src.type().bytes, index.pointer(),
        count, dst.pointer(), status.pointer(), stream.pointer()));
  }

  private static long checkGather(DeviceBuffer src, long rows, long width, DeviceBuffer index, DeviceBuffer dst) {
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
    return count;
  }

  // ---- packed batches and decode ----

  /** As {@link Kernels#attention(BatchShape, FloatData, FloatData, FloatData, FloatData, FloatData)}, fp16 or bf16 on the device. */
  public static void attention(BatchShape shape, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer out,
      DeviceBuffer lse) {
    Objects.requireNonNull(shape, "shape");
    AttentionShape all = shape.packed();
    requireHeadDim(all);
    ElementType t = halfType(q, "q");
    requireAttention(all, "N", t, q, k, v, out, lse);
    requireDevice();
    long[] cu = shape.batch().raw();
    Kernels.check(FitPruneNative.fp_cuda_attention_varlen(q.pointer(), k.pointer(), v.pointer(), cu, cu.length - 1,
        shape.heads(), shape.kvHeads(), shape.headDim(), t.code, out.pointer(), lse.pointer(), null));
    sync();
  }

  /** As {@link Kernels#scores(BatchShape, Spans[], FloatData, FloatData, FloatData, FloatData, FloatData)}, fp16 or bf16 on the device. */
  public static void scores(BatchShape shape, Spans[] spans, DeviceBuffer q, DeviceBuffer k, DeviceBuffer lse,
      DeviceBuffer self, DeviceBuffer cross) {
    Objects.requireNonNull(shape, "shape");
    long[] flat = PackedBatches.flatSpans(shape.batch(), spans);
    AttentionShape all = shape.packed();
    requireHeadDim(all);
    ElementType t = halfType(q, "q");
    requireScores(all, "N", t, q, k, lse, PackedBatches.totalVisual(flat), "[sum V_b]", self, cross);
    requireDevice();
    long[] cu = shape.batch().raw();
    Kernels.check(FitPruneNative.fp_cuda_scores_varlen(q.pointer(), k.pointer(), lse.pointer(), cu, cu.length - 1,
        shape.heads(), shape.kvHeads(), shape.headDim(), t.code, flat, self.pointer(), cross.pointer(), null));
    sync();
  }

  /**
   * As {@link Kernels#decodeAttention(BatchShape, FloatData, FloatData[], FloatData[], long[], FloatData, FloatData)}
   * on the device: q, the caches and out of one float type, lse FP32 (or null).
   */
  public static void decodeAttention(BatchShape shape, DeviceBuffer q, DeviceBuffer[] kCaches, DeviceBuffer[] vCaches,
      long[] kvLengths, DeviceBuffer out, DeviceBuffer lse) {
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
      if (batch.length(b) < 1)
        throw new IllegalArgumentException("shape: sequence " + b + " has no new token (each needs q_len >= 1)");
      if (kvLengths[b] < batch.length(b) || kvLengths[b] > Integer.MAX_VALUE)
        throw new IllegalArgumentException("kvLengths[" + b + "] must be in [q_len=" + batch.length(b) + ", 2^31), got "
            + kvLengths[b]);
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
    requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_decode_attention(q.pointer(), batch.raw(), B, shape.heads(), shape.kvHeads(),
        shape.headDim(), t.code, shape.softmaxScale(), kp, vp, kvLengths, out.pointer(), lse == null ? null : lse.pointer(), null));
    sync();
  }

  private static ElementType halfType(DeviceBuffer b, String name) {
    ElementType t = floatType(b, name);
    if (t == ElementType.FP32)
      throw new IllegalArgumentException(name + ": packed batches on CUDA take fp16 or bf16 (tensor cores), got fp32");
    return t;
  }

  // ---- helpers ----

  private static void sync() {
    Kernels.check(FitPruneNative.fp_cuda_stream_synchronize(null));
  }

  private static void requireHeadDim(AttentionShape shape) {
    if (shape.headDim() != 64 && shape.headDim() != 128)
      throw new IllegalArgumentException("headDim (d): the CUDA kernels support 64 and 128, got " + shape.headDim());
  }

  private static void requireHostFloat(ElementType type) {
    Objects.requireNonNull(type, "type");
    if (!type.isFloat()) throw new IllegalArgumentException("type must be fp32, fp16 or bf16, got " + type);
  }

  private static ElementType floatType(DeviceBuffer b, String name) {
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

  private static void require(DeviceBuffer b, String name, ElementType type, long length, String dims) {
    if (b == null) throw new NullPointerException(name + " is null");
    if (b.type() != type) throw new IllegalArgumentException(name + ": expected " + type + ", got " + b.type());
    if (b.length() != length)
      throw new IllegalArgumentException(name + ": expected " + length + " " + type + " values for shape " + dims
          + ", got " + b.length());
  }

  /** The upload type and the host q and k of an array entry point. */
  private static void requireHostQk(AttentionShape shape, ElementType type, float[] q, float[] k) {
    requireHostFloat(type);
    requireHeadDim(shape);
    requireHost(q, "q", shape.qLength(), "[n,H,d]");
    requireHost(k, "k", shape.kvLength(), "[n,G,d]");
  }

  private static void requireHost(float[] a, String name, long length, String dims) {
    if (a == null) throw new NullPointerException(name + " is null");
    if (a.length != length)
      throw new IllegalArgumentException(name + ": expected " + length + " float32 values for shape " + dims
          + ", got " + a.length);
  }
}
