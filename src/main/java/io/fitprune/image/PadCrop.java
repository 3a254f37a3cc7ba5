package io.fitprune.image;

/**
 * The 8-bit geometric steps around the resize: LLaVA's pad-to-square, transformers' center crop,
 * and the zero-filled windows that pad and tile LLaVA-NeXT's anyres image.
 */
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
    return window(im, cropStart(im.width(), width), cropStart(im.height(), height), width, height);
  }

  /**
   * The {@code width x height} window whose top-left corner is source pixel {@code (left, top)};
   * where it reaches past the image it is 0 (black). A negative corner pads on the top or left, so
   * this is numpy's zero {@code pad} as well as slicing.
   */
  static RgbImage window(RgbImage im, int left, int top, int width, int height) {
    byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(width, height), 3)];
    for (int y = 0; y < height; y++) {
      long sy = (long) top + y;
      if (sy < 0 || sy >= im.height()) continue;
      int x0 = (int) Math.max(0, -(long) left), x1 = (int) Math.min(width, (long) im.width() - left);
      if (x1 > x0)
        System.arraycopy(im.rgb(), (int) ((sy * im.width() + left + x0) * 3), out, (y * width + x0) * 3, (x1 - x0) * 3);
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
