package io.fitprune.decoder;

import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Decides, at each layer of a prefill, which visual tokens to drop. The decoder asks
 * {@link #count} first (0: nothing happens at this layer, no score pass); when it is positive and
 * {@link #needsScores} is true it runs the score pass, then asks {@link #keep} for the surviving
 * rows. Counts are clamped by the decoder to the visual tokens alive.
 */
public interface Pruner {
  /** Visual tokens to drop at {@code layer} when {@code alive} are alive (clamped by the caller). */
  int count(int layer, int alive);

  /** Whether {@link #keep} reads the scores (so the decoder runs the score pass). */
  default boolean needsScores() {
    return true;
  }

  /**
   * Rows of the current sequence to keep (ascending, {@code n - drop} of them), given the scores
   * of the {@code alive} visual tokens (null when {@link #needsScores} is false).
   *
   * @param visualIds original indices of the alive visual tokens, ascending
   */
  int[] keep(int layer, int n, Spans spans, int[] visualIds, float[] self, float[] cross, int drop);

  /** Short name for reports. */
  String name();

  /** Layers the per-layer counts are for, or -1 when the pruner is not tied to a layer count. */
  default int layers() {
    return -1;
  }

  /** Never prunes. */
  static Pruner none() {
    return recipe(null, "unpruned");
  }

  /** FitPrune's deploy rule: drop the {@code prune[l]} lowest {@code self*cross} (ties: lower index first). */
  static Pruner recipe(int[] prune) {
    return recipe(prune, "fitprune");
  }

  static Pruner recipe(int[] prune, String name) {
    int[] counts = checked(prune);
    return new Pruner() {
      @Override
      public int count(int layer, int alive) {
        return counts == null || layer >= counts.length ? 0 : counts[layer];
      }

      @Override
      public int[] keep(int layer, int n, Spans spans, int[] visualIds, float[] self, float[] cross, int drop) {
        return Kernels.selectKeep(n, spans, self, cross, drop);
      }

      @Override
      public String name() {
        return name;
      }

      @Override
      public int layers() {
        return counts == null ? -1 : counts.length;
      }
    };
  }

  /**
   * FastV-style: drop by attention received, once: {@code drop} tokens at {@code layer}, ranked by
   * the head-max attention they receive from all later rows (visual and text: {@code V*self +
   * t*cross}).
   */
  static Pruner attentionReceived(int layers, int layer, int drop, String name) {
    int[] counts = new int[layers];
    counts[layer] = drop;
    return new Pruner() {
      @Override
      public int count(int l, int alive) {
        return counts[l];
      }

      @Override
      public int[] keep(int l, int n, Spans spans, int[] visualIds, float[] self, float[] cross, int k) {
        int v = (int) spans.visual();
        long t = spans.text(n);
        float[] received = new float[v], ones = new float[v];
        for (int j = 0; j < v; j++) {
          received[j] = v * self[j] + t * cross[j];
          ones[j] = 1f;
        }
        return Kernels.selectKeep(n, spans, received, ones, k);
      }

      @Override
      public String name() {
        return name;
      }
    };
  }

  /** Random dropping with the given per-layer counts; the choice depends only on the seed, layer and alive count. */
  static Pruner random(int[] prune, long seed) {
    int[] counts = checked(prune);
    return new Pruner() {
      @Override
      public int count(int layer, int alive) {
        return layer >= counts.length ? 0 : counts[layer];
      }

      @Override
      public boolean needsScores() {
        return false;
      }

      @Override
      public int[] keep(int layer, int n, Spans spans, int[] visualIds, float[] self, float[] cross, int drop) {
        int v = (int) spans.visual();
        int[] perm = new int[v];
        for (int i = 0; i < v; i++) perm[i] = i;
        SplittableRandom r = new SplittableRandom(seed * 1_000_003L + layer);
        for (int i = 0; i < drop; i++) { // partial Fisher-Yates: perm[0..drop) are dropped
          int j = i + r.nextInt(v - i);
          int tmp = perm[i];
          perm[i] = perm[j];
          perm[j] = tmp;
        }
        boolean[] dropped = new boolean[v];
        for (int i = 0; i < drop; i++) dropped[perm[i]] = true;
        return keepRows(n, (int) spans.prefix(), dropped);
      }

      @Override
      public String name() {
        return "random";
      }

      @Override
      public int layers() {
        return counts.length;
      }
    };
  }

  /**
   * Drops exactly the given original token indices at each layer (tests and replays): {@code
   * drops.get(l)} lists original sequence indices of visual tokens, all alive at layer l.
   */
  static Pruner fixed(List<int[]> drops) {
    return new Pruner() {
      @Override
      public int count(int layer, int alive) {
        return layer < drops.size() && drops.get(layer) != null ? drops.get(layer).length : 0;
      }

      @Override
      public boolean needsScores() {
        return false;
      }

      @Override
      public int[] keep(int layer, int n, Spans spans, int[] visualIds, float[] self, float[] cross, int drop) {
        boolean[] dropped = new boolean[visualIds.length];
        for (int id : drops.get(layer)) {
          int pos = Arrays.binarySearch(visualIds, id);
          if (pos < 0)
            throw new IllegalArgumentException("fixed pruner: token " + id + " is not an alive visual token at layer " + layer);
          dropped[pos] = true;
        }
        return keepRows(n, (int) spans.prefix(), dropped);
      }

      @Override
      public String name() {
        return "fixed";
      }
    };
  }

  /** Rows kept when the visual tokens at {@code dropped[i]} (positions in the alive list) go. */
  static int[] keepRows(int n, int prefix, boolean[] dropped) {
    int cnt = 0;
    for (boolean d : dropped) if (d) cnt++;
    int[] keep = new int[n - cnt];
    int w = 0;
    for (int r = 0; r < n; r++) {
      int vi = r - prefix;
      if (vi >= 0 && vi < dropped.length && dropped[vi]) continue;
      keep[w++] = r;
    }
    return keep;
  }

  private static int[] checked(int[] prune) {
    if (prune == null) return null;
    for (int l = 0; l < prune.length; l++)
      if (prune[l] < 0) throw new IllegalArgumentException("recipe: negative count " + prune[l] + " at layer " + l);
    return prune.clone();
  }
}
