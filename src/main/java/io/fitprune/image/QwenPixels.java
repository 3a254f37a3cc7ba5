package io.fitprune.image;

/**
 * One image through Qwen2-VL's preprocessing, as the model takes it: {@code pixelValues} is float32
 * {@code [patches, 3 * T * P * P]} in the processor's order (merge windows row-major, the
 * {@code merge x merge} patches of a window row-major inside it; each patch channel, then frame,
 * then row, then column), {@code grid_thw = (gridT, gridH, gridW)} in patches, and the decoded and
 * resized sizes in pixels.
 */
public record QwenPixels(float[] pixelValues, int gridT, int gridH, int gridW, int patchDim, int mergeSize,
    int imageHeight, int imageWidth, int resizedHeight, int resizedWidth) {
  public QwenPixels {
    if (gridT < 1 || gridH < 1 || gridW < 1 || patchDim < 1 || mergeSize < 1)
      throw new IllegalArgumentException("grid " + gridT + " x " + gridH + " x " + gridW + ", patch of " + patchDim
          + " values and merge_size " + mergeSize + " must all be at least 1");
    if (gridH % mergeSize != 0 || gridW % mergeSize != 0)
      throw new IllegalArgumentException("grid " + gridH + " x " + gridW + " (height x width in patches) does not divide"
          + " by merge_size " + mergeSize);
    if (imageHeight < 1 || imageWidth < 1 || resizedHeight < 1 || resizedWidth < 1)
      throw new IllegalArgumentException("image " + imageHeight + " x " + imageWidth + " and resized " + resizedHeight
          + " x " + resizedWidth + " must be at least 1 x 1");
    long n = (long) gridT * gridH * gridW * patchDim;
    if (pixelValues == null || pixelValues.length != n)
      throw new IllegalArgumentException("pixelValues must hold gridT * gridH * gridW * patchDim = " + n + " floats, got "
          + (pixelValues == null ? "null" : pixelValues.length));
  }

  /** Rows of {@code pixel_values}: {@code gridT * gridH * gridW}. */
  public int patches() {
    return gridT * gridH * gridW;
  }

  /** {@code pixel_values}' shape: {@code [patches, 3 * T * P * P]}. */
  public long[] shape() {
    return new long[] {patches(), patchDim};
  }

  /** {@code image_grid_thw}'s entry for this image. */
  public long[] gridThw() {
    return new long[] {gridT, gridH, gridW};
  }

  /** {@code <|image_pad|>} tokens the image becomes: {@code gridT * gridH * gridW / merge_size^2}. */
  public int imageTokens() {
    return patches() / (mergeSize * mergeSize);
  }
}
