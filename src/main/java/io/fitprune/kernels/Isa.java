package io.fitprune.kernels;

/** Instruction-set paths of the CPU kernels. */
public enum Isa {
  GENERIC(FitPruneNative.FP_ISA_GENERIC),
  AVX2(FitPruneNative.FP_ISA_AVX2),
  AVX512(FitPruneNative.FP_ISA_AVX512);

  final int code;

  Isa(int code) {
    this.code = code;
  }

  static Isa of(int code) {
    for (Isa i : values()) if (i.code == code) return i;
    throw new IllegalStateException("unknown isa code " + code);
  }
}
