package io.fitprune.llava;

import io.fitprune.image.PixelValues;
import io.fitprune.vision.AnyResGrid;

/**
 * One image through the model's image processor, before the vision tower: what the tower sees and
 * how many visual tokens the image becomes (what its {@code <image>} expands to).
 *
 * @param pixels       {@code [1, 3, S, S]} for LLaVA; for LLaVA-NeXT the base view then the tiles,
 *                     {@code [1 + tiles, 3, S, S]} (the processor's per-image {@code pixel_values})
 * @param imageSize    {@code {height, width}} of the decoded image ({@code image_sizes}' entry), or
 *                     null for LLaVA, whose count does not depend on it
 * @param grid         how LLaVA-NeXT packs the tiles' features, or null for LLaVA
 * @param visualTokens the image's visual token count: LLaVA's fixed one, or
 *                     {@code LlavaNextConfig.imageTokens(height, width)}
 */
public record LlavaImage(PixelValues pixels, int[] imageSize, AnyResGrid grid, int visualTokens) {
  public LlavaImage {
    if (pixels == null) throw new IllegalArgumentException("pixels must not be null");
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
