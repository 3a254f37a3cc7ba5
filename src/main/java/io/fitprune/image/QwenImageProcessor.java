package io.fitprune.image;

import java.io.IOException;
import java.nio.file.Path;

/**
 * transformers' {@code Qwen2VLImageProcessor} with its PIL backend (Qwen2-VL and Qwen2.5-VL), one
 * image at a time: convert to RGB; resize to {@link SmartResize}'s size with PIL's resampling on
 * 8-bit pixels (the source hands uint8 to PIL and gets uint8 back); rescale in float64 then round
 * to float32 and normalize in float32 (as {@link ImageProcessor}); repeat the image to
 * {@code temporal_patch_size} frames; cut it into patches in the source's merge-window order
 * ({@link QwenPixels}). With {@code do_resize} false the image must already be whole merge windows
 * within {@code max_pixels}. Bad files and sizes are one-line errors naming the file and the value.
 */
public final class QwenImageProcessor {
  private final QwenPreprocessorConfig config;
  private final long maxPixels;

  private QwenImageProcessor(QwenPreprocessorConfig config, long maxPixels) {
    if (config == null) throw new IllegalArgumentException("config must not be null");
    if (maxPixels < 1) throw new IllegalArgumentException("maxPixels must be at least 1, got " + maxPixels);
    this.config = config;
    this.maxPixels = maxPixels;
  }

  /** A processor configured by a {@code preprocessor_config.json} of type {@code Qwen2VLImageProcessor}. */
  public static QwenImageProcessor fromFile(Path preprocessorConfig) throws IOException {
    return fromConfig(QwenPreprocessorConfig.read(preprocessorConfig));
  }

  public static QwenImageProcessor fromConfig(QwenPreprocessorConfig config) {
    return new QwenImageProcessor(config, ImageFiles.MAX_PIXELS);
  }

  /** This processor with another limit on the pixels of a decoded or resized image (the decoder's limit). */
  public QwenImageProcessor withMaxPixels(long maxPixels) {
    return new QwenImageProcessor(config, maxPixels);
  }

  public QwenPreprocessorConfig config() {
    return config;
  }

  /** One image file; a bad file or size is a one-line {@link ImageFileException} naming it. */
  public QwenPixels process(Path image) throws IOException {
    if (image == null) throw new IllegalArgumentException("image must name a file, got null");
    RgbImage rgb = ImageFiles.decodeForProcessor(image, maxPixels, config.doConvertRgb());
    try {
      return run(rgb);
    } catch (IllegalArgumentException e) {
      throw new ImageFileException(image, e.getMessage());
    }
  }

  /** One decoded RGB image. */
  public QwenPixels processImage(RgbImage image) {
    if (image == null) throw new IllegalArgumentException("image must not be null");
    try {
      return run(image);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("image: " + e.getMessage());
    }
  }

  /**
   * {@code {height, width}} the model sees for an image of {@code height x width}: the smart size,
   * or the image's own when {@code do_resize} is false (checked to be whole merge windows within
   * {@code max_pixels}). What {@code get_number_of_image_patches} computes, without pixels.
   */
  public int[] resizedSize(int height, int width) {
    int f = config.factor(), p = config.patchSize(), m = config.mergeSize();
    int[] hw;
    if (config.doResize()) {
      hw = SmartResize.of(height, width, f, config.minPixels(), config.maxPixels());
    } else {
      String size = height + " x " + width + " (height x width)";
      if (height < f || width < f)
        throw new IllegalArgumentException("image " + size + " is smaller than one merged patch of " + f + " x " + f
            + " (patch_size " + p + " x merge_size " + m + ") and do_resize is false");
      if ((long) height * width > config.maxPixels())
        throw new IllegalArgumentException("image " + size + " has " + (long) height * width + " pixels, more than"
            + " max_pixels " + config.maxPixels() + " allows, and do_resize is false");
      if (height % p != 0 || width % p != 0)
        throw new IllegalArgumentException("image " + size + " is not a whole number of patches of " + p
            + " (patch_size) and do_resize is false");
      if ((height / p) % m != 0 || (width / p) % m != 0)
        throw new IllegalArgumentException("grid " + height / p + " x " + width / p + " (height x width in patches) does"
            + " not divide by merge_size " + m + " and do_resize is false");
      hw = new int[] {height, width};
    }
    long pixels = (long) hw[0] * hw[1];
    if (pixels > maxPixels)
      throw new IllegalArgumentException("image " + height + " x " + width + " resizes to " + hw[0] + " x " + hw[1]
          + " (height x width), more than the limit of " + maxPixels + " pixels");
    if (pixels * 3 * config.temporalPatchSize() > Resampler.MAX_ARRAY)
      throw new IllegalArgumentException("image " + hw[0] + " x " + hw[1] + " in " + config.temporalPatchSize()
          + " frames is too large for one float array");
    return hw;
  }

  /** The {@code <|image_pad|>} tokens an image of {@code height x width} becomes (no pixels needed). */
  public int imageTokens(int height, int width) {
    int[] hw = resizedSize(height, width);
    int cell = config.factor();
    return (hw[0] / cell) * (hw[1] / cell);
  }

  private QwenPixels run(RgbImage image) {
    int[] hw = resizedSize(image.height(), image.width());
    RgbImage resized = config.doResize() ? Resampler.resize(image, hw[1], hw[0], config.resample()) : image;
    float[][] lut = PixelLut.of(config.doRescale(), config.rescaleFactor(), config.doNormalize(), config.imageMean(),
        config.imageStd());
    int p = config.patchSize();
    float[] values = QwenPatches.flatten(resized, lut, p, config.temporalPatchSize(), config.mergeSize());
    return new QwenPixels(values, 1, hw[0] / p, hw[1] / p, config.patchDim(), config.mergeSize(), image.height(),
        image.width(), hw[0], hw[1]);
  }
}
