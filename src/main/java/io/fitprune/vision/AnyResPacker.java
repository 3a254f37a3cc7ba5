package io.fitprune.vision;

/**
 * transformers' {@code pack_image_features} on float32 arrays: one image's projected features
 * {@code [patches, side*side, d]} and {@code image_newline [d]} to the rows the language model
 * receives, {@code [grid.packedRows(), d]}. A gather, so the values are copied bit for bit.
 */
public final class AnyResPacker {
  private AnyResPacker() {}

  public static float[] pack(float[] features, int d, float[] newline, AnyResGrid grid) {
    if (grid == null) throw new IllegalArgumentException("grid is null");
    if (d <= 0) throw new IllegalArgumentException("d must be > 0, got " + d);
    if (features == null) throw new IllegalArgumentException("features is null");
    long want = (long) grid.patches() * grid.perTile() * d;
    if (features.length != want)
      throw new IllegalArgumentException("features: expected [" + grid.patches() + ", " + grid.perTile() + ", " + d
          + "] = " + want + " floats (base + " + grid.rows() + "x" + grid.cols() + " tiles), got " + features.length);
    if (newline == null || newline.length != d)
      throw new IllegalArgumentException("image_newline: expected [" + d + "], got "
          + (newline == null ? "null" : "[" + newline.length + "]"));
    finite("features", features, d);
    finite("image_newline", newline, d);
    int[] src = grid.sources();
    if ((long) src.length * d > Integer.MAX_VALUE - 8)
      throw new IllegalArgumentException("packed features [" + src.length + ", " + d + "] exceed a Java array");
    float[] out = new float[src.length * d];
    for (int i = 0; i < src.length; i++)
      if (src[i] == AnyResGrid.NEWLINE) System.arraycopy(newline, 0, out, i * d, d);
      else System.arraycopy(features, src[i] * d, out, i * d, d);
    return out;
  }

  /** Non-finite features are reported with their row and column, not packed into a plausible input. */
  private static void finite(String name, float[] a, int d) {
    for (int i = 0; i < a.length; i++)
      if (!Float.isFinite(a[i]))
        throw new IllegalArgumentException(name + ": non-finite value " + a[i] + " at row " + i / d + ", column " + i % d);
  }
}
