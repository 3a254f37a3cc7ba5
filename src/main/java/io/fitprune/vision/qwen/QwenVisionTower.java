package io.fitprune.vision.qwen;

import io.fitprune.decoder.Dense;
import io.fitprune.decoder.Temps;
import io.fitprune.decoder.Tensors;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.TorchData;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * transformers' {@code Qwen2VisionTransformerPretrainedModel} and
 * {@code Qwen2_5_VisionTransformerPretrainedModel} forward: the patch embedding, the 2-D rotary
 * tables, the blocks (Qwen2-VL: full attention within each image frame; Qwen2.5-VL: the rows
 * regrouped window by window, window attention except in {@code fullatt_block_indexes}), the
 * merger, and for Qwen2.5-VL the inverse regrouping, so the output rows are in the order the
 * language model consumes them. Batched over images; the weights are only read, so one tower may
 * serve many threads at once.
 */
public final class QwenVisionTower {
  private final QwenVisionWeights w;
  private final QwenVisionConfig c;

  public QwenVisionTower(QwenVisionWeights weights) {
    if (weights == null) throw new IllegalArgumentException("weights is null");
    this.w = weights;
    this.c = weights.config();
  }

  public QwenVisionConfig config() {
    return c;
  }

  /** The merged rows {@code grids} give: {@code sum(t*h*w) / spatial_merge_size^2}. */
  public long outputRows(List<GridThw> grids) {
    return GridThw.totalPatches(grids, c.spatialMergeSize()) / c.mergeUnit();
  }

  /**
   * The image features of {@code pixelValues [sum(t*h*w), C*T*P*P]} float32 (the processor's rows,
   * image after image) for {@code grids} (its {@code image_grid_thw}), as a new float32 tensor
   * {@code [sum(t*h*w) / merge^2, out_hidden_size]}. No grid gives {@code [0, out_hidden_size]}.
   */
  public Tensor features(Tensor pixelValues, List<GridThw> grids) {
    long rows = checked(pixelValues, grids);
    if (rows == 0) return torch.empty(0, c.outHiddenSize());
    int unit = c.mergeUnit(), d = c.hiddenSize();
    try (Temps tp = new Temps()) {
      Tensor px = tp.add(pixelValues.contiguous());
      Tensor x = tp.add(Dense.linearFloat(px, w.patch, null));
      WindowIndex win = c.family().windowed() ? WindowIndex.of(grids, c) : null;
      if (win != null) x = tp.add(regroup(tp, x, win.order(), unit, d));
      VisionRotary rotary = VisionRotary.of(grids, c, win == null ? null : win.order());
      long[] full = frames(grids);
      for (int l = 0; l < w.blocks.size(); l++)
        w.blocks.get(l).apply(x, c.fullAttention(l) ? full : win.cuSeqlens(), rotary, c.heads());
      Tensor merged = w.merger.apply(x, unit);
      if (win == null) return merged;
      try {
        return regroup(tp, merged, win.inverse(), 1, c.outHiddenSize());
      } finally {
        merged.close();
      }
    }
  }

  /**
   * As {@link #features(Tensor, List)} on the processor's values as a flat array (e.g. an image's
   * {@code QwenPixels.pixelValues()}), returning the rows flat: {@code [rows * out_hidden_size]}.
   */
  public float[] features(float[] pixelValues, List<GridThw> grids) {
    if (pixelValues == null) throw new IllegalArgumentException("pixel_values is null");
    long rows = GridThw.totalPatches(grids, c.spatialMergeSize());
    if (pixelValues.length != rows * c.patchValues())
      throw new IllegalArgumentException("pixel_values: expected " + rows + " x " + c.patchValues() + " = "
          + rows * c.patchValues() + " floats for grid_thw, got " + pixelValues.length);
    try (Tensor px = Tensors.of(pixelValues, rows, c.patchValues()); Tensor y = features(px, grids)) {
      return Tensors.toArray(y);
    }
  }

