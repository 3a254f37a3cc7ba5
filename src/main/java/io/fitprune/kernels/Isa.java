package io.fitprune.kernels;

/** Instruction-set paths of the CPU kernels. */
public enum Isa {
  GENERIC(FitPruneNative.FP_ISA_GENERIC),
  AVX2(FitPruneNative.FP_ISA_AVX2),
  AVX512(FitPruneNative.FP_ISA_AVX512),
  /** AVX512 with {@code vdpbf16ps} for the bf16 kernels (its fp32 kernels are AVX512's). */
  AVX512_BF16(FitPruneNative.FP_ISA_AVX512_BF16);

  final int code;

  Isa(int code) {
    this.code = code;
  }

  static Isa of(int code) {
    for (Isa i : values()) if (i.code == code) return i;
    throw new IllegalStateException("unknown isa code " + code);
  }
}
