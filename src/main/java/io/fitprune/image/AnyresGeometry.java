package io.fitprune.image;

import io.fitprune.vision.GridPinpoints;

/**
 * LLaVA-NeXT's anyres arithmetic, as transformers writes it (the PIL-backed
 * {@code LlavaNextImageProcessor} and the helpers of {@code image_processing_utils}): which grid
 * pinpoint an image is fitted to, the size it is resized to inside it, and where it is pasted. All
 * sizes are {@code {height, width}}, as the source orders them; the ratios are float64 divisions
 * and products in the source's order, so every truncation and ceiling lands where Python's does.
 */
public final class AnyresGeometry {
  private AnyresGeometry() {}

  /**
   * {@code select_best_resolution}: the pinpoint that keeps the most of the image's pixels when the
   * image is scaled (keeping its aspect ratio) to fit inside it, counting at most the original's
   * pixels (upscaling adds none), and among those the one with the least area left over; on a
   * full tie the first listed wins (the comparisons are strict, so an image too thin to keep a
   * pixel anywhere gets the first pinpoint of least area). Returns a copy of the chosen {@code {height, width}}.
   */
  public static int[] bestResolution(int height, int width, int[][] pinpoints) {
    checkSize(height, width);
    checkPinpoints(pinpoints, 1);
    java.util.List<GridPinpoints.Resolution> canvases = new java.util.ArrayList<>();
    for (int[] p : pinpoints) canvases.add(new GridPinpoints.Resolution(p[0], p[1]));
    GridPinpoints.Resolution best = new GridPinpoints(canvases).best(height, width); // one select_best_resolution
    return new int[] {best.height(), best.width()};
  }

  /**
   * {@code get_patch_output_size}: {@code {height, width}} of the image resized to fit inside
   * {@code target} with its aspect ratio: the side with the smaller scale fills the target, the
   * other is {@code min(ceil(side * scale), target side)}.
   */
  public static int[] fitInside(int height, int width, int targetHeight, int targetWidth) {
    checkSize(height, width);
    checkSize(targetHeight, targetWidth);
    double scaleW = (double) targetWidth / width, scaleH = (double) targetHeight / height;
    if (scaleW < scaleH) return new int[] {(int) Math.min(Math.ceil(height * scaleW), targetHeight), targetWidth};
    return new int[] {targetHeight, (int) Math.min(Math.ceil(width * scaleH), targetWidth)};
  }

  /**
   * {@code _get_padding_size}: the zero padding {@code {top, bottom, left, right}} that centres a
   * {@code height x width} image in the target, the odd pixel going to the bottom and the right.
   */
  public static int[] centredPadding(int height, int width, int targetHeight, int targetWidth) {
    if (height > targetHeight || width > targetWidth)
      throw new IllegalArgumentException("an image of " + height + " x " + width + " does not fit in " + targetHeight
          + " x " + targetWidth + " (height x width)");
    int top = (targetHeight - height) / 2, left = (targetWidth - width) / 2;
    return new int[] {top, targetHeight - height - top, left, targetWidth - width - left};
  }

  /**
   * Pinpoints checked: at least one {@code [height, width]} pair, each side in [1, 65535] and a
   * multiple of {@code tile} (the processor cuts tiles of {@code crop_size.height}, and the model
   * counts {@code side // tile} of them per side, so a remainder would make the two disagree).
   * Returns a deep copy.
   */
  static int[][] checkPinpoints(int[][] pinpoints, int tile) {
    if (pinpoints == null || pinpoints.length == 0)
      throw new IllegalArgumentException("image_grid_pinpoints must hold at least one [height, width] pair");
    int[][] out = new int[pinpoints.length][];
    for (int i = 0; i < pinpoints.length; i++) {
      int[] p = pinpoints[i];
      String key = "image_grid_pinpoints[" + i + "]";
      if (p == null || p.length != 2)
        throw new IllegalArgumentException(key + " must be a [height, width] pair, got "
            + (p == null ? "null" : java.util.Arrays.toString(p)));
      for (int s : p)
        if (s < 1 || s > ImageFiles.MAX_SIDE || s % tile != 0)
          throw new IllegalArgumentException(key + " = " + java.util.Arrays.toString(p) + ": each side must be in [1, "
              + ImageFiles.MAX_SIDE + "]" + (tile > 1 ? " and a multiple of crop_size.height " + tile : ""));
      out[i] = p.clone();
    }
    return out;
  }

  static int[][] copy(int[][] p) {
    int[][] c = new int[p.length][];
    for (int i = 0; i < p.length; i++) c[i] = p[i].clone();
    return c;
  }

  private static void checkSize(int height, int width) {
    if (height < 1 || width < 1)
      throw new IllegalArgumentException("image size must be at least 1 x 1 (height x width), got " + height + " x "
          + width);
  }
}
