package io.fitprune.kernels;

import static io.fitprune.kernels.HostData.access;
import static io.fitprune.kernels.Kernels.check;
import static io.fitprune.kernels.Kernels.require;

import java.util.Objects;

/**
 * The single-sequence calls of {@link Kernels} on host memory: attention (with the scores in the
 * same pass when spans are given), the score pass, selection, gathers and the finiteness scan.
 * Every argument is checked here, before the native call.
 */
final class CpuOps {
  private CpuOps() {}

  /** Attention; with spans, the scores in the same pass (self and cross then non-null). */
  static void attention(AttentionShape shape, Spans spans, Data q, Data k, Data v, Data out, Data lse, Data self,
      Data cross) {
    Objects.requireNonNull(shape, "shape");
    ElementType dtype = inputType(q, k, v);
    q.requireShape("q", "[n,H,d]", shape.qDims());
    k.requireShape("k", "[n,G,d]", shape.kvDims());
    v.requireShape("v", "[n,G,d]", shape.kvDims());
    int outType = outputType(dtype, out).code;
    out.requireShape("out", "[n,H,d]", shape.qDims());
    requireFp32(lse, "lse").requireShape("lse", "[H,n]", shape.lseDims());
    out.requireWritable("out");
    lse.requireWritable("lse");
    if (spans != null) requireScoreOutputs(shape, spans, self, cross);
    try (var qa = access(q, true, false); var ka = access(k, true, false); var va = access(v, true, false);
        var oa = access(out, false, true); var la = access(lse, false, true)) {
      if (spans == null) {
        check(FitPruneNative.fp_cpu_attention(qa.untyped(), ka.untyped(), va.untyped(), shape.tokens(), shape.heads(),
            shape.kvHeads(), shape.headDim(), dtype.code, shape.softmaxScale(), oa.untyped(), outType, la.untyped()));
        return;
      }
      try (var sa = access(self, false, true); var ca = access(cross, false, true)) {
        check(FitPruneNative.fp_cpu_attention_scores(qa.untyped(), ka.untyped(), va.untyped(), shape.tokens(),
            shape.heads(), shape.kvHeads(), shape.headDim(), dtype.code, shape.softmaxScale(), oa.untyped(), outType,
            la.untyped(), spans.prefix(), spans.visual(), sa.untyped(), ca.untyped()));
      }
    }
  }

  static void scores(AttentionShape shape, Spans spans, Data q, Data k, Data lse, Data self, Data cross) {
    Objects.requireNonNull(shape, "shape");
    ElementType dtype = inputType(require(q, "q"), "q");
    if (inputType(require(k, "k"), "k") != dtype)
      throw new IllegalArgumentException("k: expected " + q.elementName() + " like q");
    requireScoreOutputs(shape, spans, self, cross);
    q.requireShape("q", "[n,H,d]", shape.qDims());
    k.requireShape("k", "[n,G,d]", shape.kvDims());
    requireFp32(lse, "lse").requireShape("lse", "[H,n]", shape.lseDims());
    try (var qa = access(q, true, false); var ka = access(k, true, false); var la = access(lse, true, false);
        var sa = access(self, false, true); var ca = access(cross, false, true)) {
      check(FitPruneNative.fp_cpu_scores(qa.untyped(), ka.untyped(), la.untyped(), shape.tokens(), shape.heads(),
          shape.kvHeads(), shape.headDim(), dtype.code, shape.softmaxScale(), spans.prefix(), spans.visual(), sa.untyped(),
          ca.untyped()));
    }
  }

  private static void requireScoreOutputs(AttentionShape shape, Spans spans, Data self, Data cross) {
    Objects.requireNonNull(spans, "spans");
    spans.requireWithin(shape.tokens());
    requireFp32(self, "self").requireShape("self", "[V]", spans.visual());
    requireFp32(cross, "cross").requireShape("cross", "[V]", spans.visual());
    self.requireWritable("self");
    cross.requireWritable("cross");
  }

