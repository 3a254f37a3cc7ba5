package io.fitprune.image;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * transformers' {@code LlavaNextImageProcessor} (PIL backend) for one image at a time, in the
 * source's order: convert to RGB; choose the grid pinpoint ({@link AnyresGeometry#bestResolution});
 * resize the image into it keeping its aspect ratio ({@code _resize_for_patching}, PIL resampling on
 * 8-bit pixels); pad it with zeros, centred, to the pinpoint ({@code _pad_for_patching}); cut it into
 * {@code crop_size.height} squares row by row ({@code divide_to_patches}); resize the whole original
 * to an {@code S x S} square for the base view (S the shortest edge, or the smaller of size's height
 * and width), ignoring its aspect ratio as the source does; then each of [base, tiles...] through
 * the CLIP steps of {@link ImageProcessor} (resize, center-crop, rescale, normalize). The batch step
 * ({@code do_pad}: zero tiles up to the batch's largest count) is left to the caller, since the
 * model drops those tiles again.
 */
public final class AnyresProcessor {
  private final ImageProcessor clip;
  private final PreprocessorConfig config;
  private final long maxPixels;

  private AnyresProcessor(PreprocessorConfig config, long maxPixels) {
    if (config == null) throw new IllegalArgumentException("config must not be null");
    if (!config.anyres())
      throw new IllegalArgumentException("config must be LlavaNextImageProcessor's (image_grid_pinpoints set); "
          + "this one is a single-view processor: use ImageProcessor");
    this.clip = ImageProcessor.fromConfig(config).withMaxPixels(maxPixels);
    this.config = config;
    this.maxPixels = maxPixels;
  }

  public static AnyresProcessor fromConfig(PreprocessorConfig config) {
    return new AnyresProcessor(config, ImageFiles.MAX_PIXELS);
  }

  /** A processor configured by a {@code preprocessor_config.json} of type {@code LlavaNextImageProcessor}. */
  public static AnyresProcessor fromFile(Path preprocessorConfig) throws IOException {
    return fromConfig(PreprocessorConfig.read(preprocessorConfig));
  }

  /** This processor with another limit on the pixels of a decoded or resized image. */
  public AnyresProcessor withMaxPixels(long maxPixels) {
    return new AnyresProcessor(config, maxPixels);
  }

  public PreprocessorConfig config() {
    return config;
  }

  /** One image file; a bad file is a one-line {@link ImageFileException} naming it. */
  public AnyresPixels process(Path image) throws IOException {
    if (image == null) throw new IllegalArgumentException("image must name a file, got null");
    RgbImage rgb = ImageFiles.decodeForProcessor(image, maxPixels, config.doConvertRgb());
    try {
      return run(rgb, image.toString());
    } catch (IllegalArgumentException e) {
      throw new ImageFileException(image, e.getMessage());
    }
  }

  /** One decoded RGB image. */
  public AnyresPixels processImage(RgbImage image) {
    if (image == null) throw new IllegalArgumentException("image must not be null");
    return run(image, "image");
  }

  /** The 8-bit views, base first, before the CLIP steps: the source's {@code get_image_patches}. */
  public List<RgbImage> views(RgbImage image) {
    if (image == null) throw new IllegalArgumentException("image must not be null");
    int h = image.height(), w = image.width();
    int[] best = AnyresGeometry.bestResolution(h, w, config.gridPinpoints());
    checkPixels("the best resolution", best[0], best[1]);
    int[] fit = AnyresGeometry.fitInside(h, w, best[0], best[1]);
    RgbImage resized = Resampler.resize(image, fit[1], fit[0], config.resample());
    int[] pad = AnyresGeometry.centredPadding(fit[0], fit[1], best[0], best[1]);
    RgbImage padded = PadCrop.window(resized, -pad[2], -pad[0], best[1], best[0]);
    int tile = config.cropHeight();
    int s = config.shortestEdge() != 0 ? config.shortestEdge() : Math.min(config.resizeHeight(), config.resizeWidth());
    checkPixels("the base view", s, s);
    List<RgbImage> views = new ArrayList<>(1 + (best[0] / tile) * (best[1] / tile));
    views.add(Resampler.resize(image, s, s, config.resample()));
    for (int y = 0; y < best[0]; y += tile)
      for (int x = 0; x < best[1]; x += tile) views.add(PadCrop.window(padded, x, y, tile, tile));
    return views;
  }

  private AnyresPixels run(RgbImage image, String name) {
    List<RgbImage> views = views(image);
    List<RgbImage> prepared = new ArrayList<>(views.size());
    List<String> names = new ArrayList<>(views.size());
    for (int i = 0; i < views.size(); i++) {
      prepared.add(clip.prepare(views.get(i)));
      names.add(name + (i == 0 ? " (base view)" : " (tile " + (i - 1) + ")"));
    }
    int[] best = AnyresGeometry.bestResolution(image.height(), image.width(), config.gridPinpoints());
    return new AnyresPixels(clip.normalize(prepared, names), image.height(), image.width(), best[0], best[1],
        config.cropHeight());
  }

  private void checkPixels(String what, int height, int width) {
    if ((long) height * width > maxPixels)
      throw new IllegalArgumentException(what + " " + height + " x " + width + " (height x width) is more than the limit"
          + " of " + maxPixels + " pixels");
  }
}
