package io.fitprune.image;

/**
 * The resampling filters of PIL's {@code Image.resize} that preprocessing configs name, with PIL's
 * numbers ({@code resample} in a {@code preprocessor_config.json}) and support radii. Only filters
 * whose weights are plain arithmetic are offered, so every weight rounds as in PIL (Lanczos and
 * Hamming need sin and cos, which Java and the C library may round differently); nearest (0),
 * Lanczos (1) and Hamming (5) are refused by {@link #fromPil}.
 */
public enum Resampling {
  BILINEAR(2, 1.0),
  BICUBIC(3, 2.0),
  BOX(4, 0.5);

  /** PIL's {@code Image.Resampling} value. */
  public final int pil;
  /** The filter's support radius at scale 1, in input pixels. */
  final double support;

  Resampling(int pil, double support) {
    this.pil = pil;
    this.support = support;
  }

  /** The filter PIL numbers {@code id}; refuses the ones not ported, naming the supported values. */
  public static Resampling fromPil(int id) {
    for (Resampling r : values()) if (r.pil == id) return r;
    String name = switch (id) {
      case 0 -> " (nearest)";
      case 1 -> " (Lanczos)";
      case 5 -> " (Hamming)";
      default -> "";
    };
    throw new IllegalArgumentException("resample must be 2 (bilinear), 3 (bicubic) or 4 (box), got " + id + name);
  }

  /** The filter's weight at distance {@code x} (in filter units), written as Resample.c writes it. */
  double weight(double x) {
    switch (this) {
      case BOX:
        return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
      case BILINEAR:
        if (x < 0.0) x = -x;
        return x < 1.0 ? 1.0 - x : 0.0;
      default: {
        // Keys' cubic convolution with a = -0.5; the operation order is PIL's, so every weight rounds alike.
        final double a = -0.5;
        if (x < 0.0) x = -x;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
      }
    }
  }
}
