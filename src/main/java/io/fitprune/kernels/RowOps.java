package io.fitprune.kernels;

import static io.fitprune.kernels.Kernels.check;
import static io.fitprune.kernels.Kernels.require;

/** The checks and native calls of {@link Kernels#rmsNorm} and {@link Kernels#roundBf16} (host memory, checked there). */
final class RowOps {
  private RowOps() {}

  static void rmsNorm(Data x, Data y, long rows, long width, Data weight, double eps) {
    if (rows < 0 || width < 0)
      throw new IllegalArgumentException("rows and width must be >= 0, got " + rows + ", " + width);
    long count = Lengths.product("x [rows,width]", rows, width);
    requireFp32(x, "x", count);
    requireFp32(y, "y", count);
    y.requireWritable("y");
    requireFp32(weight, "weight", width);
    if (!(eps >= 0) || Double.isInfinite(eps)) throw new IllegalArgumentException("eps must be finite and >= 0, got " + eps);
    if (count == 0) return;
    try (var xa = HostData.access(x, true, false); var ya = HostData.access(y, false, true);
        var wa = HostData.access(weight, true, false)) {
      check(FitPruneNative.fp_cpu_rms_norm(xa.address(), ya.address(), rows, width, wa.address(), eps));
    }
  }

  static void roundBf16(Data src, Data dst) {
    long count = require(src, "src").length();
    requireFp32(src, "src", count);
    require(dst, "dst").requireType("dst", ElementType.BF16);
    if (dst.length() != count)
      throw new IllegalArgumentException("dst: expected " + count + " bfloat16 values like src, got " + dst.length());
    dst.requireWritable("dst");
    if (count == 0) return;
    try (var sa = HostData.access(src, true, false); var da = HostData.access(dst, false, true)) {
      check(FitPruneNative.fp_cpu_round_bf16(sa.address(), da.address(), count));
    }
  }

  private static void requireFp32(Data d, String name, long count) {
    CpuOps.requireFp32(d, name);
    if (d.length() != count)
      throw new IllegalArgumentException(name + ": expected " + count + " float32 values, got " + d.length());
  }
}
