package io.fitprune.pruning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PrunerTest {
  static Recipe recipe(Geometry g, int[] prune) {
    return Recipe.builder(g).prune(prune).build();
  }

  /** The counts a pruner asks for at every layer of a sequence with {@code visual} visual tokens, applying them. */
  static int[] drops(Pruner p, int layers, int visual) {
    SequenceState s = SequenceState.start(layers, new Spans(5, visual), 5 + visual + 7);
    int[] out = new int[layers];
    for (int l = 0; l < layers; l++) {
      out[l] = (int) p.count(s);
      int[] drop = new int[out[l]];
      for (int i = 0; i < drop.length; i++) drop[i] = i;
      s.apply(l, s.keepDropping(drop, drop.length));
    }
    return out;
  }

  @Test
  void aRecipeForAnotherImageSizeIsRefusedByDefaultNamingBothCounts() throws Exception {
    Geometry g = Geometries.resolve("llava-1.5-7b");
    int[] prune = new int[g.layers()];
    prune[1] = 300;
    prune[3] = 276; // all 576 visual tokens gone by layer 3
    Pruner p = Pruner.of(recipe(g, prune), g);
    assertArrayEquals(prune, drops(p, g.layers(), 576));
    String m = assertThrows(IllegalArgumentException.class, () -> drops(p, g.layers(), 300)).getMessage();
    assertTrue(m.contains("576") && m.contains("300") && m.contains("SCALE"), m);
  }

  @Test
  void scalingKeepsEachLayersShareAndNeverOverPrunes() throws Exception {
    Geometry g = Geometries.resolve("llava-1.5-7b");
    Random r = new Random(5);
    for (int trial = 0; trial < 20; trial++) {
      int[] prune = new int[g.layers()];
      int left = 576;
      for (int l = 0; l < g.layers() && left > 0; l++) {
        prune[l] = trial % 2 == 0 && l == g.layers() - 1 ? left : r.nextInt(Math.min(left, 80) + 1);
        left -= prune[l];
      }
      Pruner p = Pruner.of(recipe(g, prune), g, VisualCountPolicy.SCALE);
      int actual = 1 + r.nextInt(1200);
      int[] got = drops(p, g.layers(), actual);
      long want = 0, sum = 0, fitted = 0;
      for (int l = 0; l < g.layers(); l++) {
        fitted += prune[l];
        want = fitted * actual / 576;
        sum += got[l];
        assertEquals(want, sum, "cumulative drops through layer " + l + " scaled from " + fitted);
      }
      assertTrue(sum <= actual);
      if (fitted == 576) assertEquals(actual, sum, "a recipe that drops every token drops every token of any image");
    }
  }

  @Test
  void aRecipeIsCheckedAgainstTheModelInTheSameCall() throws Exception {
    Geometry g = Geometries.resolve("llava-1.5-7b");
    int[] tooMany = new int[g.layers()];
    tooMany[0] = 577;
    assertTrue(assertThrows(IllegalArgumentException.class, () -> recipe(g, tooMany)).getMessage()
        .contains("only 576"));
    Geometry other = new Geometry("other", g.layers(), g.hidden(), g.heads(), g.kvHeads(), g.headDim(), g.mlp(), 576, 35, 64);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Pruner.of(recipe(g, new int[g.layers()]), other))
        .getMessage().contains("other"));
    assertThrows(IllegalArgumentException.class, () -> Pruner.fitprune(new int[] {5, 6}, 10));
    assertThrows(IllegalArgumentException.class, () -> Pruner.fitprune(new int[] {1, -1}, 10));
    assertThrows(IllegalArgumentException.class, () -> Pruner.fitprune(new int[] {1}, 10, null, "x"));
  }

  @Test
  void fitpruneKeepsWhatTheKernelsSelect() {
    Random r = new Random(9);
    int P = 4, V = 37, T = 6, n = P + V + T;
    float[] self = new float[V], cross = new float[V];
    for (int j = 0; j < V; j++) {
      self[j] = r.nextFloat();
      cross[j] = r.nextFloat();
    }
    Pruner p = Pruner.fitprune(new int[] {13, 0}, V);
    SequenceState s = SequenceState.start(2, new Spans(P, V), n);
    assertEquals(13, p.count(s));
    assertArrayEquals(Kernels.selectKeep(n, new Spans(P, V), self, cross, 13), p.keep(s, self, cross, 13));
    assertEquals(0, Pruner.none().count(s));
  }

  @Test
  void countedPrunersReportTheirNameLayersAndWhetherTheyReadScores() {
    int[] prune = {0, 3, 0, 2, 0};
    Pruner f = Pruner.fitprune(prune, 10, VisualCountPolicy.REFUSE, "mine"), r = Pruner.random(prune, 10, 9);
    assertEquals("mine", f.name());
    assertEquals(prune.length, f.layers());
    assertTrue(f.needsScores());
    assertEquals("random", r.name());
    assertEquals(prune.length, r.layers());
    assertFalse(r.needsScores());
    assertArrayEquals(prune, drops(f, prune.length, 10));
    assertArrayEquals(prune, drops(r, prune.length, 10));
    SequenceState s = SequenceState.start(prune.length, new Spans(2, 10), 2 + 10 + 3);
    s.apply(0, s.keepDropping(new int[0], 0));
    int[] a = r.keep(s, null, null, 3), b = Pruner.random(prune, 10, 9).keep(s, null, null, 3);
    assertArrayEquals(a, b); // the seed, layer and alive count decide the choice
    assertEquals(12, a.length);
  }
}
