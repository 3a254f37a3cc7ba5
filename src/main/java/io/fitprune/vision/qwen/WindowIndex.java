package io.fitprune.vision.qwen;

import java.util.Arrays;
import java.util.List;

/**
 * Qwen2.5-VL's attention windows, as {@code Qwen2_5_VisionTransformerPretrainedModel.get_window_index}
 * computes them. Per image and frame, the {@code llm_h x llm_w} merge groups (each
 * {@code spatial_merge_size^2} consecutive patches) are padded to whole windows of
 * {@code mergerWindow^2} groups (a whole empty window is added when the side is already a
 * multiple, as the source pads) and read window by window, row-major inside each; empty windows
 * give no sequence (the source's {@code unique_consecutive}).
 *
 * @param order       {@code window_index}: position i of the windowed order holds merge group {@code order[i]}
 * @param cuSeqlens   {@code cu_window_seqlens} in patch rows, from 0
 */
public record WindowIndex(int[] order, long[] cuSeqlens) {

  /** The windows of {@code grids} under {@code c} (its merge size and window). */
  public static WindowIndex of(List<GridThw> grids, QwenVisionConfig c) {
    int merge = c.spatialMergeSize(), win = c.mergerWindow(), unit = c.mergeUnit();
    long groups = GridThw.totalPatches(grids, merge) / unit;
    int[] order = new int[(int) groups];
    long[] cu = new long[1 + (int) groups]; // at most one window per group
    int pos = 0, windows = 0, base = 0;
    for (GridThw g : grids) {
      int lh = g.h() / merge, lw = g.w() / merge;
      int nh = (lh + win - lh % win) / win, nw = (lw + win - lw % win) / win; // the source's padding
      for (int t = 0; t < g.t(); t++)
        for (int wy = 0; wy < nh; wy++)
          for (int wx = 0; wx < nw; wx++) {
            int count = 0;
            for (int y = wy * win; y < Math.min((wy + 1) * win, lh); y++)
              for (int x = wx * win; x < Math.min((wx + 1) * win, lw); x++) {
                order[pos++] = base + (t * lh + y) * lw + x;
                count++;
              }
            if (count > 0) {
              cu[windows + 1] = cu[windows] + (long) count * unit;
              windows++;
            }
          }
      base += g.t() * lh * lw;
    }
    return new WindowIndex(order, Arrays.copyOf(cu, windows + 1));
  }

  /** {@code argsort(window_index)}: entry g is the windowed position of merge group g. */
  public int[] inverse() {
    int[] inv = new int[order.length];
    for (int i = 0; i < order.length; i++) inv[order[i]] = i;
    return inv;
  }
}
