package io.fitprune.image;

/**
 * An 8-bit RGB raster, rows top to bottom, pixels interleaved {@code R G B} (height x width x 3,
 * as PIL's {@code np.array(image)} lays out an RGB image). Values are the unsigned bytes 0..255.
 *
 * @param width  pixels per row, at least 1
 * @param height rows, at least 1
 * @param rgb    {@code height * width * 3} bytes
 */
public record RgbImage(int width, int height, byte[] rgb) {
  public RgbImage {
    if (width < 1 || height < 1)
      throw new IllegalArgumentException("image size must be at least 1 x 1, got " + width + " x " + height);
    if (rgb == null || rgb.length != (long) width * height * 3)
      throw new IllegalArgumentException("rgb must hold width * height * 3 = " + (long) width * height * 3
          + " bytes for " + width + " x " + height + ", got " + (rgb == null ? "null" : rgb.length));
  }

  /** Channel {@code c} (0 red, 1 green, 2 blue) of the pixel at column {@code x}, row {@code y}, as 0..255. */
  public int get(int x, int y, int c) {
    return rgb[(y * width + x) * 3 + c] & 0xFF;
  }
}
