package io.fitprune.image;

/**
 * An independent float64 model of PIL's antialiased resize, written from the definitions rather
 * than from Resample.c's loops: for each axis a dense matrix of weights (Keys' cubic with a = -0.5,
 * bilinear or box, stretched by the downscale factor, over the input pixels whose centres lie
 * inside the support, normalised to sum 1), applied to one axis, rounded half up to 8 bits with
 * clamping, then to the other. It differs from PIL's 22-bit fixed point only when a value falls
 * within about 1/1000 of a level of a rounding boundary.
 */
final class ResizeReference {
  private ResizeReference() {}

  static double kernel(Resampling f, double x) {
    double t = Math.abs(x);
    return switch (f) {
      case BOX -> (x > -0.5 && x <= 0.5) ? 1 : 0;
      case BILINEAR -> Math.max(0, 1 - t);
      case BICUBIC -> t < 1 ? 1.5 * t * t * t - 2.5 * t * t + 1 : t < 2 ? -0.5 * t * t * t + 2.5 * t * t - 4 * t + 2 : 0;
    };
  }

  static double support(Resampling f) {
    return switch (f) {
      case BOX -> 0.5;
      case BILINEAR -> 1;
      case BICUBIC -> 2;
    };
  }

  /** weights[o][i]: the share of input pixel i in output pixel o. */
  static double[][] weights(int in, int out, Resampling f) {
    double scale = (double) in / out;
    double stretch = Math.max(1, scale);
    double radius = support(f) * stretch;
    double[][] w = new double[out][in];
    for (int o = 0; o < out; o++) {
      double centre = (o + 0.5) * scale;
      // inputs whose index lies in [round(centre - radius), round(centre + radius)), clamped to the image
      int lo = Math.max(0, (int) Math.floor(centre - radius + 0.5));
      int hi = Math.min(in, (int) Math.floor(centre + radius + 0.5));
      double sum = 0;
      for (int i = lo; i < hi; i++) sum += w[o][i] = kernel(f, (i + 0.5 - centre) / stretch);
      if (sum != 0) for (int i = lo; i < hi; i++) w[o][i] /= sum;
    }
    return w;
  }

  /** Channel-interleaved 8-bit pixels resampled along x. */
  static int[] alongX(int[] px, int w, int h, int outW, Resampling f) {
    double[][] k = weights(w, outW, f);
    int[] out = new int[outW * h * 3];
    for (int y = 0; y < h; y++)
      for (int o = 0; o < outW; o++)
        for (int c = 0; c < 3; c++) {
          double s = 0;
          for (int i = 0; i < w; i++) s += k[o][i] * px[(y * w + i) * 3 + c];
          out[(y * outW + o) * 3 + c] = to8(s);
        }
    return out;
  }

  static int[] alongY(int[] px, int w, int h, int outH, Resampling f) {
    double[][] k = weights(h, outH, f);
    int[] out = new int[w * outH * 3];
    for (int o = 0; o < outH; o++)
      for (int x = 0; x < w; x++)
        for (int c = 0; c < 3; c++) {
          double s = 0;
          for (int i = 0; i < h; i++) s += k[o][i] * px[(i * w + x) * 3 + c];
          out[(o * w + x) * 3 + c] = to8(s);
        }
    return out;
  }

  /** PIL's Image.resize: x then y, except y first for an image over 100 times taller than wide that shrinks. */
  static int[] resize(int[] px, int w, int h, int outW, int outH, Resampling f) {
    if (w == outW && h == outH) return px.clone();
    if (h > 100L * w && outH < h) {
      int[] t = alongY(px, w, h, outH, f);
      return outW == w ? t : alongX(t, w, outH, outW, f);
    }
    int[] t = outW == w ? px : alongX(px, w, h, outW, f);
    return outH == h ? t : alongY(t, outW, h, outH, f);
  }

  static int to8(double v) {
    return (int) Math.max(0, Math.min(255, Math.floor(v + 0.5)));
  }
}
