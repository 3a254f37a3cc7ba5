package io.fitprune.decoder;

import io.fitprune.kernels.FitPruneNative;
import io.fitprune.kernels.Kernels;
import org.bytedeco.pytorch.global.torch;

/**
 * Process-wide settings the reference decoder runs best with, applied only when a program asks
 * ({@link #tuneProcess}): loading or using the library's classes changes none of them. The
 * command line asks; a server that embeds the library decides for itself.
 *
 * <p>What {@link #tuneProcess} does: libgomp's idle threads wait passively ({@code
 * OMP_WAIT_POLICY=PASSIVE} unless the environment says otherwise; only effective before anything
 * loads libtorch); glibc keeps freed memory mapped and uses one malloc arena (good for one big
 * prefill at a time, a poor default for a many-threaded server); libtorch's and the kernels'
 * threads are set to {@code FITPRUNE_THREADS} or the CPU count. {@code FITPRUNE_RUNTIME_TUNE=0}
 * skips the first two.
 */
public final class DecoderRuntime {
  private static boolean tuned, passiveOmp;

  private DecoderRuntime() {}

  /** Applies the settings above, once (later calls do nothing); call it first thing in {@code main}. */
  public static synchronized void tuneProcess() {
    if (tuned) return;
    tuned = true;
    if (!"0".equals(System.getenv("FITPRUNE_RUNTIME_TUNE"))) {
      passiveOmp = FitPruneNative.fp_prefer_passive_omp() == 1; // before libtorch loads
      FitPruneNative.fp_tune_malloc(32L << 20, 1L << 30);
    }
    useThreads(0);
  }

  /** Whether {@link #tuneProcess} ran and libgomp's idle threads wait passively. */
  public static synchronized boolean passiveOmp() {
    return passiveOmp;
  }

  /**
   * Threads for libtorch's dense layers and the kernels' pool, process-wide; {@code <= 0}:
   * {@code FITPRUNE_THREADS} or one per CPU (libtorch may start with one per physical core, and
   * the dense layers want them all).
   */
  public static void useThreads(int threads) {
    int n = threads;
    if (n <= 0) {
      String env = System.getenv("FITPRUNE_THREADS");
      try {
        n = env == null ? 0 : Integer.parseInt(env.trim());
      } catch (NumberFormatException e) {
        n = 0;
      }
      if (n <= 0) n = Runtime.getRuntime().availableProcessors();
    }
    torch.set_num_threads(n);
    Kernels.useThreads(n);
  }
}
