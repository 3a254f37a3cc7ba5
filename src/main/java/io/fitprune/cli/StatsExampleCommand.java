package io.fitprune.cli;

import io.fitprune.model.Geometries;
import io.fitprune.model.Geometry;
import io.fitprune.stats.AttentionStats;
import io.fitprune.stats.StatsFiles;
import io.fitprune.stats.SyntheticStats;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "stats-example", mixinStandardHelpOptions = true,
    description = "Write synthetic but plausible statistics (attention decaying with depth, a few salient tokens) to try fit and sweep without a model.")
final class StatsExampleCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "MODEL", description = "Model file (models/X.json) or bundled model name.")
  String model;

  @Option(names = "--samples", defaultValue = "16", paramLabel = "S", description = "Calibration samples. Default: ${DEFAULT-VALUE}.")
  int samples;

  @Option(names = "--seed", defaultValue = "1", description = "Random seed. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--out", required = true, paramLabel = "S.safetensors", description = "Statistics file to write.")
  Path out;

  @Override
  public Integer call() throws Exception {
    CliPaths.output("--out", out);
    if (samples < 1) throw new IllegalArgumentException("--samples must be >= 1, got " + samples);
    Geometry g = Geometries.resolve(model);
    AttentionStats st = SyntheticStats.generate(g, samples, seed);
    StatsFiles.write(out, st, Map.of("model", g.name(), "source", "synthetic (fitprune stats-example, seed " + seed + ")"));
    System.out.println("wrote " + out + ": synthetic self and cross [" + samples + ", " + g.layers() + ", "
        + g.visualTokens() + "] for " + g.name());
    return 0;
  }
}
