package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fitprune.model.Geometries;
import io.fitprune.recipe.Recipe;
import io.fitprune.recipe.RecipeFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import io.fitprune.cli.CliRun.Result;
import org.junit.jupiter.api.io.TempDir;

class ControllerCliTest {
  @TempDir static Path dir;
  static Path stats;

  @BeforeAll
  static void makeStats() {
    stats = dir.resolve("stats.safetensors");
    Result r = CliRun.run("stats-example", "--model", "models/llava-1.5-7b.json", "--samples", "10", "--out", stats.toString());
    assertEquals(0, r.code(), r.err());
  }

  /** Errors are exactly one line on stderr, with a non-zero exit code. */
  static void assertError(Result r, int code, String contains) {
    assertEquals(code, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains(contains), r.err());
  }

  @Test
  void flopsJson() throws Exception {
    Result r = CliRun.run("flops", "--model", "models/llava-1.5-7b.json", "--prune", "0,0,288" + ",0".repeat(29),
        "--scope", "paper", "--json");
    assertEquals(0, r.code(), r.err());
    JsonNode j = new ObjectMapper().readTree(r.out());
    assertEquals("paper", j.get("scope").asText());
    long D = 4096, F = 11008;
    long full = 3 * 576 * D * D + 2L * 576 * 576 * D + 576 * D * D + 3 * 576 * D * F;
    assertEquals(32 * full, j.get("baseline").asLong());
    long in576out288 = 3 * 576 * D * D + 2L * 576 * 576 * D + 288 * D * D + 3 * 288 * D * F;
    long at288 = 3 * 288 * D * D + 2L * 288 * 288 * D + 288 * D * D + 3 * 288 * D * F;
    assertEquals(3 * full - full + in576out288 + 29 * at288, j.get("pruned").asLong());
    assertEquals(1 - j.get("pruned").asDouble() / j.get("baseline").asDouble(), j.get("reduction").asDouble(), 1e-12);

    Result text = CliRun.run("flops", "--model", "llava-1.5-7b", "--scope", "full");
    assertEquals(0, text.code(), text.err());
    assertTrue(text.out().contains("reduction 0.0000"), text.out());
  }

  @Test
  void fitWritesARecipeThatFlopsReads() throws Exception {
    Path out = dir.resolve("r.json");
    Result r = CliRun.run("fit", "--model", "models/llava-1.5-7b.json", "--stats", stats.toString(), "--budget", "0.6",
        "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    Recipe recipe = RecipeFiles.read(out, Geometries.resolve("llava-1.5-7b"));
    assertTrue(recipe.paper().reduction() >= 0.6);
    assertEquals(10, recipe.calibrationSamples());
    Result f = CliRun.run("flops", "--model", "models/llava-1.5-7b.json", "--recipe", out.toString(), "--json");
    assertEquals(0, f.code(), f.err());
    assertEquals(recipe.paper().reduction(), new ObjectMapper().readTree(f.out()).get("reduction").asDouble(), 1e-12);

    Result full = CliRun.run("fit", "--model", "llava-1.5-7b", "--stats", stats.toString(), "--budget", "0.4", "--scope",
        "full", "--out", out.toString());
    assertEquals(0, full.code(), full.err());
    assertTrue(RecipeFiles.read(out).full().reduction() >= 0.4);
  }

  @Test
  void sweepWritesRecipesTableAndPlots() throws Exception {
    Path out = dir.resolve("sweep");
    Result r = CliRun.run("sweep", "--model", "models/llava-1.5-7b.json", "--stats", stats.toString(), "--budgets",
        "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    for (String b : new String[] {"0.10", "0.50", "0.90"}) assertTrue(Files.exists(out.resolve("recipe-" + b + ".json")));
    for (String png : new String[] {SweepPlots.REDUCTION, SweepPlots.LAYERS}) {
      byte[] bytes = Files.readAllBytes(out.resolve(png));
      assertEquals((byte) 0x89, bytes[0]);
      assertEquals('P', bytes[1]);
    }
    assertEquals(10, r.out().lines().filter(l -> l.matches("^(budget|0\\.\\d+).*")).count(), r.out());
  }

  @Test
  void rejectsBadArgumentsWithOneLine() throws Exception {
    String m = "models/llava-1.5-7b.json", s = stats.toString(), o = dir.resolve("x.json").toString();
    assertError(CliRun.run("fit", "--model", m, "--stats", s, "--budget", "1.0", "--out", o), 2, "[0, 1)");
    assertError(CliRun.run("fit", "--model", m, "--stats", s, "--budget", "-0.1", "--out", o), 2, "[0, 1)");
    assertError(CliRun.run("fit", "--model", m, "--stats", s, "--budget", "abc", "--out", o), 2, "abc");
    assertError(CliRun.run("fit", "--model", m, "--stats", s, "--budget", "0.5", "--mode", "exact", "--out", o), 2,
        "LayerRunner");
    assertError(CliRun.run("fit", "--model", m, "--stats", s, "--budget", "0.5", "--scope", "half", "--out", o), 2, "half");
    assertError(CliRun.run("fit", "--model", m, "--stats", s, "--budget", "0.995", "--out", o), 2, "largest reachable budget");
    assertError(CliRun.run("fit", "--model", m, "--stats", dir.resolve("none.safetensors").toString(), "--budget", "0.5",
        "--out", o), 1, "no such file");
    assertError(CliRun.run("fit", "--model", "models/llava-1.5-13b.json", "--stats", s, "--budget", "0.5", "--out", o), 1,
        "layers");
    assertError(CliRun.run("fit", "--model", "nosuch", "--stats", s, "--budget", "0.5", "--out", o), 2, "bundled");
    assertError(CliRun.run("flops", "--model", m, "--prune", "1,2,3"), 2, "3 layer counts");
    assertError(CliRun.run("flops", "--model", m, "--prune", "1,x"), 2, "not an integer");
    assertError(CliRun.run("flops", "--model", m, "--prune", "600" + ",0".repeat(31)), 2, "only 576");
    assertError(CliRun.run("flops", "--model", m, "--prune", "0", "--recipe", o), 2, "mutually exclusive");
    assertError(CliRun.run("flops", "--model", m, "--text-tokens", "-3", "--scope", "full"), 2, "--text-tokens");
    assertError(CliRun.run("sweep", "--model", m, "--stats", s, "--budgets", "0.1,0.1", "--out", dir.toString()), 2, "twice");
    assertError(CliRun.run("sweep", "--model", m, "--stats", s, "--budgets", "0.1,1.2", "--out", dir.toString()), 2, "[0, 1)");
    assertError(CliRun.run("stats-example", "--model", m, "--samples", "0", "--out", o), 2, "--samples");

    Path wrongModel = dir.resolve("r13.json");
    Result fit = CliRun.run("fit", "--model", m, "--stats", s, "--budget", "0.3", "--out", wrongModel.toString());
    assertEquals(0, fit.code(), fit.err());
    assertError(CliRun.run("flops", "--model", "llava-hr-7b", "--recipe", wrongModel.toString()), 2, "for model 'llava-1.5-7b'");
  }

  @Test
  void sweepReportsUnreachableBudgetsButWritesTheRest() {
    Path out = dir.resolve("partial");
    Result r = CliRun.run("sweep", "--model", "llava-1.5-7b", "--stats", stats.toString(), "--budgets", "0.5,0.999", "--out",
        out.toString());
    assertError(r, 2, "0.9990");
    assertTrue(Files.exists(out.resolve("recipe-0.50.json")));
    assertTrue(r.out().contains("unreachable"), r.out());
  }
}
