package io.fitprune.cli;

import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;
import picocli.CommandLine.Option;

/** Options shared by the commands that price recipes. */
final class CostOptions {
  @Option(names = "--scope", defaultValue = "paper", paramLabel = "full|paper",
      description = "FLOPs scope: paper (visual tokens, MACs, as the reference code counts) or full (all tokens, FLOPs, causal, GQA). Default: ${DEFAULT-VALUE} (demo budgets in full); every figure printed names its scope.")
  String scope;

  @Option(names = "--prefix-tokens", paramLabel = "P",
      description = "Prompt tokens before the image, for the full scope (default: the model file's prefixTokens).")
  Integer prefix;

  @Option(names = "--text-tokens", paramLabel = "T",
      description = "Text tokens after the image, for the full scope (default: the model file's textTokens).")
  Integer text;

  Scope scope() {
    return Scope.parse(scope);
  }

  /** The model for {@code s}, with the full scope's prefix and text lengths from the options or the geometry. */
  FlopsModel model(Geometry g, Scope s) {
    int p = prefix != null ? prefix : g.prefixTokens(), t = text != null ? text : g.textTokens();
    if (p < 0) throw new IllegalArgumentException("--prefix-tokens must be >= 0, got " + p);
    if (t < 0) throw new IllegalArgumentException("--text-tokens must be >= 0, got " + t);
    return new FlopsModel(g, s, p, t);
  }
}
