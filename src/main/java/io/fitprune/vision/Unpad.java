package io.fitprune.vision;

import java.math.BigDecimal;
import java.math.RoundingMode;

/**
 * transformers' {@code unpad_image} for LLaVA-NeXT: the window of a padded feature grid that the
 * original image covers. The image was scaled to fit its canvas and centred, so along the axis it
 * did not fill, the rows (or columns) of padding are cut from both ends, equally.
 */
public final class Unpad {
  /** The rows {@code [top, top + height)} and columns {@code [left, left + width)} kept. */
  public record Window(int top, int left, int height, int width) {}

  private Unpad() {}

  /**
   * The window of a {@code gridHeight x gridWidth} grid for an image of {@code height x width}
   * pixels, with the source's arithmetic: the other axis's extent is
   * {@code int(round(size * (grid / original), 7))} in double (the processor's
   * {@code _get_unpadded_features} computes the same), the padding half the difference, floored.
   */
  public static Window window(int height, int width, int gridHeight, int gridWidth) {
    if (height <= 0 || width <= 0)
      throw new IllegalArgumentException("image size must be positive (height, width), got " + height + "x" + width);
    if (gridHeight <= 0 || gridWidth <= 0)
      throw new IllegalArgumentException("feature grid must be positive (height, width), got " + gridHeight + "x" + gridWidth);
    if ((double) width / height > (double) gridWidth / gridHeight) {
      int newHeight = round7(height * ((double) gridWidth / width));
      int pad = Math.floorDiv(gridHeight - newHeight, 2);
      return new Window(pad, 0, gridHeight - 2 * pad, gridWidth);
    }
    int newWidth = round7(width * ((double) gridHeight / height));
    int pad = Math.floorDiv(gridWidth - newWidth, 2);
    return new Window(0, pad, gridHeight, gridWidth - 2 * pad);
  }

  /**
   * Python's {@code int(round(x, 7))} for {@code 0 <= x < 2^31}: round the double's exact value to 7
   * decimals, half to even (CPython's correctly rounded {@code round}), then truncate. The product
   * can land a hair below a whole number (23.99999999...), which the rounding lifts to it.
   */
  static int round7(double x) {
    return new BigDecimal(x).setScale(7, RoundingMode.HALF_EVEN).intValue();
  }

  /**
   * {@code unpad_image} on a float32 feature grid {@code [d, gridHeight, gridWidth]} (row-major):
   * a new {@code [d, window.height, window.width]} array.
   */
  public static float[] apply(float[] grid, int d, int gridHeight, int gridWidth, int height, int width) {
    if (grid == null) throw new IllegalArgumentException("grid is null");
    if (d <= 0) throw new IllegalArgumentException("d must be > 0, got " + d);
    Window w = window(height, width, gridHeight, gridWidth);
    if (grid.length != (long) d * gridHeight * gridWidth)
      throw new IllegalArgumentException("grid: expected [" + d + ", " + gridHeight + ", " + gridWidth + "] = "
          + (long) d * gridHeight * gridWidth + " floats, got " + grid.length);
    float[] out = new float[d * w.height() * w.width()];
    int o = 0;
    for (int c = 0; c < d; c++)
      for (int y = 0; y < w.height(); y++) {
        System.arraycopy(grid, (c * gridHeight + w.top() + y) * gridWidth + w.left(), out, o, w.width());
        o += w.width();
      }
    return out;
  }
}
