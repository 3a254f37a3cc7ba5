package io.fitprune.vision;

/**
 * Where LLaVA-NeXT's visual tokens for one image come from (transformers'
 * {@code LlavaNextModel.get_image_features} and {@code pack_image_features}): the tower sees the
 * whole image resized to one tile (the base) and then the {@code rows x cols} tiles of the chosen
 * canvas; each gives {@code side x side} features. The tiles' features are laid out as one
 * {@code (rows*side) x (cols*side)} map, cut to the image's aspect ({@link Unpad}), and packed row
 * by row with {@code image_newline} after each row, behind the base's features. Plain index
 * arithmetic, torch-free: {@link #sources} is the whole packing as a gather.
 *
 * @param canvas the canvas {@link GridPinpoints#best} chose
 * @param rows   tiles down ({@code num_patch_height})
 * @param cols   tiles across ({@code num_patch_width})
 * @param side   features per tile side ({@code image_size / patch_size})
 * @param window the part of the feature map the image covers
 */
public record AnyResGrid(GridPinpoints.Resolution canvas, int rows, int cols, int side, Unpad.Window window) {
  /** Marks the {@code image_newline} rows in {@link #sources}. */
  public static final int NEWLINE = -1;

  /**
   * The grid for an image of {@code height x width} pixels under {@code pinpoints}, for a tower with
   * tiles of {@code tile} pixels and {@code side x side} features each. The canvases must be whole
   * tiles ({@link GridPinpoints#checkTiles}).
   */
  public static AnyResGrid of(int height, int width, GridPinpoints pinpoints, int tile, int side) {
    if (pinpoints == null) throw new IllegalArgumentException("pinpoints is null");
    if (side <= 0) throw new IllegalArgumentException("side must be > 0, got " + side);
    pinpoints.checkTiles(tile);
    GridPinpoints.Resolution c = pinpoints.best(height, width); // get_anyres_image_grid_shape
    int rows = c.height() / tile, cols = c.width() / tile;
    if ((long) rows * side > Integer.MAX_VALUE / 2 || (long) cols * side > Integer.MAX_VALUE / 2
        || (long) rows * cols * side * side > Integer.MAX_VALUE / 2)
      throw new IllegalArgumentException("canvas " + c.height() + "x" + c.width() + " gives too many features ("
          + rows + "x" + cols + " tiles of " + side + "x" + side + ")");
    return new AnyResGrid(c, rows, cols, side, Unpad.window(height, width, rows * side, cols * side));
  }

  /** As {@link #of(int, int, GridPinpoints, int, int)} for a CLIP tower's tile and patch sizes. */
  public static AnyResGrid of(int height, int width, GridPinpoints pinpoints, ClipVisionConfig tower) {
    if (tower == null) throw new IllegalArgumentException("vision config is null");
    return of(height, width, pinpoints, tower.imageSize(), tower.patchesPerSide());
  }

  /** Tiles the tower sees, the base first ({@code image_size_to_num_patches}). */
  public int patches() {
    return rows * cols + 1;
  }

  /** Feature rows per tile. */
  public int perTile() {
    return side * side;
  }

  /** Rows of the packed features: the base's, then each kept map row and its newline. */
  public int packedRows() {
    return perTile() + window.height() * (window.width() + 1);
  }

  /**
   * For each packed row, the row of the tower's output {@code [patches, side*side]} (flattened:
   * tile {@code t} row {@code r} is {@code t*side*side + r}) it copies, or {@link #NEWLINE}.
   */
  public int[] sources() {
    int[] src = new int[packedRows()];
    int o = 0;
    for (int r = 0; r < perTile(); r++) src[o++] = r;
    for (int y = window.top(); y < window.top() + window.height(); y++) {
      int ty = y / side, py = y % side;
      for (int x = window.left(); x < window.left() + window.width(); x++) {
        int tx = x / side, px = x % side;
        src[o++] = (1 + ty * cols + tx) * perTile() + py * side + px;
      }
      src[o++] = NEWLINE;
    }
    return src;
  }
}
