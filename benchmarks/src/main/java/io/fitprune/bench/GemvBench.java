package io.fitprune.bench;

import io.fitprune.decoder.Tensors;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.TorchData;
import io.fitprune.kernels.Weight;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The crossover in M between the native streaming dense layer ({@code ours}: Kernels.linear) and
 * libtorch's bf16 {@code linear} ({@code torch}: x rounded to bf16, oneDNN's GEMM, as the
 * decoder's prefill runs it), on one BF16 weight of LLaMA-7B's MLP ([11008, 4096], 90 MB, larger
 * than the caches) for M rows of float32 activations.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
public class GemvBench {
  static final int IN = 4096, OUT = 11008;

  @Param({"1", "8", "16", "32", "64", "128"})
  public int m;

  private Tensor w, x;
  private Weight weight;
  private Data xd, yd;

  @Setup
  public void setup() {
    io.fitprune.decoder.DecoderRuntime.tuneProcess();
    Random r = new Random(5);
    float[] wv = new float[IN * OUT];
    for (int i = 0; i < wv.length; i++) wv[i] = (float) (r.nextGaussian() / 64);
    try (Tensor f = Tensors.of(wv, OUT, IN)) {
      w = f.to(torch.ScalarType.BFloat16).contiguous();
    }
    float[] xv = new float[m * IN];
    for (int i = 0; i < xv.length; i++) xv[i] = (float) r.nextGaussian();
    x = Tensors.of(xv, m, IN);
    weight = TorchData.weight("mlp.gate_proj", w);
    xd = TorchData.floats(x);
    yd = Data.of(new FloatPointer((long) m * OUT));
  }

  @Benchmark
  public void ours() {
    Kernels.linear(xd, m, weight, yd);
  }

  @Benchmark
  public void torch(Blackhole bh) {
    try (Tensor xb = x.to(torch.ScalarType.BFloat16); Tensor y = torch.linear(xb, w)) {
      bh.consume(y.numel());
    }
  }
}
