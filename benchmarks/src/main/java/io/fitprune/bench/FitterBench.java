package io.fitprune.bench;

import io.fitprune.fitting.FastFitter;
import io.fitprune.fitting.FitResult;
import io.fitprune.flops.FlopsModel;
import io.fitprune.flops.Scope;
import io.fitprune.model.Geometry;
import io.fitprune.stats.AttentionStats;
import io.fitprune.stats.SyntheticStats;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Fast-mode recipe fitting at the paper's calibration size: S = 100 samples of LLaVA-1.5-7B
 * (L = 32, V = 576). Each invocation builds a fresh fitter (pre-sorting included, no cache carried
 * over), so the figures are what a user waits for from statistics in memory to recipes.
 * Goal: the 9-budget sweep well under 1 s on 2 cores; the paper's search takes about 5 minutes.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class FitterBench {
  @Param({"100"})
  public int samples;

  private AttentionStats stats, mixed;
  private FlopsModel model;

  @Setup
  public void setup() {
    Geometry g = new Geometry("llava-1.5-7b", 32, 4096, 32, 32, 128, 11008, 576, 35, 64);
    stats = SyntheticStats.generate(g, samples, 1);
    // Paper scope: budgets up to 0.9 are reachable there (the full scope tops out near 0.85).
    model = FlopsModel.of(g, Scope.PAPER);
    mixed = mixedCounts(g, samples);
  }

  /**
   * The same number of samples at four anyres-like counts (576 to 1152, a quarter each), rows cut
   * from synthetic statistics at 1152 tokens and padded with 0: fitting at each sample's own count.
   */
  static AttentionStats mixedCounts(Geometry g, int samples) {
    int max = 1152, L = g.layers();
    Geometry wide = new Geometry(g.name(), L, g.hidden(), g.heads(), g.kvHeads(), g.headDim(), g.mlp(), max,
        g.prefixTokens(), g.textTokens());
    AttentionStats full = SyntheticStats.generate(wide, samples, 2);
    int[] visual = new int[samples];
    float[] self = full.self().clone(), cross = full.cross().clone();
    for (int s = 0; s < samples; s++) {
      visual[s] = s == 0 ? max : new int[] {576, 720, 864, 1152}[s % 4];
      for (int l = 0; l < L; l++) {
        int off = (s * L + l) * max;
        java.util.Arrays.fill(self, off + visual[s], off + max, 0f);
        java.util.Arrays.fill(cross, off + visual[s], off + max, 0f);
      }
    }
    return new AttentionStats(samples, L, max, self, cross, visual);
  }

  /** One budget (0.6): pre-sorting plus one binary search of 8 passes. */
  @Benchmark
  public FitResult oneBudget() {
    return new FastFitter(stats, model).fit(0.6);
  }

  /** One budget (0.6) from samples of four visual counts, fitted for 576. */
  @Benchmark
  public FitResult oneBudgetMixedCounts() {
    return new FastFitter(mixed, model).fit(0.6);
  }

  /** Budgets 0.1 ... 0.9 from one recording, as `fitprune sweep` runs them. */
  @Benchmark
  public void sweep9(Blackhole bh) {
    FastFitter f = new FastFitter(stats, model);
    for (int i = 1; i <= 9; i++) bh.consume(f.fit(i / 10.0));
  }
}
