package io.fitprune.recipe;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.fitting.FitResult;
import io.fitprune.fitting.Mode;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipeFilesTest {
  static final Geometry G = new Geometry("toy", 4, 8, 2, 1, 4, 16, 10, 2, 3);
  @TempDir Path dir;

  private Recipe recipe(int... prune) {
    FlopsModel paper = FlopsModel.of(G, Scope.PAPER);
    FitResult fit = new FitResult(prune, 0.25, 0.3, Mode.FAST, paper.evaluate(prune), 8);
    return Recipe.of(G, fit, Scope.PAPER, FlopsModel.of(G, Scope.FULL), 12);
  }

  @Test
  void roundTripKeepsEverything() throws Exception {
    Recipe r = recipe(3, 2, 0, 1);
    Path f = dir.resolve("r.json");
    RecipeFiles.write(f, r);
    Recipe back = RecipeFiles.read(f, G);
    assertArrayEquals(r.prune(), back.prune());
    assertEquals(r.model(), back.model());
    assertEquals(r.alpha(), back.alpha());
    assertEquals(r.budget(), back.budget());
    assertEquals("paper", back.scope());
    assertEquals("fast", back.mode());
    assertEquals(12, back.calibrationSamples());
    assertEquals(r.paper().reduction(), back.paper().reduction());
    assertEquals(r.full().pruned(), back.full().pruned());
    assertEquals(2, back.full().prefixTokens());
    assertEquals(3, back.full().textTokens());
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(1, s.count(), "atomic write leaves no temporary file behind");
    }
  }

  private String reject(String json) throws Exception {
    Path f = dir.resolve("bad.json");
    Files.writeString(f, json);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RecipeFiles.read(f, G));
    assertTrue(e.getMessage().contains("bad.json"), e.getMessage());
    return e.getMessage();
  }

  @Test
  void rejectsRecipesThatDoNotFit() throws Exception {
    String good = RecipeFiles.toJson(recipe(3, 2, 0, 1));
    assertTrue(reject(good.replace("\"toy\"", "\"llava-1.5-7b\"")).contains("for model 'llava-1.5-7b'"));
    assertTrue(reject(good.replace("[ 3, 2, 0, 1 ]", "[ 3, 2, 0, 1, 0 ]")).contains("5 counts but the recipe says 4 layers"));
    assertTrue(reject(good.replace("[ 3, 2, 0, 1 ]", "[ 3, 2 ]")).contains("2 counts but the recipe says 4 layers"));
    assertTrue(reject(good.replace("[ 3, 2, 0, 1 ]", "[ 6, 2, 3, 0 ]")).contains("drops 11 visual tokens"));
    assertTrue(reject(good.replace("[ 3, 2, 0, 1 ]", "[ 3, -2, 0, 1 ]")).contains("negative"));
    assertTrue(reject(good.replace("[ 3, 2, 0, 1 ]", "[ 3, 2.5, 0, 1 ]")).contains("prune[1]"));
    assertTrue(reject(good.replace("\"layers\" : 4", "\"layers\" : 5")).contains("layers"));
    assertTrue(reject(good.replace("\"version\" : 1", "\"version\" : 9")).contains("version 9"));
    assertTrue(reject(good.replace("\"alpha\"", "\"alfa\"")).contains("missing field 'alpha'"));
    assertTrue(reject(good.substring(0, good.length() / 2)).contains("not valid JSON"));
  }

  @Test
  void storedCostsAreCheckedAgainstTheCounts() throws Exception {
    Recipe r = recipe(3, 2, 0, 1);
    String good = RecipeFiles.toJson(r);
    // counts edited by hand, costs left as fitted: the file no longer describes itself
    String m = reject(good.replace("[ 3, 2, 0, 1 ]", "[ 3, 2, 1, 1 ]"));
    assertTrue(m.contains("cost.full.pruned") && m.contains("the counts cost"), m);
    long pruned = Math.round(r.paper().pruned());
    m = reject(good.replace("\"pruned\" : " + pruned + ",", "\"pruned\" : " + (pruned + 1) + ","));
    assertTrue(m.contains("cost.paper.pruned") || m.contains("reduction"), m);
    // the same counts on another geometry of the same name cost something else
    Geometry wider = new Geometry("toy", 4, 12, 2, 1, 4, 16, 10, 2, 3);
    Path f = dir.resolve("r.json");
    RecipeFiles.write(f, r);
    m = assertThrows(IllegalArgumentException.class, () -> RecipeFiles.read(f, wider)).getMessage();
    assertTrue(m.contains("cost.full.baseline") && m.contains("geometry differs"), m);
    // prefix and text lengths are the prompt's, not the model's: a geometry that differs only there
    // (a model folder's template) takes the recipe, whose costs are checked at the lengths it priced
    Geometry otherPrompt = new Geometry("toy", 4, 8, 2, 1, 4, 16, 10, 7, 11);
    assertArrayEquals(r.prune(), RecipeFiles.read(f, otherPrompt).prune());
    // a structurally inconsistent entry is refused without any geometry
    m = assertThrows(IllegalArgumentException.class, () -> {
      Files.writeString(f, good.replaceFirst("\"reduction\" : [0-9.E-]+", "\"reduction\" : 0.75"));
      RecipeFiles.read(f);
    }).getMessage();
    assertTrue(m.contains("r.json") && m.contains("reduction"), m);
  }
}
