package io.fitprune.decoder;

import io.fitprune.kernels.FitPruneNative;

/**
 * Process settings the reference decoder runs best with, applied once, before libtorch loads
 * where that matters: libgomp's idle threads wait passively ({@code OMP_WAIT_POLICY=PASSIVE}
 * unless the environment says otherwise) and glibc keeps freed memory mapped in one arena.
 * {@code FITPRUNE_RUNTIME_TUNE=0} opts out of both.
 */
public final class DecoderRuntime {
  private static final boolean PASSIVE_OMP;

  static {
    boolean tune = !"0".equals(System.getenv("FITPRUNE_RUNTIME_TUNE"));
    PASSIVE_OMP = tune && FitPruneNative.fp_prefer_passive_omp() == 1;
    if (tune) FitPruneNative.fp_tune_malloc(32L << 20, 1L << 30);
  }

  private DecoderRuntime() {}

  /** Applies the settings (idempotent); call before anything loads libtorch to get passive OpenMP waiting. */
  public static void init() {}

  /** Whether libgomp's idle threads wait passively (false when libtorch loaded first without OMP_WAIT_POLICY=PASSIVE). */
  public static boolean passiveOmp() {
    return PASSIVE_OMP;
  }
}
