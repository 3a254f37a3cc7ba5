package io.fitprune.bench;

import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.FitPruneNative;
import io.fitprune.kernels.Kernels;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
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
 * One decoder layer's causal prefill attention, fp32 (and bf16 for ours), ours and libtorch's in the same run:
 * <ul>
 *   <li>{@code oursAttention}: our kernel, output and LSE;
 *   <li>{@code oursAttentionScores}: the same plus the FitPrune score pass, in one call
 *       ({@code Kernels.attentionScores}: the scores from the attention's own logits);
 *   <li>{@code oursFiniteChecks}: the non-finite input checks that {@code oursAttention} includes
 *       (a scan of k, of the LSE and of the last output row), alone: their share of the attention;
 *   <li>{@code oursAttentionBf16}, {@code oursAttentionScoresBf16}: the same two on the same
 *       inputs rounded to bf16 (bf16 output; fp32 LSE and scores);
 *   <li>{@code torchSdpa}: libtorch {@code scaled_dot_product_attention}, causal (GQA natively);
 *   <li>{@code torchEagerScores}: what the reference FitPrune code does: materialised causal
 *       softmax probabilities (H x n x n), the output from them, the head-max and the two sums;
 *   <li>{@code torchGemmEqualFlops}: a yardstick, not attention: one libtorch GEMM
 *       [n, H*d] x [H*d, n], whose 2*n^2*d*H FLOPs equal causal attention's, i.e. libtorch's dense
 *       throughput on this machine at the same work.
 * </ul>
 * Inputs are random and allocated in setup; both sides use every core of the machine.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class AttentionBench {
  @Param({"llava15", "llavahr", "gqa"})
  public String shape;

  private Shapes s;
  private Data q, k, v, out, lse, self, cross;
  private Data qb, kb, vb, outb;
  private Tensor qt, kt, vt, causalMask, gemmA, gemmB;

  @Setup(Level.Trial)
  public void setup() {
    // Before libtorch loads: passive OpenMP waiting and glibc keeping freed memory (this VM's page
    // faults would otherwise charge libtorch's per-call temporaries; our kernels allocate nothing).
    io.fitprune.decoder.DecoderRuntime.tuneProcess();
    s = Shapes.valueOf(shape);
    torch.set_num_threads(Kernels.threads()); // both sides on the same cores
    int n = (int) s.shape.tokens(), H = s.shape.heads(), G = s.shape.kvHeads(), d = s.shape.headDim();
    Random rnd = new Random(42);
    q = random(rnd, s.shape.qLength());
    k = random(rnd, s.shape.kvLength());
    v = random(rnd, s.shape.kvLength());
    out = Data.allocate(ElementType.FP32, s.shape.qLength());
    lse = Data.allocate(ElementType.FP32, s.shape.lseLength());
    self = Data.allocate(ElementType.FP32, s.spans.visual());
    cross = Data.allocate(ElementType.FP32, s.spans.visual());
    qb = bf16(q);
    kb = bf16(k);
    vb = bf16(v);
    outb = Data.allocate(ElementType.BF16, s.shape.qLength());
    // libtorch gets its preferred contiguous [H, n, d] layout, copied once here.
    qt = torch.from_blob(q.pointer(), n, H, d).permute(1, 0, 2).contiguous();
    kt = torch.from_blob(k.pointer(), n, G, d).permute(1, 0, 2).contiguous();
    vt = torch.from_blob(v.pointer(), n, G, d).permute(1, 0, 2).contiguous();
    gemmA = torch.from_blob(q.pointer(), n, (long) H * d).clone();
    gemmB = torch.from_blob(q.pointer(), (long) H * d, n).clone();
    causalMask = torch.triu(torch.full(new long[] {n, n}, new Scalar(Double.NEGATIVE_INFINITY)), 1);
  }

  static Data random(Random rnd, long count) {
    float[] a = new float[Math.toIntExact(count)];
    for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
    Data d = Data.allocate(ElementType.FP32, count);
    d.copyFrom(a);
    return d;
  }

  static Data bf16(Data f) {
    Data b = Data.allocate(ElementType.BF16, f.length());
    b.copyFrom(Data.roundBf16(f.toFloats()).toShorts());
    return b;
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Data d : new Data[] {q, k, v, out, lse, self, cross}) d.close();
    for (Data d : new Data[] {qb, kb, vb, outb}) d.close();
  }

  @Benchmark
  public void oursAttention(Blackhole bh) {
    Kernels.attention(s.shape, q, k, v, out, lse);
    bh.consume(out);
  }

  @Benchmark
  public void oursAttentionScores(Blackhole bh) {
    Kernels.attentionScores(s.shape, s.spans, q, k, v, out, lse, self, cross);
    bh.consume(self);
    bh.consume(cross);
  }

  /** The scans the CPU attention adds after its kernel: k (non-finite inputs), lse and the whole out (overflow). */
  @Benchmark
  public void oursFiniteChecks(Blackhole bh) {
    try (LongPointer at = new LongPointer(1)) {
      FitPruneNative.fp_first_nonfinite_f32((FloatPointer) k.pointer(), s.shape.kvLength(), at);
      bh.consume(at.get());
      FitPruneNative.fp_first_nonfinite_f32((FloatPointer) lse.pointer(), s.shape.lseLength(), at);
      bh.consume(at.get());
      FitPruneNative.fp_first_nonfinite_f32((FloatPointer) out.pointer(), s.shape.qLength(), at);
      bh.consume(at.get());
    }
  }

  @Benchmark
  public void oursAttentionBf16(Blackhole bh) {
    Kernels.attention(s.shape, qb, kb, vb, outb, lse);
    bh.consume(outb);
  }

  @Benchmark
  public void oursAttentionScoresBf16(Blackhole bh) {
    Kernels.attentionScores(s.shape, s.spans, qb, kb, vb, outb, lse, self, cross);
    bh.consume(self);
    bh.consume(cross);
  }

  @Benchmark
  public void torchSdpa(Blackhole bh) {
    try (PointerScope scope = new PointerScope()) {
      Tensor o = torch.scaled_dot_product_attention(qt, kt, vt, new TensorOptional(), 0.0, true,
          new DoubleOptional(), s.shape.heads() != s.shape.kvHeads());
      bh.consume(o.data_ptr_float().get(0));
    }
  }

  @Benchmark
  public void torchGemmEqualFlops(Blackhole bh) {
    try (PointerScope scope = new PointerScope()) {
      bh.consume(gemmA.matmul(gemmB).data_ptr_float().get(0));
    }
  }

  @Benchmark
  public void torchEagerScores(Blackhole bh) {
    try (PointerScope scope = new PointerScope()) {
      int H = s.shape.heads(), G = s.shape.kvHeads();
      long P = s.spans.prefix(), V = s.spans.visual(), t = s.spans.text(s.shape.tokens());
      Tensor kr = H == G ? kt : kt.repeat_interleave(H / G, new LongOptional(0), new LongOptional());
      Tensor vr = H == G ? vt : vt.repeat_interleave(H / G, new LongOptional(0), new LongOptional());
      Tensor logits = qt.matmul(kr.transpose(1, 2)).mul(new Scalar(1.0 / Math.sqrt(s.shape.headDim())));
      Tensor probs = logits.add(causalMask).softmax(2);          // [H, n, n], materialised
      Tensor o = probs.matmul(vr);                                // the layer's attention output
      Tensor visCols = probs.amax(new long[] {0}, false).narrow(1, P, V);
      Tensor selfT = visCols.narrow(0, P, V).sum(0).div(new Scalar(V));
      Tensor crossT = visCols.narrow(0, P + V, t).sum(0).div(new Scalar(t));
      bh.consume(o.data_ptr_float().get(0));
      bh.consume(selfT.data_ptr_float().get(0) + crossT.data_ptr_float().get(0));
    }
  }
}
