package io.fitprune.bench;

import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.Kernels;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRef;
import org.bytedeco.pytorch.TensorVector;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * Selecting the kept rows and compacting a layer's hidden states [n, D] to them: ours against
 * libtorch's {@code topk} (plus the sort and concatenation that make it a keep list) and
 * {@code index_select}. LLaVA-1.5-7B layer: n = 650, D = 4096, half the 576 visual tokens dropped.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SelectGatherBench {
  @Param({"288"})
  public int drop;

  static final int N = 650, P = 35, V = 576, D = 4096;
  private Data self, cross, hidden, compact;
  private Data keep;
  private Tensor selfT, crossT, hiddenT, keepT, prefixT, textT;
  private final io.fitprune.kernels.Spans spans = new io.fitprune.kernels.Spans(P, V);

  @Setup(Level.Trial)
  public void setup() {
    io.fitprune.decoder.DecoderRuntime.tuneProcess(); // as in AttentionBench: fair to libtorch's allocations
    torch.set_num_threads(Kernels.threads());
    Random rnd = new Random(3);
    self = AttentionBench.random(rnd, V);
    cross = AttentionBench.random(rnd, V);
    hidden = AttentionBench.random(rnd, (long) N * D);
    compact = Data.allocate(ElementType.FP32, (long) (N - drop) * D);
    keep = Data.allocate(ElementType.INT32, N - drop);
    Kernels.selectKeep(N, spans, self, cross, drop, keep);
    selfT = torch.from_blob(self.pointer(), V);
    crossT = torch.from_blob(cross.pointer(), V);
    hiddenT = torch.from_blob(hidden.pointer(), N, D);
    keepT = torch.from_blob(keep.pointer(), new long[] {N - drop}, new org.bytedeco.pytorch.TensorOptions(torch.ScalarType.Int)).to(torch.ScalarType.Long);
    prefixT = torch.arange(new org.bytedeco.pytorch.Scalar(0), new org.bytedeco.pytorch.Scalar(P));
    textT = torch.arange(new org.bytedeco.pytorch.Scalar(P + V), new org.bytedeco.pytorch.Scalar(N));
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (var d : new AutoCloseable[] {self, cross, hidden, compact, keep}) {
      try {
        d.close();
      } catch (Exception ignored) {
        // native frees do not throw
      }
    }
  }

  @Benchmark
  public void oursSelect(Blackhole bh) {
    Kernels.selectKeep(N, spans, self, cross, drop, keep);
    bh.consume(keep);
  }

  @Benchmark
  public void torchTopkSelect(Blackhole bh) {
    try (PointerScope scope = new PointerScope()) {
      T_TensorTensor_T top = selfT.mul(crossT).topk(V - drop);
      Tensor visual = top.get1().sort().get0().add(new org.bytedeco.pytorch.Scalar(P));
      Tensor all = torch.cat(new TensorArrayRef(new TensorVector(prefixT, visual, textT)));
      bh.consume(all.data_ptr_long().get(0));
    }
  }

  @Benchmark
  public void oursGather(Blackhole bh) {
    Kernels.gatherRows(hidden, N, D, keep, compact);
    bh.consume(compact);
  }

  @Benchmark
  public void torchIndexSelect(Blackhole bh) {
    try (PointerScope scope = new PointerScope()) {
      bh.consume(hiddenT.index_select(0, keepT).data_ptr_float().get(0));
    }
  }
}
