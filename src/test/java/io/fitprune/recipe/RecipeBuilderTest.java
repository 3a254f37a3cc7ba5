package io.fitprune.recipe;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.fitting.FitResult;
import io.fitprune.fitting.Mode;
import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipeBuilderTest {
  // hidden 12 != heads * headDim = 8: the builder and the file follow the FLOPs model either way
  static final Geometry G = new Geometry("toy", 5, 12, 2, 1, 4, 16, 11, 2, 3);
  @TempDir Path dir;

  @Test
  void aHandWrittenRecipeCarriesItsOwnCostsAndReadsBackEqual() throws Exception {
    Recipe r = Recipe.builder(G).prune(0, 4, 0, 3, 4).tokens(7, 1).build();
    assertEquals(Recipe.MANUAL, r.mode());
    assertEquals("paper", r.scope());
    FlopsModel full = new FlopsModel(G, Scope.FULL, 7, 1), paper = FlopsModel.of(G, Scope.PAPER);
    Cost f = full.evaluate(new int[] {0, 4, 0, 3, 4}), p = paper.evaluate(new int[] {0, 4, 0, 3, 4});
    assertEquals(f.pruned(), r.full().pruned());
    assertEquals(f.baseline(), r.full().baseline());
    assertEquals(7, r.full().prefixTokens());
    assertEquals(1, r.full().textTokens());
    assertEquals(p.pruned(), r.paper().pruned());
    assertEquals(p.reduction(), r.budget(), "the default budget is what the counts achieve in the scope");
    Path file = dir.resolve("manual.json");
    RecipeFiles.write(file, r);
    assertEquals(r, RecipeFiles.read(file, G));
  }

  @Test
  void dropSetsOneLayerAndScopeAndBudgetAreKept() {
    Recipe r = Recipe.builder(G).drop(2, 5).drop(4, 6).scope(Scope.FULL).budget(0.1).build();
    assertArrayEquals(new int[] {0, 0, 5, 0, 6}, r.prune());
    assertEquals("full", r.scope());
    assertEquals(0.1, r.budget());
    Recipe none = Recipe.builder(G).build();
    assertArrayEquals(new int[5], none.prune());
    assertEquals(0, none.budget());
  }

  @Test
  void theFittersRecipeIsTheBuildersRecipe() {
    int[] prune = {3, 2, 0, 1, 0};
    FitResult fit = new FitResult(prune, 0.375, 0.2, Mode.EXACT, FlopsModel.of(G, Scope.PAPER).evaluate(prune), 9);
    Recipe a = Recipe.of(G, fit, Scope.PAPER, new FlopsModel(G, Scope.FULL, 4, 5), 6);
    Recipe b = Recipe.builder(G).fit(fit, Scope.PAPER, 6).tokens(4, 5).build();
    assertEquals(a, b);
    assertEquals("exact", b.mode());
    assertEquals(0.375, b.alpha());
    assertEquals(0.2, b.budget());
    assertEquals(6, b.calibrationSamples());
  }

  @Test
  void badInputIsRefusedNamingTheArgument() {
    RecipeBuilder b = Recipe.builder(G);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.prune(1, 2)).getMessage().contains("expected 5 counts"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.prune(0, 0, 6, 6, 0)).getMessage().contains("only 5"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.prune(0, -1, 0, 0, 0)).getMessage().contains("negative"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.drop(5, 1)).getMessage().contains("layer"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.budget(1)).getMessage().contains("budget"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.budget(Double.NaN)).getMessage().contains("budget"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.tokens(-1, 0)).getMessage().contains("prefix"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.scope(null)).getMessage().contains("scope"));
    assertThrows(IllegalArgumentException.class, () -> Recipe.builder(null));
    // a refused call changes nothing
    assertArrayEquals(new int[5], b.build().prune());
  }
}
