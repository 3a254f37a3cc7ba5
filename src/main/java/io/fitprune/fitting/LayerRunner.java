package io.fitprune.fitting;

/**
 * A model that exact-mode fitting drives layer by layer, all calibration samples in lock step.
 * {@code io.fitprune.calibration.DecoderRunner} drives the reference decoder through it; a user
 * can implement it over their own model.
 *
 * <p>Protocol of one pass: {@link #beginPass}, then for each layer l = 0, 1, ... and each sample
 * s: {@link #attend}(s, l) followed by {@link #finish}(s, l, drop); finally {@link #endPass}
 * (always, also after a failure). A pass may stop before the last layer (the budget is met), so a
 * runner must not assume it sees every layer. Layers are visited in order and never revisited
 * within a pass; samples within a layer are visited in ascending order.
 *
 * <p>Per-sample state (hidden states, position ids, KV caches) belongs to the runner: keeping all
 * samples' states between layers is the price of the lock step, and the runner decides where they
 * live (device memory, host memory, disk).
 *
 * <p>Token positions: the alive visual tokens of a sample are always presented in ascending order
 * of their original index, so position i in {@code attend}'s arrays and in {@code finish}'s drop
 * set both mean "the i-th surviving visual token".
 */
public interface LayerRunner {
  /** Calibration samples this runner holds. */
  int samples();

  /**
   * Visual tokens of {@code sample} before any pruning, when samples differ (images of different
   * sizes); -1, the default, means every sample has the model's count. Recording and fitting run
   * each sample at its own count and bring them to one recipe (docs/design.md, "Calibrating on
   * mixed visual counts").
   */
  default int visualTokens(int sample) {
    return -1;
  }

  /**
   * Starts a pass: every sample restarts from its unpruned input, all V visual tokens alive,
   * before layer 0.
   */
  void beginPass();

  /**
   * Runs layer {@code layer}'s attention for {@code sample} on its current tokens and writes the
   * scores (docs/design.md; self: mean over the alive visual query rows; cross: mean over
   * the text rows; both head-max) for its {@code alive} visual tokens into {@code self[0..alive)}
   * and {@code cross[0..alive)}. {@code alive} is the count the fitter expects; a runner that
   * disagrees should throw, since the two have lost track of each other.
   */
  void attend(int sample, int layer, int alive, float[] self, float[] cross);

  /**
   * Completes layer {@code layer} for {@code sample}: removes the visual tokens at positions
   * {@code drop[0..count)} (ascending, into the list {@code attend} just scored) from the
   * attention output, residual stream and position ids, then runs the rest of the layer (output
   * projection, MLP) on the survivors. Called with {@code count == 0} when nothing is pruned.
   */
  void finish(int sample, int layer, int[] drop, int count);

  /** Ends the pass; the runner may release per-sample state. */
  default void endPass() {}
}
