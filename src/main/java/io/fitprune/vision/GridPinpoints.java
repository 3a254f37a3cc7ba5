package io.fitprune.vision;

import java.util.List;

/**
 * LLaVA-NeXT's {@code image_grid_pinpoints}: the canvases an image may be resized and padded onto
 * before it is cut into tiles the vision tower sees one by one. Torch-free: the image processor's
 * resize and the model's feature packing choose the canvas with the same {@link #best} rule.
 *
 * @param resolutions the canvases, in the file's order (the order decides ties)
 */
public record GridPinpoints(List<Resolution> resolutions) {
  /** One canvas, {@code (height, width)} as the configs list them. */
  public record Resolution(int height, int width) {
    public Resolution {
      if (height <= 0 || width <= 0)
        throw new IllegalArgumentException("image_grid_pinpoints: each entry must be a positive [height, width], got ["
            + height + ", " + width + "]");
    }
  }

  /** LlavaNextConfig's default, the llava-v1.6 canvases: 1x2, 2x1, 2x2, 3x1 and 1x3 tiles of 336. */
  public static final GridPinpoints LLAVA_V16 = new GridPinpoints(List.of(new Resolution(336, 672),
      new Resolution(672, 336), new Resolution(672, 672), new Resolution(1008, 336), new Resolution(336, 1008)));

  public GridPinpoints {
    if (resolutions == null || resolutions.isEmpty())
      throw new IllegalArgumentException("image_grid_pinpoints must list at least one [height, width]");
    resolutions = List.copyOf(resolutions);
  }

  /**
   * Refuses canvases that are not whole tiles of {@code tile} pixels (the vision tower's
   * {@code image_size}): transformers would cut a partial tile the feature grid has no place for.
   */
  public GridPinpoints checkTiles(int tile) {
    if (tile <= 0) throw new IllegalArgumentException("tile size must be > 0, got " + tile);
    for (Resolution r : resolutions)
      if (r.height % tile != 0 || r.width % tile != 0)
        throw new IllegalArgumentException("image_grid_pinpoints: [" + r.height + ", " + r.width
            + "] is not a multiple of the vision tower's image_size " + tile);
    return this;
  }

  /**
   * transformers' {@code select_best_resolution} for an image of {@code height x width} pixels: the
   * canvas that keeps the most of the image's pixels once it is scaled to fit (never counting more
   * than the image has), then the one that wastes the least area; the first listed on a tie.
   */
  public Resolution best(int height, int width) {
    if (height <= 0 || width <= 0)
      throw new IllegalArgumentException("image size must be positive (height, width), got " + height + "x" + width);
    Resolution best = null;
    long maxEffective = 0, minWasted = Long.MAX_VALUE;
    for (Resolution r : resolutions) {
      // Python: min(width / original_width, height / original_height), both true divisions in double.
      double scale = Math.min((double) r.width / width, (double) r.height / height);
      long dw = (long) (width * scale), dh = (long) (height * scale); // int(): truncation
      long effective = Math.min(dw * dh, (long) width * height);
      long wasted = (long) r.width * r.height - effective;
      if (effective > maxEffective || (effective == maxEffective && wasted < minWasted)) {
        maxEffective = effective;
        minWasted = wasted;
        best = r;
      }
    }
    return best;
  }
}
