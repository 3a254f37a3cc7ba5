package io.fitprune.pruning;

import io.fitprune.kernels.Kernels;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Decides, at each layer of a sequence's prefill, which visual tokens to drop. The caller asks
 * {@link #count} first (0: nothing happens at this layer, no score pass); when it is positive and
 * {@link #needsScores} is true it runs the score pass, then asks {@link #keep} for the surviving
 * rows and applies them to the {@link SequenceState} (or, for a packed batch, lets {@link
 * BatchState} do all three). Stateless: one pruner serves any number of sequences and threads.
 *
 * <p>Counts are {@code long}, as the kernels' drop counts and K/V lengths are.
 */
public interface Pruner {
  /**
   * Visual tokens to drop at the state's next layer, in [0, s.visual()]; 0 for a sequence without
   * visual tokens. Throws {@link IllegalArgumentException} for a sequence the pruner refuses (an
   * image of another visual count under {@link VisualCountPolicy#REFUSE}, an image with no text
   * after it under {@link NoTextPolicy#REFUSE}), before any score pass.
   */
  long count(SequenceState s);

  /** Whether {@link #keep} reads the scores (so the caller runs the score pass). */
  default boolean needsScores() {
    return true;
  }

  /**
   * Rows of the current sequence to keep (ascending, {@code s.rows() - drop} of them), given the
   * scores {@code self}, {@code cross} of the {@code s.visual()} alive visual tokens (null when
   * {@link #needsScores} is false).
   */
  int[] keep(SequenceState s, float[] self, float[] cross, long drop);

  /** Short name for reports. */
  String name();

  /** Layers the per-layer counts are for, or -1 when the pruner is not tied to a layer count. */
  default int layers() {
    return -1;
  }

  /** Never prunes. */
  static Pruner none() {
    return new Pruner() {
      @Override
      public long count(SequenceState s) {
        return 0;
      }

      @Override
      public int[] keep(SequenceState s, float[] self, float[] cross, long drop) {
        throw new IllegalStateException("the unpruned pruner drops nothing");
      }

      @Override
      public String name() {
        return "unpruned";
      }
    };
  }

  /**
   * A saved recipe, checked against the model it will run on (sizes and stored costs); images
   * must bring the recipe's visual count, and a sequence with no text after the image is refused
   * (see {@link NoTextPolicy}).
   */
  static Pruner of(Recipe recipe, Geometry model) {
    return of(recipe, model, VisualCountPolicy.REFUSE, NoTextPolicy.REFUSE);
  }

  /** As {@link #of(Recipe, Geometry)}, with a policy for images of another visual count. */
  static Pruner of(Recipe recipe, Geometry model, VisualCountPolicy policy) {
    return of(recipe, model, policy, NoTextPolicy.REFUSE);
  }

  /** As {@link #of(Recipe, Geometry)}, with policies for another visual count and for sequences without text. */
  static Pruner of(Recipe recipe, Geometry model, VisualCountPolicy policy, NoTextPolicy noText) {
    if (recipe == null) throw new IllegalArgumentException("recipe is null");
    if (model == null) throw new IllegalArgumentException("model geometry is null");
    recipe.validate(model, "recipe");
    return fitprune(recipe.prune(), recipe.visualTokens(), policy, noText, "fitprune");
  }

  /**
   * FitPrune's deploy rule over bare counts, without a recipe file or a geometry check: at layer
   * {@code l} drop the {@code prune[l]} visual tokens with the lowest {@code self*cross} (ties:
   * lower index first). The counts are for images of {@code visualTokens} tokens (other counts
   * are refused) and may drop at most that many in all; sequences without text are refused.
   * {@link #of(Recipe, Geometry)} is the same rule for a recipe checked against its model.
   *
   * @param prune        visual tokens to drop after each layer's attention, one per layer, >= 0
   * @param visualTokens the visual count the counts were fitted for
   */
  static Pruner fitprune(int[] prune, int visualTokens) {
    return fitprune(prune, visualTokens, VisualCountPolicy.REFUSE, NoTextPolicy.REFUSE, "fitprune");
  }

  /** As {@link #fitprune(int[], int)}, with a policy for images of another visual count and a name for reports. */
  static Pruner fitprune(int[] prune, int visualTokens, VisualCountPolicy policy, String name) {
    return fitprune(prune, visualTokens, policy, NoTextPolicy.REFUSE, name);
  }

  /** As {@link #fitprune(int[], int)}, with both policies and a name for reports. */
  static Pruner fitprune(int[] prune, int visualTokens, VisualCountPolicy policy, NoTextPolicy noText, String name) {
    if (noText == null) throw new IllegalArgumentException("noText is null (NoTextPolicy.REFUSE or SELF_ONLY)");
    return new CountsPruner(new LayerCounts(prune, visualTokens, policy), name, true,
        (s, self, cross, drop) -> Kernels.selectKeep(s.rows(), s.spans(), self, noText.crossFor(s, cross), drop), noText);
  }

  /**
   * FastV-style: drop by attention received, once: {@code drop} tokens at {@code layer}, ranked by
   * the head-max attention they receive from all later rows (visual and text: {@code V*self +
   * t*cross}). The count is for {@code visualTokens}; other counts are refused.
   */
  static Pruner attentionReceived(int layers, int layer, int drop, int visualTokens, String name) {
    if (layer < 0 || layer >= layers)
      throw new IllegalArgumentException("layer must be in [0, " + layers + "), got " + layer);
    int[] prune = new int[layers];
    prune[layer] = drop;
    return new CountsPruner(new LayerCounts(prune, visualTokens, VisualCountPolicy.REFUSE), name, true,
        (s, self, cross, k) -> {
          int v = s.visual();
          long t = s.text();
          float[] received = new float[v], ones = new float[v];
          for (int j = 0; j < v; j++) {
            received[j] = v * self[j] + t * cross[j];
            ones[j] = 1f;
          }
          return Kernels.selectKeep(s.rows(), s.spans(), received, ones, k);
        });
  }

  /** Random dropping with the given per-layer counts; the choice depends only on the seed, layer and alive count. */
  static Pruner random(int[] prune, int visualTokens, long seed) {
    return new CountsPruner(new LayerCounts(prune, visualTokens, VisualCountPolicy.REFUSE), "random", false,
        (s, self, cross, drop) -> {
          int v = s.visual();
          int[] perm = new int[v];
          for (int i = 0; i < v; i++) perm[i] = i;
          SplittableRandom r = new SplittableRandom(seed * 1_000_003L + s.layersDone());
          for (int i = 0; i < drop; i++) { // partial Fisher-Yates: perm[0..drop) are dropped
            int j = i + r.nextInt(v - i);
            int tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
          }
          return s.keepDropping(perm, drop);
        });
  }

  /**
   * Drops exactly the given original token indices at each layer (tests and replays): {@code
   * drops.get(l)} lists original sequence indices of visual tokens, all alive at layer l.
   */
  static Pruner fixed(List<int[]> drops) {
    if (drops == null) throw new IllegalArgumentException("drops is null");
    return new Pruner() {
      @Override
      public long count(SequenceState s) {
        int l = s.layersDone();
        return l < drops.size() && drops.get(l) != null ? drops.get(l).length : 0;
      }

      @Override
      public boolean needsScores() {
        return false;
      }

      @Override
      public int[] keep(SequenceState s, float[] self, float[] cross, long drop) {
        int[] ids = s.visualIds(), ask = drops.get(s.layersDone()), at = new int[ask.length];
        for (int i = 0; i < ask.length; i++) {
          at[i] = Arrays.binarySearch(ids, ask[i]);
          if (at[i] < 0)
            throw new IllegalArgumentException("fixed pruner: token " + ask[i] + " is not an alive visual token at layer "
                + s.layersDone());
        }
        return s.keepDropping(at, at.length);
      }

      @Override
      public String name() {
        return "fixed";
      }
    };
  }
}
