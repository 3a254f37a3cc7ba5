package io.fitprune.image;

/**
 * PIL's {@code Image.resize} on 8-bit RGB, bit for bit (Pillow's {@code libImaging/Resample.c}): a
 * separable convolution whose support widens by the downscale factor (so downscaling is
 * antialiased), with per-axis weights normalised to sum 1, then converted to 22-bit fixed point;
 * the horizontal pass runs first on the rows the vertical pass will read, rounds to 8 bits, and
 * the vertical pass runs on its output. As in Pillow 12.2 and later, an image more than 100 times
 * taller than wide that shrinks vertically is resized vertically first (older Pillow always went
 * horizontal first; the two orders round differently). An image already at the target size is
 * returned as an unchanged copy, as PIL does.
 */
public final class Resampler {
  /** Fixed-point fraction bits of the weights: 32 bits less 8 for the value and 2 for overshoot. */
  static final int PRECISION_BITS = 32 - 8 - 2;
  /** The largest Java array the VM reliably allocates. */
  static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

  private Resampler() {}

  /** One axis's taps: output {@code i} reads {@code count[i]} inputs from {@code first[i]} with weights {@code k[i*ksize ..]}. */
  record Taps(int[] first, int[] count, int[] k, int ksize) {}

  /** {@code in} resized to {@code width x height} with {@code filter}. */
  public static RgbImage resize(RgbImage in, int width, int height, Resampling filter) {
    if (width < 1 || height < 1)
      throw new IllegalArgumentException("resize target must be at least 1 x 1, got " + width + " x " + height);
    // the output and the horizontal pass's intermediate (output width, up to every input row) are byte arrays
    if ((long) width * Math.max(height, in.height()) * 3 > MAX_ARRAY)
      throw new IllegalArgumentException("resizing " + in.width() + " x " + in.height() + " to " + width + " x " + height
          + " needs more than " + MAX_ARRAY + " bytes in one array");
    if (in.width() == width && in.height() == height) return new RgbImage(width, height, in.rgb().clone());
    if ((long) in.height() > (long) in.width() * 100 && height < in.height()) {
      RgbImage tall = resample(in, in.width(), height, filter);
      return resample(tall, width, height, filter);
    }
    return resample(in, width, height, filter);
  }

  /** Resample.c's {@code ImagingResampleInner} with the whole image as the box. */
  private static RgbImage resample(RgbImage in, int width, int height, Resampling filter) {
    boolean horizontal = width != in.width();
    boolean vertical = height != in.height();
    Taps v = taps(in.height(), height, filter);
    int firstRow = v.first[0];
    int endRow = v.first[height - 1] + v.count[height - 1];
    byte[] src = in.rgb();
    int srcWidth = in.width();
    int rowOffset = 0;
    if (horizontal) {
      Taps h = taps(in.width(), width, filter);
      src = horizontalPass(src, srcWidth, firstRow, endRow, h, width);
      srcWidth = width;
      rowOffset = firstRow; // the pass kept only the rows the vertical pass reads
    }
    if (!vertical) return new RgbImage(width, height, horizontal ? src : src.clone());
    return new RgbImage(width, height, verticalPass(src, srcWidth, rowOffset, v, height));
  }

  /**
   * Resample.c's {@code precompute_coeffs} and {@code normalize_coeffs_8bpc}: for each output
   * pixel, the input range under the (widened) filter and its fixed-point weights.
   */
  static Taps taps(int inSize, int outSize, Resampling filter) {
    double scale = (double) inSize / outSize;
    double filterscale = Math.max(scale, 1.0);
    double support = filter.support * filterscale;
    int ksize = (int) Math.ceil(support) * 2 + 1;
    if ((long) outSize * ksize > Integer.MAX_VALUE - 8)
      throw new IllegalArgumentException("resize from " + inSize + " to " + outSize + " pixels needs too many weights");
    int[] first = new int[outSize];
    int[] count = new int[outSize];
    int[] k = new int[outSize * ksize];
    double[] w = new double[ksize];
    double invFilterscale = 1.0 / filterscale;
    for (int xx = 0; xx < outSize; xx++) {
      double center = (xx + 0.5) * scale;
      int xmin = Math.max((int) (center - support + 0.5), 0);
      int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
      double ww = 0.0;
      for (int x = 0; x < xmax; x++) {
        w[x] = filter.weight((x + xmin - center + 0.5) * invFilterscale);
        ww += w[x];
      }
      for (int x = 0; x < xmax; x++) {
        double c = ww != 0.0 ? w[x] / ww : w[x];
        k[xx * ksize + x] = c < 0 ? (int) (-0.5 + c * (1 << PRECISION_BITS)) : (int) (0.5 + c * (1 << PRECISION_BITS));
      }
      first[xx] = xmin;
      count[xx] = Math.max(xmax, 0);
    }
    return new Taps(first, count, k, ksize);
  }

  /** Rows {@code [firstRow, endRow)} of {@code src} resampled along x to {@code outWidth}. */
  private static byte[] horizontalPass(byte[] src, int inWidth, int firstRow, int endRow, Taps t, int outWidth) {
    byte[] out = new byte[(endRow - firstRow) * outWidth * 3];
    int[] first = t.first, count = t.count, k = t.k;
    int ksize = t.ksize;
    for (int y = firstRow; y < endRow; y++) {
      int inRow = y * inWidth * 3;
      int o = (y - firstRow) * outWidth * 3;
      for (int xx = 0; xx < outWidth; xx++) {
        int r = 1 << (PRECISION_BITS - 1), g = r, b = r;
        int p = inRow + first[xx] * 3;
        int kb = xx * ksize;
        for (int x = 0, n = count[xx]; x < n; x++, p += 3) {
          int c = k[kb + x];
          r += (src[p] & 0xFF) * c;
          g += (src[p + 1] & 0xFF) * c;
          b += (src[p + 2] & 0xFF) * c;
        }
        out[o++] = clip8(r);
        out[o++] = clip8(g);
        out[o++] = clip8(b);
      }
    }
    return out;
  }

  /**
   * {@code src} (whose row 0 is input row {@code rowOffset}) resampled along y to {@code outHeight};
   * each output row accumulates its input rows whole, which streams memory and sums the same integers.
   */
  private static byte[] verticalPass(byte[] src, int width, int rowOffset, Taps t, int outHeight) {
    int rowLen = width * 3;
    byte[] out = new byte[outHeight * rowLen];
    int[] acc = new int[rowLen];
    for (int yy = 0; yy < outHeight; yy++) {
      java.util.Arrays.fill(acc, 1 << (PRECISION_BITS - 1));
      int kb = yy * t.ksize;
      for (int y = 0, n = t.count[yy]; y < n; y++) {
        int c = t.k[kb + y];
        int p = (t.first[yy] - rowOffset + y) * rowLen;
        for (int i = 0; i < rowLen; i++) acc[i] += (src[p + i] & 0xFF) * c;
      }
      int o = yy * rowLen;
      for (int i = 0; i < rowLen; i++) out[o + i] = clip8(acc[i]);
    }
    return out;
  }

  /** Resample.c's {@code clip8}: the fixed-point sum's integer part, clamped to 0..255. */
  static byte clip8(int sum) {
    int v = sum >> PRECISION_BITS;
    return (byte) (v < 0 ? 0 : Math.min(v, 255));
  }
}
