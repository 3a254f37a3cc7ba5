package io.fitprune.vision;

import java.util.SplittableRandom;

/** Small random tower configurations with odd sizes, and random images, for the vision tests. */
final class VisionCases {
  private VisionCases() {}

  /** hidden 45 (3 heads of 15), MLP 67, 3 layers, 35x35 images in 7x7 patches (25 + 1 positions). */
  static final ClipVisionConfig A = new ClipVisionConfig(45, 67, 3, 3, 3, 35, 7, 1e-5, "quick_gelu");
  /** hidden 35 (5 heads of 7), MLP 53, 2 layers, 28x28 images in 14x14 patches (4 + 1 positions). */
  static final ClipVisionConfig B = new ClipVisionConfig(35, 53, 2, 5, 3, 28, 14, 1e-6, "quick_gelu");
  /** hidden 21 (7 heads of 3), MLP 40, 1 layer, 56x56 images in 14x14 patches (16 + 1 positions). */
  static final ClipVisionConfig C = new ClipVisionConfig(21, 40, 1, 7, 3, 56, 14, 1e-5, "quick_gelu");

  static ProjectorConfig projector(ClipVisionConfig c, int featureLayer, String strategy, int text, boolean bias) {
    return new ProjectorConfig(featureLayer, strategy, c.hiddenSize(), text, "gelu", bias);
  }

  /** Images of pixel values uniform in [-2, 2] (a normalised image's range), flat [images, C, S, S]. */
  static float[] pixels(long seed, ClipVisionConfig c, int images) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] p = new float[images * c.channels() * c.imageSize() * c.imageSize()];
    for (int i = 0; i < p.length; i++) p[i] = (float) (4 * r.nextDouble() - 2);
    return p;
  }

  static int perImage(ClipVisionConfig c) {
    return c.channels() * c.imageSize() * c.imageSize();
  }

  /** sqrt(sum (got - want)^2 / sum want^2) over rows {@code [rows][width]} against {@code got} flat from {@code offset}. */
  static double relErr(double[][] want, float[] got, int offset) {
    double num = 0, den = 0;
    int k = offset;
    for (double[] row : want)
      for (double w : row) {
        double e = got[k++] - w;
        num += e * e;
        den += w * w;
      }
    return Math.sqrt(num / den);
  }
}
