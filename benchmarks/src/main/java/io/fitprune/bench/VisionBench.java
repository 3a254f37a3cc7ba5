package io.fitprune.bench;

import io.fitprune.decoder.Tensors;
import io.fitprune.vision.BidirectionalAttention;
import io.fitprune.vision.ClipVisionConfig;
import io.fitprune.vision.LlavaImageEncoder;
import io.fitprune.vision.ProjectorConfig;
import io.fitprune.vision.VisionWeights;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * LLaVA-1.5's image features: the CLIP ViT-L/14 tower at 336 px (hidden 1024, 24 layers, 16
 * heads, MLP 4096, 577 positions; feature layer -2, so 23 layers run) and the projector 1024 ->
 * 4096 -> 4096 on the 576 patch rows, random BF16 weights, {@code images} images per call:
 * <ul>
 *   <li>{@code towerAndProjector}: {@link LlavaImageEncoder#encode} (dense layers and attention in
 *       bf16, residual stream float32);
 *   <li>{@code torchGemmFc1}: one libtorch bf16 GEMM of the MLP's first layer's shape (577 x 1024
 *       by 1024 x 4096 per image), the dense rate the tower's bulk could reach at best;
 *   <li>{@code attentionOurs}, {@code attentionTorchSdpa}: one layer's bidirectional attention on
 *       bf16 q/k/v of one image (577 positions, 16 heads of 64): {@link BidirectionalAttention}
 *       (two causal kernel calls) against libtorch's {@code scaled_dot_product_attention}.
 * </ul>
 * The machine's bf16 limit comes from {@code benchmarks/native/peak_flops.cpp}, run at setup in
 * the same fork; the FLOPs per call and that limit are printed, so TFLOP/s = FLOPs / median and
 * its fraction of the limit follow from the same run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 3, time = 4)
public class VisionBench {
  @Param({"1"})
  public int images;

  private LlavaImageEncoder encoder;
  private Tensor pixels, gemmX, gemmW, q, k, v, out, q4, k4, v4;
  private PeakFlops peak;

  @Setup
  public void setup() {
    io.fitprune.decoder.DecoderRuntime.tuneProcess();
    peak = PeakFlops.measure(); // before the weights exist: nothing else runs while it measures
    ClipVisionConfig c = new ClipVisionConfig(1024, 4096, 24, 16, 3, 336, 14, 1e-5, "quick_gelu");
    ProjectorConfig pc = new ProjectorConfig(-2, "default", 1024, 4096, "gelu", true);
    encoder = new LlavaImageEncoder(VisionWeights.random(c, pc, 1).converted(torch.ScalarType.BFloat16));
    SplittableRandom r = new SplittableRandom(2);
    float[] px = new float[images * 3 * 336 * 336];
    for (int i = 0; i < px.length; i++) px[i] = (float) (4 * r.nextDouble() - 2);
    pixels = Tensors.of(px, images, 3, 336, 336);
    gemmX = torch.randn(577L * images, 1024).to(torch.ScalarType.BFloat16);
    gemmW = torch.randn(4096, 1024).to(torch.ScalarType.BFloat16);
    q = torch.randn(577, 1024).to(torch.ScalarType.BFloat16);
    k = torch.randn(577, 1024).to(torch.ScalarType.BFloat16);
    v = torch.randn(577, 1024).to(torch.ScalarType.BFloat16);
    out = torch.empty(577, 1024);
    q4 = q.view(1, 577, 16, 64).transpose(1, 2).contiguous(); // [1, H, N, d], as SDPA takes them
    k4 = k.view(1, 577, 16, 64).transpose(1, 2).contiguous();
    v4 = v.view(1, 577, 16, 64).transpose(1, 2).contiguous();
    System.out.printf(Locale.ROOT, "%nVisionBench: %.1f GFLOP per call (%d image(s)); fc1 GEMM %.2f GFLOP; bf16 limit "
            + "(peak_flops, this fork) %.1f GFLOP/s on 1 thread, %.1f on %d; fp32 %.1f / %.1f; %s%n",
        encoder.flopsPerImage() * images / 1e9, images, 2.0 * 577 * images * 1024 * 4096 / 1e9, peak.bf16One(),
        peak.bf16All(), peak.threads(), peak.fp32One(), peak.fp32All(), peak.note());
  }

  @TearDown
  public void tearDown() {
    pixels.close();
    gemmX.close();
    gemmW.close();
    for (Tensor t : new Tensor[] {q, k, v, out, q4, k4, v4}) t.close();
  }

  @Benchmark
  public void attentionOurs(Blackhole bh) {
    BidirectionalAttention.apply(q, k, v, 16, out);
    bh.consume(out.size(0));
  }

  @Benchmark
  public void attentionTorchSdpa(Blackhole bh) {
    try (Tensor y = torch.scaled_dot_product_attention(q4, k4, v4)) {
      bh.consume(y.size(0));
    }
  }

  @Benchmark
  public void towerAndProjector(Blackhole bh) {
    try (Tensor y = encoder.encode(pixels)) {
      bh.consume(y.size(1));
    }
  }

  @Benchmark
  public void torchGemmFc1(Blackhole bh) {
    try (Tensor y = torch.linear(gemmX, gemmW)) {
      bh.consume(y.size(0));
    }
  }
}
