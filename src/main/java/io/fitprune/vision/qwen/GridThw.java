package io.fitprune.vision.qwen;

import java.util.List;

/**
 * One image's (or video's) patch grid, a row of the processor's {@code image_grid_thw}: {@code t}
 * temporal patches, {@code h x w} spatial patches. Its rows of pixel_values are frame by frame,
 * each in the merge-window order the processor writes them.
 */
public record GridThw(int t, int h, int w) {
  public GridThw {
    if (t < 1 || h < 1 || w < 1)
      throw new IllegalArgumentException("grid_thw: t, h and w must be positive, got [" + t + ", " + h + ", " + w + "]");
  }

  /** Patches: {@code t*h*w}. */
  public long patches() {
    return (long) t * h * w;
  }

  /** Rows after the merger: {@code t*h*w / merge^2}. */
  public long merged(int merge) {
    return patches() / ((long) merge * merge);
  }

  /** Checks every grid against the merge size ({@code h} and {@code w} multiples of it); the total patches, below 2^31. */
  static long totalPatches(List<GridThw> grids, int merge) {
    if (grids == null) throw new IllegalArgumentException("grid_thw is null");
    long total = 0;
    for (int i = 0; i < grids.size(); i++) {
      GridThw g = grids.get(i);
      if (g == null) throw new IllegalArgumentException("grid_thw[" + i + "] is null");
      if (g.h % merge != 0 || g.w % merge != 0)
        throw new IllegalArgumentException("grid_thw[" + i + "] = [" + g.t + ", " + g.h + ", " + g.w + "]: h and w must be "
            + "multiples of spatial_merge_size " + merge);
      total += g.patches();
      if (total >= Integer.MAX_VALUE)
        throw new IllegalArgumentException("grid_thw: " + total + " patches through image " + i + ", at most 2^31 - 1");
    }
    return total;
  }
}
