package io.fitprune.fitting;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import io.fitprune.stats.AttentionStats;
import io.fitprune.testutil.ReadmeBlocks;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's fitting and recipe-builder examples, verbatim between the markers: statistics from
 * a caller's own score pass, a fast-mode fit, the recipe written and read back; a recipe by hand.
 */
class ReadmeFittingTest {
  static final String FIT_BEGIN = "// README fitting: begin", FIT_END = "// README fitting: end";
  static final String BUILD_BEGIN = "// README recipe builder: begin", BUILD_END = "// README recipe builder: end";
  @TempDir Path dir;

  /** One calibration sample as the caller's engine holds it. */
  record Sample(int rows, Spans spans) {}

  /**
   * Stands for the caller's own layers: q/k/v rows fixed by (sample, layer, original token), the
   * rest of the layer a no-op; {@link #runner} drives it for exact mode.
   */
  static final class Engine {
    final Geometry g;
    final List<Sample> samples;

    Engine(Geometry g, List<Sample> samples) {
      this.g = g;
      this.samples = samples;
    }

    /** The unpruned rows 0..rows-1. */
    float[][] qkv(int sample, int layer, int rows) {
      int[] all = new int[rows];
      for (int i = 0; i < rows; i++) all[i] = i;
      return qkv(sample, layer, all);
    }

    float[][] qkv(int sample, int layer, int[] original) {
      int hd = g.heads() * g.headDim(), kd = g.kvHeads() * g.headDim(), n = original.length;
      float[][] x = {new float[n * hd], new float[n * kd], new float[n * kd]};
      for (int i = 0; i < n; i++) {
        SplittableRandom r = new SplittableRandom(sample * 1_000_003L + layer * 10_007L + original[i]);
        for (int j = 0; j < hd; j++) x[0][i * hd + j] = (float) r.nextGaussian();
        for (int j = 0; j < kd; j++) x[1][i * kd + j] = (float) r.nextGaussian();
        for (int j = 0; j < kd; j++) x[2][i * kd + j] = (float) r.nextGaussian();
      }
      return x;
    }

    void finish(int sample, int layer, float[] out) {}

    /** Exact mode's view: each sample's surviving original rows, scored by the kernels at every layer. */
    LayerRunner runner() {
      int[][] alive = new int[samples.size()][];
      return new LayerRunner() {
        @Override
        public int samples() {
          return samples.size();
        }

        @Override
        public void beginPass() {
          for (int s = 0; s < alive.length; s++) {
            alive[s] = new int[samples.get(s).rows()];
            for (int i = 0; i < alive[s].length; i++) alive[s][i] = i;
          }
        }

        @Override
        public void attend(int sample, int layer, int visual, float[] self, float[] cross) {
          int[] o = alive[sample];
          Spans spans = new Spans(samples.get(sample).spans().prefix(), visual);
          AttentionShape shape = new AttentionShape(o.length, g.heads(), g.kvHeads(), g.headDim());
          float[][] qkv = qkv(sample, layer, o);
          Kernels.AttentionOutput a = Kernels.attention(shape, qkv[0], qkv[1], qkv[2]);
          Kernels.Scores sc = Kernels.scores(shape, spans, qkv[0], qkv[1], a.lse());
          System.arraycopy(sc.self(), 0, self, 0, visual);
          System.arraycopy(sc.cross(), 0, cross, 0, visual);
        }

        @Override
        public void finish(int sample, int layer, int[] drop, int count) {
          int P = (int) samples.get(sample).spans().prefix();
          java.util.Set<Integer> gone = new java.util.HashSet<>();
          for (int i = 0; i < count; i++) gone.add(P + drop[i]);
          int[] o = alive[sample], next = new int[o.length - count];
          for (int i = 0, w = 0; i < o.length; i++) if (!gone.contains(i)) next[w++] = o[i];
          alive[sample] = next;
        }
      };
    }
  }

