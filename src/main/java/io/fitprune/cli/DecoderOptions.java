package io.fitprune.cli;

import io.fitprune.decoder.DecoderConfig;
import io.fitprune.model.Geometry;
import picocli.CommandLine.Option;

/** What the reference decoder needs beyond the geometry, for the commands that run it (prefill, fit --mode exact). */
final class DecoderOptions {
  @Option(names = "--rope-theta", defaultValue = "10000", description = "RoPE base. Default: ${DEFAULT-VALUE}.")
  double ropeTheta;

  @Option(names = "--rms-eps", defaultValue = "1e-5", description = "RMSNorm epsilon. Default: ${DEFAULT-VALUE}.")
  double rmsEps;

  /** The decoder of {@code g}; the vocabulary is a placeholder that loading the weights replaces. */
  DecoderConfig config(Geometry g) {
    return DecoderConfig.of(g, 1, ropeTheta, rmsEps);
  }
}
