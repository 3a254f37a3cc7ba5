package io.fitprune.image;

/**
 * One image through LLaVA-NeXT's anyres preprocessing: {@code pixelValues} is {@code [1 + tiles, 3,
 * S, S]}, the whole image squeezed to the base view first, then the tiles of the padded best
 * resolution in row-major order; {@code imageHeight x imageWidth} is the decoded image's size (the
 * {@code image_sizes} entry the model unpads by), and {@code bestHeight x bestWidth} the grid
 * pinpoint it was fitted to.
 */
public record AnyresPixels(PixelValues pixelValues, int imageHeight, int imageWidth, int bestHeight, int bestWidth,
    int tileSize) {
  public AnyresPixels {
    if (pixelValues == null) throw new IllegalArgumentException("pixelValues must not be null");
    if (imageHeight < 1 || imageWidth < 1 || tileSize < 1 || bestHeight % tileSize != 0 || bestWidth % tileSize != 0
        || bestHeight < 1 || bestWidth < 1)
      throw new IllegalArgumentException("image " + imageHeight + " x " + imageWidth + ", best resolution " + bestHeight
          + " x " + bestWidth + " and tile " + tileSize + " must be positive, the resolution a whole number of tiles");
    if ((long) pixelValues.images() != 1 + (long) (bestHeight / tileSize) * (bestWidth / tileSize))
      throw new IllegalArgumentException("pixelValues must hold 1 + " + (bestHeight / tileSize) + " x "
          + (bestWidth / tileSize) + " images (base and tiles), got " + pixelValues.images());
  }

  /** Tile rows of the grid: {@code bestHeight / tileSize}. */
  public int gridRows() {
    return bestHeight / tileSize;
  }

  /** Tile columns of the grid: {@code bestWidth / tileSize}. */
  public int gridCols() {
    return bestWidth / tileSize;
  }

  /** {@code image_sizes}' entry: {@code {height, width}}. */
  public long[] imageSize() {
    return new long[] {imageHeight, imageWidth};
  }
}
