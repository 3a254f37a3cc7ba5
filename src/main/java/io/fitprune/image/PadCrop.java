package io.fitprune.image;

/** The 8-bit geometric steps around the resize: LLaVA's pad-to-square and transformers' center crop. */
final class PadCrop {
  private PadCrop() {}

  /**
   * LlavaImageProcessor's {@code pad_to_square}: a square of the longer side filled with
   * {@code color}, the image pasted at offset {@code (long - short) // 2} along the shorter side.
   */
  static RgbImage padToSquare(RgbImage im, int[] color, long maxPixels) {
    int w = im.width(), h = im.height();
    if (w == h) return im;
    int side = Math.max(w, h);
    if ((long) side * side > maxPixels)
      throw new IllegalArgumentException("padding " + w + " x " + h + " to a square of " + side + " x " + side
          + " exceeds the limit of " + maxPixels + " pixels");
    byte[] out = new byte[side * side * 3];
    for (int p = 0; p < out.length; p += 3) {
      out[p] = (byte) color[0];
      out[p + 1] = (byte) color[1];
      out[p + 2] = (byte) color[2];
    }
    int top = w > h ? (side - h) / 2 : 0;
    int left = w > h ? 0 : (side - w) / 2;
    for (int y = 0; y < h; y++) System.arraycopy(im.rgb(), y * w * 3, out, ((top + y) * side + left) * 3, w * 3);
    return new RgbImage(side, side, out);
  }

  /**
   * transformers' {@code center_crop}: the window at {@code ((H - h) // 2, (W - w) // 2)}, with floor
   * division; where the image is smaller than the window it is first centred on zeros, with the
   * extra row or column (odd difference) on the top or left.
   */
  static RgbImage centerCrop(RgbImage im, int width, int height) {
    if (im.width() == width && im.height() == height) return im;
    int top = cropStart(im.height(), height), left = cropStart(im.width(), width);
    byte[] out = new byte[width * height * 3];
    for (int y = 0; y < height; y++) {
      int sy = top + y;
      if (sy < 0 || sy >= im.height()) continue;
      int x0 = Math.max(0, -left), x1 = Math.min(width, im.width() - left);
      if (x1 > x0) System.arraycopy(im.rgb(), (sy * im.width() + left + x0) * 3, out, (y * width + x0) * 3, (x1 - x0) * 3);
    }
    return new RgbImage(width, height, out);
  }

  /**
   * The source index of the window's first row (or column): {@code (orig - crop) // 2} when the
   * image is larger, and minus the zero padding's {@code ceil((crop - orig) / 2)} when it is smaller.
   */
  static int cropStart(int orig, int crop) {
    return orig >= crop ? (orig - crop) / 2 : -((crop - orig + 1) / 2);
  }
}
