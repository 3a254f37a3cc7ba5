package io.fitprune.llava;

import io.fitprune.hf.LlavaNextConfig;
import io.fitprune.image.AnyresPixels;
import io.fitprune.image.AnyresProcessor;
import io.fitprune.image.ImageProcessor;
import io.fitprune.image.PixelValues;
import io.fitprune.vision.AnyResPacker;
import io.fitprune.vision.LlavaImageEncoder;
import java.io.IOException;
import java.nio.file.Path;

/**
 * LLaVA and LLaVA-NeXT: the CLIP tower and projector on one view (LLaVA) or on the base view and
 * tiles of the image's canvas, packed with {@code image_newline} (LLaVA-NeXT); 1-D positions.
 */
final class ClipFamily implements VisualFamily {
  private final ImageProcessor images; // LLaVA's, else null
  private final AnyresProcessor anyresImages; // LLaVA-NeXT's, else null
  private final LlavaNextConfig next; // LLaVA-NeXT's config, else null
  private final float[] newline; // LLaVA-NeXT's image_newline, else null
  final LlavaImageEncoder encoder;

  private ClipFamily(ImageProcessor images, AnyresProcessor anyresImages, LlavaNextConfig next, float[] newline,
      LlavaImageEncoder encoder) {
    this.images = images;
    this.anyresImages = anyresImages;
    this.next = next;
    this.newline = newline;
    this.encoder = encoder;
  }

  static ClipFamily llava(ImageProcessor images, LlavaImageEncoder encoder) {
    return new ClipFamily(images, null, null, null, encoder);
  }

  static ClipFamily next(AnyresProcessor images, LlavaNextConfig next, float[] newline, LlavaImageEncoder encoder) {
    return new ClipFamily(null, images, next, newline, encoder);
  }

  /** LLaVA's fixed count, or 0 where each image brings its own (LLaVA-NeXT). */
  int fixedCount() {
    return next == null ? encoder.visualTokens() : 0;
  }

  @Override
  public LlavaImage image(Path file) throws IOException {
    if (anyresImages == null) return new LlavaImage(images.process(file), null, null, encoder.visualTokens());
    AnyresPixels a = anyresImages.process(file);
    int h = a.imageHeight(), w = a.imageWidth();
    return new LlavaImage(a.pixelValues(), new int[] {h, w}, next.grid(h, w), next.imageTokens(h, w));
  }

  @Override
  public float[] features(LlavaImage image) {
    PixelValues px = image.pixels();
    float[] f = encoder.encode(px.data(), px.images());
    return image.anyres() ? AnyResPacker.pack(f, encoder.textHidden(), newline, image.grid()) : f;
  }

  @Override
  public int hidden() {
    return encoder.textHidden();
  }

  @Override
  public int[][] positions(long[] ids, LlavaImage image) {
    return null;
  }
}