  static Recipe fit(Geometry model, List<Sample> samples, Engine engine, Path dir) throws Exception {
    // README fitting: begin
    int S = samples.size(), L = model.layers(), V = model.visualTokens();
    float[] self = new float[S * L * V], cross = new float[S * L * V];  // [samples, layers, visual], flat
    for (int s = 0; s < S; s++) {
      int n = samples.get(s).rows();
      Spans spans = samples.get(s).spans();                            // text must follow the image
      AttentionShape shape = new AttentionShape(n, model.heads(), model.kvHeads(), model.headDim());
      for (int l = 0; l < L; l++) {                                    // your unpruned prefill
        float[][] qkv = engine.qkv(s, l, n);
        Kernels.AttentionOutput a = Kernels.attention(shape, qkv[0], qkv[1], qkv[2]);
        Kernels.Scores sc = Kernels.scores(shape, spans, qkv[0], qkv[1], a.lse());
        System.arraycopy(sc.self(), 0, self, (s * L + l) * V, V);
        System.arraycopy(sc.cross(), 0, cross, (s * L + l) * V, V);
        engine.finish(s, l, a.out());
      }
    }
    AttentionStats stats = new AttentionStats(S, L, V, self, cross);
    FitResult fit = new FastFitter(stats, FlopsModel.of(model, Scope.PAPER)).fit(0.5); // half the paper-scope FLOPs
    FitResult exact = new ExactFitter(engine.runner(), FlopsModel.of(model, Scope.PAPER)).fit(0.5); // re-runs your layers
    Recipe recipe = Recipe.builder(model).fit(exact, Scope.PAPER, S).build();
    RecipeFiles.write(dir.resolve("recipe.json"), recipe);
    // README fitting: end
    assertTrue(fit.cost().reduction() >= 0.5, "fast mode meets the budget: " + fit.cost().reduction());
    return recipe;
  }

  static Recipe byHand(Geometry model) {
    // README recipe builder: begin
    Recipe recipe = Recipe.builder(model)                   // layers and visual count from the model
        .drop(2, 288).drop(8, 144)                          // tokens dropped after these layers' attention
        .tokens(35, 40)                                     // prefix and text lengths of the full-scope cost
        .build();                                           // costs in both scopes, from the counts
    Pruner pruner = Pruner.of(recipe, model);
    // README recipe builder: end
    assertEquals("fitprune", pruner.name());
    return recipe;
  }

  @Test
  void theReadmeFitsAndWritesARecipeThatReadsBackEqual() throws Exception {
    Geometry g = new Geometry("toy", 4, 48, 3, 1, 16, 96, 23, 2, 5);
    List<Sample> samples = List.of(new Sample(2 + 23 + 5, new Spans(2, 23)), new Sample(4 + 23 + 1, new Spans(4, 23)),
        new Sample(23 + 7, new Spans(0, 23)));
    Recipe r = fit(g, samples, new Engine(g, samples), dir);
    assertEquals(r, RecipeFiles.read(dir.resolve("recipe.json"), g));
    assertTrue(r.paper().reduction() >= 0.5, "meets the budget: " + r.paper().reduction());
    assertEquals("exact", r.mode());
    assertEquals(3, r.calibrationSamples());
    assertEquals(0.5, r.budget());
  }

  @Test
  void theReadmeBuildsARecipeByHand() {
    Geometry g = new Geometry("llava-1.5-7b", 32, 4096, 32, 32, 128, 11008, 576, 35, 64);
    Recipe r = byHand(g);
    int[] want = new int[32];
    want[2] = 288;
    want[8] = 144;
    assertArrayEquals(want, r.prune());
    assertEquals(35, r.full().prefixTokens());
    assertEquals(40, r.full().textTokens());
    assertEquals(FlopsModel.of(g, Scope.PAPER).evaluate(want).pruned(), r.paper().pruned());
  }

  @Test
  void theReadmeShowsTheseBlocks() throws Exception {
    String src = "src/test/java/io/fitprune/fitting/ReadmeFittingTest.java";
    ReadmeBlocks.requireShown(src, FIT_BEGIN, FIT_END);
    ReadmeBlocks.requireShown(src, BUILD_BEGIN, BUILD_END);
  }
}
