package io.fitprune.llava;

import io.fitprune.image.PixelValues;
import io.fitprune.image.QwenPixels;
import io.fitprune.vision.AnyResGrid;

/**
 * One image through the model's image processor, before the vision tower: what the tower sees and
 * how many visual tokens the image becomes (what its {@code <image>} expands to).
 *
 * @param pixels       {@code [1, 3, S, S]} for LLaVA; for LLaVA-NeXT the base view then the tiles,
 *                     {@code [1 + tiles, 3, S, S]} (the processor's per-image {@code pixel_values});
 *                     null for Qwen, whose patches are {@code qwen}
 * @param imageSize    {@code {height, width}} of the decoded image ({@code image_sizes}' entry), or
 *                     null for LLaVA, whose count does not depend on it
 * @param grid         how LLaVA-NeXT packs the tiles' features, or null for LLaVA
 * @param visualTokens the image's visual token count: LLaVA's fixed one, or
 *                     {@code LlavaNextConfig.imageTokens(height, width)}, or Qwen's {@code t*h*w / merge^2}
 * @param qwen         Qwen2-VL's patches and grid, or null for LLaVA and LLaVA-NeXT
 */
public record LlavaImage(PixelValues pixels, int[] imageSize, AnyResGrid grid, int visualTokens, QwenPixels qwen) {
  public LlavaImage {
    if ((pixels == null) == (qwen == null))
      throw new IllegalArgumentException("give pixels (LLaVA, LLaVA-NeXT) or qwen's patches (Qwen2-VL), one of the two");
    if (qwen != null && (grid != null || qwen.imageTokens() != visualTokens))
      throw new IllegalArgumentException("qwen: a Qwen image has no anyres grid and its count is its grid's "
          + qwen.imageTokens() + ", got " + visualTokens);
    if ((imageSize == null) != (grid == null))
      throw new IllegalArgumentException("imageSize and grid come together (LLaVA-NeXT) or not at all (LLaVA)");
    if (imageSize != null && (imageSize.length != 2 || imageSize[0] < 1 || imageSize[1] < 1))
      throw new IllegalArgumentException("imageSize must be {height, width}, both >= 1");
    if (grid != null && (grid.patches() != pixels.images() || grid.packedRows() != visualTokens))
      throw new IllegalArgumentException("grid: " + grid.patches() + " views and " + grid.packedRows() + " packed rows, "
          + "but the pixels hold " + pixels.images() + " views and the count is " + visualTokens);
    if (visualTokens < 1) throw new IllegalArgumentException("visualTokens must be >= 1, got " + visualTokens);
    imageSize = imageSize == null ? null : imageSize.clone();
  }

  /** A LLaVA or LLaVA-NeXT image. */
  public LlavaImage(PixelValues pixels, int[] imageSize, AnyResGrid grid, int visualTokens) {
    this(pixels, imageSize, grid, visualTokens, null);
  }

  /** A Qwen2-VL / Qwen2.5-VL image: its patches, grid and count. */
  public static LlavaImage qwen(QwenPixels px) {
    if (px == null) throw new IllegalArgumentException("qwen pixels must not be null");
    return new LlavaImage(null, null, null, px.imageTokens(), px);
  }

  /** A copy, or null for LLaVA. */
  @Override
  public int[] imageSize() {
    return imageSize == null ? null : imageSize.clone();
  }

  /** Whether this is a LLaVA-NeXT (anyres) image. */
  public boolean anyres() {
    return grid != null;
  }
}
