package io.fitprune.bench;

import io.fitprune.decoder.Tensors;
import io.fitprune.vision.BidirectionalAttention;
import io.fitprune.vision.qwen.GridThw;
import io.fitprune.vision.qwen.QwenVisionConfig;
import io.fitprune.vision.qwen.QwenVisionFamily;
import io.fitprune.vision.qwen.QwenVisionTower;
import io.fitprune.vision.qwen.QwenVisionWeights;
import io.fitprune.vision.qwen.WindowIndex;
import java.util.List;
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
 * The Qwen vision towers at the 7B models' geometry (width 1280, 16 heads of 80, 14 px patches
 * over 2 frames, 2x2 merge, out 3584; Qwen2-VL MLP 5120 quick-GELU, Qwen2.5-VL gated MLP 3420 and
 * 112 px windows) on one 1288 x 728 image: a 92 x 52 patch grid, 4784 rows, 1196 merged tokens.
 * Random BF16 weights, {@code depth} blocks (the published towers have 32: a whole tower is about
 * 10 TFLOP, a minute on two cores, so the bench runs a slice and the per-block rate carries):
 * <ul>
 *   <li>{@code tower}: {@link QwenVisionTower#features} (patch product, the blocks, merger, and for
 *       Qwen2.5-VL the window regrouping and its inverse);
 *   <li>{@code attentionFullImage}, {@code attentionWindows}: one block's attention on bf16 q/k/v
 *       over the whole image, and over Qwen2.5-VL's 112 px windows of the same rows.
 * </ul>
 * Setup prints the FLOPs per call ({@link QwenVisionTower#flops}) and the bf16 limit measured by
 * {@code benchmarks/native/peak_flops.cpp} in the same fork, so GFLOP/s = FLOPs / time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 3, time = 4)
public class QwenVisionBench {
  @Param({"qwen2_vl", "qwen2_5_vl"})
  public String family;

  @Param({"1"})
  public int depth;

  static final List<GridThw> IMAGE = List.of(new GridThw(1, 52, 92));

  private QwenVisionTower tower;
  private Tensor pixels, q, k, v, out;
  private long[] full, windows;

  @Setup
  public void setup() {
    io.fitprune.decoder.DecoderRuntime.tuneProcess();
    PeakFlops peak = PeakFlops.measure(); // before the weights exist: nothing else runs while it measures
    QwenVisionFamily f = QwenVisionFamily.of(family);
    QwenVisionConfig c = f.windowed()
        ? new QwenVisionConfig(f, depth, 1280, 3420, 3584, 16, 3, 14, 2, 2, "silu", 112, List.of(7, 15, 23, 31))
        : new QwenVisionConfig(f, depth, 1280, 5120, 3584, 16, 3, 14, 2, 2, "quick_gelu", 0, List.of());
    tower = new QwenVisionTower(QwenVisionWeights.random(c, 1).converted(torch.ScalarType.BFloat16));
    int rows = (int) IMAGE.get(0).patches();
    SplittableRandom r = new SplittableRandom(2);
    float[] px = new float[rows * c.patchValues()];
    for (int i = 0; i < px.length; i++) px[i] = (float) (4 * r.nextDouble() - 2);
    pixels = Tensors.of(px, rows, c.patchValues());
    q = torch.randn(rows, 1280).to(torch.ScalarType.BFloat16);
    k = torch.randn(rows, 1280).to(torch.ScalarType.BFloat16);
    v = torch.randn(rows, 1280).to(torch.ScalarType.BFloat16);
    out = torch.empty(rows, 1280);
    full = new long[] {0, rows};
    QwenVisionConfig w25 = new QwenVisionConfig(QwenVisionFamily.QWEN2_5_VL, 1, 1280, 3420, 3584, 16, 3, 14, 2, 2, "silu",
        112, List.of());
    windows = WindowIndex.of(IMAGE, w25).cuSeqlens();
    double winFlops = 0;
    for (int i = 0; i + 1 < windows.length; i++) winFlops += 4.0 * Math.pow(windows[i + 1] - windows[i], 2) * 1280;
    System.out.printf(Locale.ROOT, "%nQwenVisionBench %s, %d block(s), 92x52 patches: tower %.1f GFLOP per call; attention "
            + "%.2f GFLOP over the image, %.2f over %d windows; bf16 limit (peak_flops, this fork) %.1f GFLOP/s on 1 thread, "
            + "%.1f on %d; %s%n", family, depth, QwenVisionTower.flops(c, IMAGE) / 1e9, 4.0 * rows * rows * 1280 / 1e9,
        winFlops / 1e9, windows.length - 1, peak.bf16One(), peak.bf16All(), peak.threads(), peak.note());
  }

  @TearDown
  public void tearDown() {
    for (Tensor t : new Tensor[] {pixels, q, k, v, out}) t.close();
  }

  @Benchmark
  public void tower(Blackhole bh) {
    try (Tensor y = tower.features(pixels, IMAGE)) {
      bh.consume(y.size(0));
    }
  }

  @Benchmark
  public void attentionFullImage(Blackhole bh) {
    BidirectionalAttention.apply(q, k, v, 16, full, out);
    bh.consume(out.size(0));
  }

  @Benchmark
  public void attentionWindows(Blackhole bh) {
    BidirectionalAttention.apply(q, k, v, 16, windows, out);
    bh.consume(out.size(0));
  }
}
