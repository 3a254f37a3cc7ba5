package io.fitprune.image;

/**
 * Qwen2-VL's {@code smart_resize} (transformers' {@code image_processing_qwen2_vl}, the current form
 * with the {@code max(factor, ...)} guard on the shrinking branch): each side rounded to the nearest
 * multiple of {@code factor} ({@code patch_size * merge_size}), then, if the area is over
 * {@code max_pixels}, both sides scaled down by {@code sqrt(h * w / max_pixels)} and floored to
 * multiples (at least one), or, if under {@code min_pixels}, scaled up and ceiled. The arithmetic is
 * the source's float64 operations in its order, with Python's {@code round} (half to even), so every
 * size comes out as transformers computes it.
 */
public final class SmartResize {
  /** The aspect ratio (long side / short side) above which the source refuses an image. */
  public static final int MAX_ASPECT = 200;
  /** The largest pixel bound taken: every integer up to it is exact in float64, as Python's division needs. */
  public static final long MAX_BOUND = 1L << 53;

  private SmartResize() {}

  /**
   * {@code {height, width}} for an image of {@code height x width}; an aspect ratio over
   * {@link #MAX_ASPECT} or a result over {@link ImageFiles#MAX_SIDE} a side is an error naming the sizes.
   */
  public static int[] of(int height, int width, int factor, long minPixels, long maxPixels) {
    if (height < 1 || width < 1)
      throw new IllegalArgumentException("image size must be at least 1 x 1, got " + height + " x " + width
          + " (height x width)");
    if (factor < 1 || factor > ImageFiles.MAX_SIDE)
      throw new IllegalArgumentException("factor must be in [1, " + ImageFiles.MAX_SIDE + "], got " + factor);
    if (minPixels < 1 || maxPixels < 1 || minPixels > MAX_BOUND || maxPixels > MAX_BOUND)
      throw new IllegalArgumentException("min_pixels and max_pixels must be in [1, 2^53], got " + minPixels + " and "
          + maxPixels);
    double ratio = (double) Math.max(height, width) / Math.min(height, width);
    if (ratio > MAX_ASPECT)
      throw new IllegalArgumentException("image " + height + " x " + width + " (height x width) has an aspect ratio of "
          + ratio + "; Qwen2-VL's smart_resize takes at most " + MAX_ASPECT);
    long area = (long) height * width;
    // round(x / factor) * factor: Math.rint rounds half to even, as Python's round does
    double h = Math.rint((double) height / factor) * factor;
    double w = Math.rint((double) width / factor) * factor;
    if (h * w > maxPixels) {
      double beta = Math.sqrt((double) area / maxPixels);
      h = Math.max(factor, Math.floor(height / beta / factor) * factor);
      w = Math.max(factor, Math.floor(width / beta / factor) * factor);
    } else if (h * w < minPixels) {
      double beta = Math.sqrt(minPixels / (double) area);
      h = Math.ceil(height * beta / factor) * factor;
      w = Math.ceil(width * beta / factor) * factor;
    }
    if (h > ImageFiles.MAX_SIDE || w > ImageFiles.MAX_SIDE)
      throw new IllegalArgumentException("smart_resize takes image " + height + " x " + width + " (height x width) to "
          + (long) h + " x " + (long) w + " for min_pixels " + minPixels + ", beyond the limit of " + ImageFiles.MAX_SIDE
          + " a side");
    return new int[] {(int) h, (int) w};
  }
}