  static void selectKeep(long n, Spans spans, Data self, Data cross, long drop, Data keep) {
    require(spans, "spans").requireSelect(n, drop);
    requireFp32(self, "self").requireShape("self", "[V]", spans.visual());
    requireFp32(cross, "cross").requireShape("cross", "[V]", spans.visual());
    require(keep, "keep").requireType("keep", ElementType.INT32).requireShape("keep", "[n-k]", n - drop);
    keep.requireWritable("keep");
    try (var sa = access(self, true, false); var ca = access(cross, true, false); var ka = access(keep, false, true)) {
      check(FitPruneNative.fp_select_keep(sa.floats(), ca.floats(), n, spans.prefix(), spans.visual(), drop, ka.ints()));
    }
  }

  /** Rows of any element type; dst may be src itself (compaction with ascending indices). */
  static void gatherRows(Data src, long rows, long width, Data index, Data dst) {
    if (rows < 0) throw new IllegalArgumentException("rows must be >= 0, got " + rows);
    if (width <= 0) throw new IllegalArgumentException("width must be > 0, got " + width);
    require(index, "index").requireType("index", ElementType.INT32);
    long count = index.length();
    require(src, "src").requireShape("src", "[rows,width]", rows, width);
    require(dst, "dst").requireType("dst", src.type()).requireWritable("dst");
    dst.requireAtLeast("dst", Lengths.product("dst [count,width]", count, width), "[count,width] = [" + count + ", " + width + "]");
    if (dst == src && count > rows)
      throw new IllegalArgumentException("index: in-place gather cannot produce more rows (" + count + ") than src has (" + rows + ")");
    boolean inPlace = src == dst;
    try (var sa = access(src, true, false); var ia = access(index, true, false); var da = access(dst, inPlace, true)) {
      var from = inPlace ? da : sa;
      switch (src.type()) {
        case FP32 -> check(FitPruneNative.fp_cpu_gather_rows_f32(from.floats(), rows, width, ia.ints(), count, da.floats()));
        case INT32 -> check(FitPruneNative.fp_cpu_gather_rows_i32(from.ints(), rows, width, ia.ints(), count, da.ints()));
        default -> check(FitPruneNative.fp_cpu_gather_rows(from.untyped(), rows,
            Lengths.product("row bytes", width, src.type().bytes), ia.untyped(), count, da.untyped()));
      }
    }
  }

  /** The index of the first NaN or infinity of float32 data, or -1. */
  static long firstNonFinite(Data x) {
    try (var xa = access(x, true, false); var index = new org.bytedeco.javacpp.LongPointer(1)) {
      check(FitPruneNative.fp_first_nonfinite_f32(xa.floats(), x.length(), index));
      return index.get();
    }
  }

  /** The element type of attention inputs: q, k, v all float32 or all bfloat16. */
  static ElementType inputType(Data q, Data k, Data v) {
    ElementType dtype = inputType(require(q, "q"), "q");
    if (inputType(require(k, "k"), "k") != dtype || inputType(require(v, "v"), "v") != dtype)
      throw new IllegalArgumentException("k, v: expected " + q.elementName() + " like q");
    return dtype;
  }

  /** The type of an attention output for inputs of type dtype: float32, or bfloat16 for bfloat16 inputs. */
  static ElementType outputType(ElementType dtype, Data out) {
    ElementType outType = inputType(require(out, "out"), "out");
    if (dtype == ElementType.FP32 && outType != dtype)
      throw new IllegalArgumentException("out: expected float32 for float32 inputs, got " + out.elementName());
    return outType;
  }

  /** float32 or bfloat16 (the CPU's input types); anything else is refused naming the argument. */
  static ElementType inputType(Data d, String name) {
    if (d.type() == ElementType.FP32 || d.type() == ElementType.BF16) return d.type();
    throw new IllegalArgumentException(name + ": expected float32 or bfloat16 memory, got " + d.elementName());
  }

  static Data requireFp32(Data d, String name) {
    return require(d, name).requireType(name, ElementType.FP32);
  }
}
