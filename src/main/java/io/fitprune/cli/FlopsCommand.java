package io.fitprune.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import io.fitprune.recipe.Recipe;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "flops", mixinStandardHelpOptions = true,
    description = "Cost of one prefill with and without a recipe (no recipe: the unpruned baseline).")
final class FlopsCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "MODEL", description = "Model file (models/X.json) or bundled model name.")
  String model;

  @ArgGroup(exclusive = true)
  Source source;

  static final class Source {
    @Option(names = "--recipe", paramLabel = "R.json", description = "Recipe file.")
    Path recipe;

    @Option(names = "--prune", paramLabel = "N,N,...", description = "Tokens pruned after each layer, one count per layer.")
    String prune;
  }

  @Mixin
  CostOptions cost = new CostOptions();

  @Option(names = "--json", description = "Print one JSON object instead of text.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    if (source != null) CliPaths.input("--recipe", source.recipe);
    Scope scope = cost.scope();
    Geometry g = Geometries.resolve(model);
    int[] prune = new int[g.layers()];
    if (source != null && source.recipe != null) {
      boolean perImage = VisualCounts.perImage(model); // LLaVA-NeXT: the recipe's cost at its own count
      Recipe r = VisualCounts.recipe(source.recipe, g, perImage);
      g = VisualCounts.at(r, g, perImage);
      prune = r.prune();
    }
    else if (source != null && source.prune != null) prune = Args.intList("--prune", source.prune);
    FlopsModel m = cost.model(g, scope);
    Cost c = m.evaluate(prune);
    if (json) {
      ObjectMapper om = new ObjectMapper();
      ObjectNode o = om.createObjectNode();
      o.put("model", g.name());
      o.put("scope", scope.id());
      o.put("unit", scope == Scope.PAPER ? "MAC" : "FLOP");
      o.put("baseline", Math.round(c.baseline()));
      o.put("pruned", Math.round(c.pruned()));
      o.put("reduction", c.reduction());
      o.put("scoreOverhead", Math.round(c.scoreOverhead()));
      if (scope == Scope.FULL) {
        o.put("prefixTokens", m.prefixTokens());
        o.put("textTokens", m.textTokens());
      }
      ArrayNode p = o.putArray("prune");
      for (int x : prune) p.add(x);
      System.out.println(om.writeValueAsString(o));
    } else {
      boolean macs = scope == Scope.PAPER;
      System.out.println("model     " + g.name() + " (" + scope.id() + " scope"
          + (macs ? ", visual tokens, MACs" : ", P=" + m.prefixTokens() + " t=" + m.textTokens() + ", FLOPs") + ")");
      String in = " (" + scope.id() + " scope)";
      System.out.println("baseline  " + Args.amount(c.baseline(), macs) + in);
      System.out.println("pruned    " + Args.amount(c.pruned(), macs) + in);
      System.out.println("reduction " + Args.fraction(c.reduction()) + in);
      System.out.println("score     " + Args.amount(c.scoreOverhead(), macs) + in + " extra for the score passes");
    }
    return 0;
  }
}
