package io.fitprune.testutil;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

/** Seeded noise images written as PNG, the input of the pipeline and CLI tests. */
public final class RandomPng {
  private RandomPng() {}

  /** A {@code height x width} RGB PNG of seeded random pixels at {@code dir/name}. */
  public static Path write(Path dir, String name, int height, int width, long seed) throws Exception {
    SplittableRandom r = new SplittableRandom(seed);
    BufferedImage im = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) for (int x = 0; x < width; x++) im.setRGB(x, y, r.nextInt(1 << 24));
    Path p = dir.resolve(name);
    ImageIO.write(im, "png", p.toFile());
    return p;
  }
}
