package io.fitprune.bench;

import io.fitprune.decoder.BatchDecoder;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderRuntime;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.fitting.FastFitter;
import io.fitprune.flops.Cost;
import io.fitprune.flops.FlopsModel;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.stats.SyntheticStats;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What pruned attention buys a user: the whole prefill of the demo model (the {@code demo}
 * command's base size: 8 layers, D = 1024, H = 16, G = 4, F = 2816; 16 prefix + 576 visual + 32
 * text tokens) unpruned and under FitPrune recipes cutting 30%, 50% and 70% of the full-scope
 * FLOPs (fast mode, fitted on synthetic statistics), for one request ({@code batch = 1}) and for 4
 * requests prefilled together ({@code batch = 4}). The FLOPs model's predicted speedup of each
 * recipe is printed at setup, to set beside the measured one.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class PrunedPrefillBench {
  static final int L = 8, D = 1024, H = 16, G = 4, F = 2816, VOCAB = 512, P = 16, V = 576, T = 32;

  @Param({"1", "4"})
  public int batch;

  private BatchDecoder dec;
  private List<Tensor> inputs;
  private Pruner p30, p50, p70;

  @Setup(Level.Trial)
  public void setup() {
    DecoderRuntime.tuneProcess();
    Geometry g = new Geometry("fitprune-demo-base", L, D, H, G, D / H, F, V, P, T);
    DecoderConfig cfg = new DecoderConfig(g, VOCAB, 10000.0, 1e-5);
    dec = new BatchDecoder(new Decoder(DecoderWeights.random(cfg, 1)));
    FlopsModel full = new FlopsModel(g, io.fitprune.flops.Scope.FULL, P, T);
    FastFitter fitter = new FastFitter(SyntheticStats.generate(g, 4, 7), full);
    Pruner[] ps = new Pruner[3];
    double[] budgets = {0.3, 0.5, 0.7};
    for (int i = 0; i < 3; i++) {
      int[] prune = fitter.fit(budgets[i]).prune();
      Cost c = full.evaluate(prune);
      System.out.printf(Locale.ROOT, "recipe %.0f%%: %s, FLOPs cut %.1f%%, predicted speedup %.3fx%n", 100 * budgets[i],
          Arrays.toString(prune), 100 * c.reduction(), c.baseline() / c.pruned());
      ps[i] = Pruner.fitprune(prune, V);
    }
    p30 = ps[0];
    p50 = ps[1];
    p70 = ps[2];
    Random rnd = new Random(3);
    inputs = new ArrayList<>();
    for (int b = 0; b < batch; b++) {
      float[] e = new float[(P + V + T) * D];
      for (int i = 0; i < e.length; i++) e[i] = (float) rnd.nextGaussian();
      inputs.add(torch.from_blob(new org.bytedeco.javacpp.FloatPointer(e), P + V + T, D).clone());
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    inputs.forEach(Tensor::close);
  }

  private int run(Pruner p) {
    List<BatchDecoder.Request> reqs = new ArrayList<>();
    for (Tensor e : inputs) reqs.add(new BatchDecoder.Request(e, new Spans(P, V), p));
    List<Decoder.Prefill> out = dec.prefill(reqs, -1);
    int next = out.get(0).nextToken();
    out.forEach(Decoder.Prefill::close);
    return next;
  }

  @Benchmark
  public int unpruned() {
    return run(Pruner.none());
  }

  @Benchmark
  public int pruned30() {
    return run(p30);
  }

  @Benchmark
  public int pruned50() {
    return run(p50);
  }

  @Benchmark
  public int pruned70() {
    return run(p70);
  }
}
