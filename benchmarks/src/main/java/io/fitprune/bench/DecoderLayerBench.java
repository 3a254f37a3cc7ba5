package io.fitprune.bench;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.decoder.DecoderState;
import io.fitprune.decoder.Tensors;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * One whole reference-decoder layer of LLaVA-1.5-7B's geometry (D = 4096, 32 heads, SwiGLU 11008)
 * on a 650-token prefill (35 + 576 + 39), unpruned, in the same run with the same weight values:
 * <ul>
 *   <li>{@code layerFp32}: float32 weights, dense layers in float32;
 *   <li>{@code layerBf16}: the bf16 twin of those weights, run as a BF16 checkpoint runs: dense
 *       layers, q/k/v and attention in bf16 (float32 softmax), residual stream float32;
 *   <li>{@code layerFp32Mrope}: {@code layerFp32} with Qwen2-VL's M-RoPE (sections 16, 24, 24) at
 *       the 3-D positions of the 576 visual tokens as a 24 x 24 merged grid: what the three
 *       position ids cost over one.
 * </ul>
 * Each call starts from the same embeddings (a 10 MB copy, negligible next to the layer).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class DecoderLayerBench {
  static final int P = 35, V = 576, N = 650;
  private Decoder fp32, bf16, fp32Mrope;
  private int[][] positions3d;
  private Tensor embeds;
  private io.fitprune.kernels.Spans spans;

  @Setup
  public void setup() {
    io.fitprune.decoder.DecoderRuntime.tuneProcess(); // passive OpenMP waiting, one thread per CPU for libtorch and our pool
    DecoderConfig c = new DecoderConfig(new Geometry("llava-1.5-7b-layer", 1, 4096, 32, 32, 128, 11008, V, P, N - P - V), 8, 10000.0, 1e-5);
    DecoderWeights w = DecoderWeights.random(c, 1);
    fp32 = new Decoder(w);
    bf16 = new Decoder(w.converted(torch.ScalarType.BFloat16));
    DecoderConfig mrope = DecoderConfig.of(c.geometry(), c.vocab(), 1e6, 1e-5, java.util.List.of(16, 24, 24));
    fp32Mrope = new Decoder(DecoderWeights.random(mrope, 1)); // the same values: same seed and shapes
    int[] ids = new int[N];
    java.util.Arrays.fill(ids, P, P + V, 3);       // image tokens
    ids[P - 1] = 2;                                 // vision start
    positions3d = io.fitprune.pruning.RopeIndex.of(ids, new int[][] {{1, 48, 48}}, 2, 3, 4, 2).positions();
    Random r = new Random(2);
    float[] e = new float[N * c.hidden()];
    for (int i = 0; i < e.length; i++) e[i] = (float) r.nextGaussian();
    embeds = Tensors.of(e, N, c.hidden());
    spans = new io.fitprune.kernels.Spans(P, V);
  }

  private static void layer(Decoder dec, Tensor embeds, io.fitprune.kernels.Spans spans, Blackhole bh) {
    layer(dec, embeds, spans, null, bh);
  }

  private static void layer(Decoder dec, Tensor embeds, io.fitprune.kernels.Spans spans, int[][] positions,
      Blackhole bh) {
    try (DecoderState s = dec.start(embeds, spans, positions, -1)) {
      dec.layer(s, Pruner.none());
      bh.consume(s.tokens());
    }
  }

  @Benchmark
  public void layerFp32(Blackhole bh) {
    layer(fp32, embeds, spans, bh);
  }

  @Benchmark
  public void layerBf16(Blackhole bh) {
    layer(bf16, embeds, spans, bh);
  }

  @Benchmark
  public void layerFp32Mrope(Blackhole bh) {
    layer(fp32Mrope, embeds, spans, positions3d, bh);
  }
}
