package io.fitprune.image;

/**
 * transformers' rescale then normalize of an 8-bit channel value, as a table per channel: the
 * product with the factor in float64 rounded to float32 ({@code rescale}), then {@code (x - mean) /
 * std} in float32 ({@code normalize}), so every processor here gives the source's float32 bit for bit.
 */
final class PixelLut {
  private PixelLut() {}

  /** {@code lut[c][v]}: channel {@code c}'s value for 8-bit {@code v}; a non-finite result is an error naming the values. */
  static float[][] of(boolean doRescale, double rescaleFactor, boolean doNormalize, double[] meanD, double[] stdD) {
    float[][] lut = new float[3][256];
    for (int c = 0; c < 3; c++) {
      float mean = (float) meanD[c], std = (float) stdD[c];
      for (int v = 0; v < 256; v++) {
        float x = doRescale ? (float) (v * rescaleFactor) : v;
        if (doNormalize) x = (x - mean) / std;
        if (!Float.isFinite(x))
          throw new IllegalArgumentException("rescale_factor " + rescaleFactor + ", image_mean[" + c + "] "
              + meanD[c] + " and image_std[" + c + "] " + stdD[c] + " turn pixel value " + v + " into " + x);
        lut[c][v] = x;
      }
    }
    return lut;
  }
}