  /** The rows of {@code x [groups*unit, width]} in groups of {@code unit}, group {@code order[i]} moved to i. */
  private static Tensor regroup(Temps tp, Tensor x, int[] order, int unit, int width) {
    long[] idx = new long[order.length];
    for (int i = 0; i < order.length; i++) idx[i] = order[i];
    Tensor g = tp.add(x.view(order.length, unit, width));
    Tensor out = torch.index_select(g, 0, tp.add(torch.tensor(idx)));
    try {
      return out.view(-1, width);
    } finally {
      out.close();
    }
  }

  /** {@code cu_seqlens} of full attention: one sequence per image frame ({@code h*w} rows, {@code t} times). */
  private static long[] frames(List<GridThw> grids) {
    int n = 0;
    for (GridThw g : grids) n += g.t();
    long[] cu = new long[n + 1];
    int i = 0;
    for (GridThw g : grids)
      for (int t = 0; t < g.t(); t++, i++) cu[i + 1] = cu[i] + (long) g.h() * g.w();
    return cu;
  }

  /** The input's checks before anything runs; returns its rows. */
  private long checked(Tensor px, List<GridThw> grids) {
    long rows = GridThw.totalPatches(grids, c.spatialMergeSize());
    if (px == null) throw new IllegalArgumentException("pixel_values is null");
    String want = "[" + rows + ", " + c.patchValues() + "] (sum of t*h*w over grid_thw, in_channels * temporal_patch_size"
        + " * patch_size^2)";
    if (px.dim() != 2 || px.size(0) != rows || px.size(1) != c.patchValues())
      throw new IllegalArgumentException("pixel_values: expected shape " + want + ", got " + shape(px));
    if (px.scalar_type().value != torch.ScalarType.Float.value)
      throw new IllegalArgumentException("pixel_values: expected float32, got " + px.scalar_type());
    if (!px.device().is_cpu()) throw new IllegalArgumentException("pixel_values: expected a CPU tensor");
    if (rows * Math.max(c.mergedWidth(), c.patchValues()) >= Integer.MAX_VALUE)
      throw new IllegalArgumentException("grid_thw: " + rows + " patches are too many for one call (at most "
          + Integer.MAX_VALUE / Math.max(c.mergedWidth(), c.patchValues()) + ")");
    if (rows > 0)
      try (Tensor ct = px.contiguous()) {
        Kernels.requireFinite("pixel_values", "[patches, C*T*P*P]", TorchData.floats(ct), rows, c.patchValues());
      }
    return rows;
  }

  private static String shape(Tensor t) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < t.dim(); i++) b.append(i > 0 ? ", " : "").append(t.size(i));
    return b.append(']').toString();
  }

  /** Multiply-adds times two of one call on {@code grids}: dense layers, attention ({@code 4 L^2 D} per sequence), merger. */
  public static double flops(QwenVisionConfig c, List<GridThw> grids) {
    long rows = GridThw.totalPatches(grids, c.spatialMergeSize());
    double d = c.hiddenSize(), f = c.intermediateSize(), n = rows, mw = c.mergedWidth();
    double perBlock = 2 * n * d * (3 * d + d) + 2 * n * d * f * (c.family().windowed() ? 3 : 2);
    double total = 2 * n * c.patchValues() * d + c.depth() * perBlock;
    WindowIndex win = c.family().windowed() ? WindowIndex.of(grids, c) : null;
    double fullAtt = 0, winAtt = 0;
    for (GridThw g : grids) fullAtt += g.t() * 4.0 * Math.pow((double) g.h() * g.w(), 2) * d;
    if (win != null)
      for (int i = 0; i + 1 < win.cuSeqlens().length; i++) winAtt += 4.0 * Math.pow(win.cuSeqlens()[i + 1] - win.cuSeqlens()[i], 2) * d;
    for (int l = 0; l < c.depth(); l++) total += c.fullAttention(l) ? fullAtt : winAtt;
    double m = n / c.mergeUnit();
    return total + 2 * m * mw * mw + 2 * m * mw * c.outHiddenSize();
  }
}
