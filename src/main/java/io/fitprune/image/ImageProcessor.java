package io.fitprune.image;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * transformers' {@code CLIPImageProcessor} / {@code LlavaImageProcessor} with its PIL backend, on
 * the JVM: convert to RGB, optionally pad to a square ({@code do_pad}), resize (the shortest edge to
 * {@code size.shortest_edge} with the longer one {@code int(S * long / short)}, or to {@code size}'s
 * height and width) with PIL's resampling, center-crop (zero-padding an image smaller than the
 * crop), rescale in float64 then round to float32, and normalize in float32: the same arithmetic in
 * the same order, so PNG input should give transformers' float32 values bit for bit (JPEG differs by
 * its decoder, see {@link ImageFiles}). Resize, pad and crop run on 8-bit pixels,
 * as they do there. Images are refused, with a one-line error naming the file, for the reasons
 * {@link ImageFiles} lists, and when a resized or padded image would exceed the pixel limit.
 */
public final class ImageProcessor {
  private final PreprocessorConfig config;
  private final long maxPixels;

  private ImageProcessor(PreprocessorConfig config, long maxPixels) {
    if (config == null) throw new IllegalArgumentException("config must not be null");
    if (maxPixels < 1) throw new IllegalArgumentException("maxPixels must be at least 1, got " + maxPixels);
    this.config = config;
    this.maxPixels = maxPixels;
  }

  /** A processor configured by a {@code preprocessor_config.json}. */
  public static ImageProcessor fromFile(Path preprocessorConfig) throws IOException {
    return fromConfig(PreprocessorConfig.read(preprocessorConfig));
  }

  public static ImageProcessor fromConfig(PreprocessorConfig config) {
    return new ImageProcessor(config, ImageFiles.MAX_PIXELS);
  }

  /** This processor with another limit on the pixels of a decoded, padded or resized image. */
  public ImageProcessor withMaxPixels(long maxPixels) {
    return new ImageProcessor(config, maxPixels);
  }

  public PreprocessorConfig config() {
    return config;
  }

  /** The file decoded to 8-bit RGB ({@link ImageFiles#loadRgb(Path)}). */
  public static RgbImage loadRgb(Path image) throws IOException {
    return ImageFiles.loadRgb(image);
  }

  /** One image file as {@code [1, 3, H, W]}. */
  public PixelValues process(Path image) throws IOException {
    if (image == null) throw new IllegalArgumentException("image must name a file, got null");
    return process(List.of(image));
  }

  /** Image files as one batch {@code [n, 3, H, W]}; they must all come out the same size. */
  public PixelValues process(List<Path> images) throws IOException {
    refuseAnyres();
    if (images == null || images.isEmpty()) throw new IllegalArgumentException("images must name at least one file");
    List<RgbImage> prepared = new ArrayList<>(images.size());
    for (Path p : images) {
      if (p == null) throw new IllegalArgumentException("images must not contain null");
      RgbImage rgb = ImageFiles.decodeForProcessor(p, maxPixels, config.doConvertRgb());
      try {
        prepared.add(prepare(rgb));
      } catch (IllegalArgumentException e) {
        throw new ImageFileException(p, e.getMessage());
      }
    }
    return normalize(prepared, images.stream().map(Path::toString).toList());
  }

  /** RGB images (already decoded) as one batch {@code [n, 3, H, W]}. */
  public PixelValues processImages(List<RgbImage> images) {
    refuseAnyres();
    if (images == null || images.isEmpty()) throw new IllegalArgumentException("images must hold at least one image");
    List<RgbImage> prepared = new ArrayList<>(images.size());
    List<String> names = new ArrayList<>(images.size());
    for (int i = 0; i < images.size(); i++) {
      if (images.get(i) == null) throw new IllegalArgumentException("images[" + i + "] must not be null");
      names.add("images[" + i + "]");
      try {
        prepared.add(prepare(images.get(i)));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(names.get(i) + ": " + e.getMessage());
      }
    }
    return normalize(prepared, names);
  }

  /** An anyres configuration gives each image its own count of tiles, which one batch tensor cannot hold. */
  private void refuseAnyres() {
    if (config.anyres())
      throw new IllegalArgumentException("this preprocessor config is LLaVA-NeXT's anyres processor (image_grid_pinpoints"
          + " set): process its images with AnyresProcessor, which gives each image its base view and tiles");
  }

  /**
   * The 8-bit stages, in transformers' order: pad to square, resize, center-crop. An image that
   * padding or resizing would take past the pixel limit is refused.
   */
  public RgbImage prepare(RgbImage image) {
    if (config.doPad()) image = PadCrop.padToSquare(image, padColor(), maxPixels);
    if (config.doResize()) {
      int[] wh = resizeTarget(image.width(), image.height());
      image = Resampler.resize(image, wh[0], wh[1], config.resample());
    }
    if (config.doCenterCrop()) {
      if ((long) config.cropWidth() * config.cropHeight() > maxPixels)
        throw new IllegalArgumentException("crop_size " + config.cropHeight() + " x " + config.cropWidth()
            + " (height x width) is more than the limit of " + maxPixels + " pixels");
      image = PadCrop.centerCrop(image, config.cropWidth(), config.cropHeight());
    }
    return image;
  }

  /**
   * transformers' {@code get_resize_output_image_size}: {@code {width, height}} after resizing an
   * image of {@code width x height}.
   */
  public int[] resizeTarget(int width, int height) {
    if (width < 1 || height < 1)
      throw new IllegalArgumentException("image size must be at least 1 x 1, got " + width + " x " + height);
    if (config.shortestEdge() == 0) {
      if ((long) config.resizeWidth() * config.resizeHeight() > maxPixels)
        throw new IllegalArgumentException("size " + config.resizeHeight() + " x " + config.resizeWidth()
            + " (height x width) is more than the limit of " + maxPixels + " pixels");
      return new int[] {config.resizeWidth(), config.resizeHeight()};
    }
    int s = config.shortestEdge();
    int shortSide = Math.min(width, height), longSide = Math.max(width, height);
    // int(S * long / short): an exact product and one correctly rounded division, as Python computes it.
    long newLong = (long) ((double) ((long) s * longSide) / shortSide);
    if (newLong > ImageFiles.MAX_SIDE || newLong * s > maxPixels)
      throw new IllegalArgumentException("resizing " + width + " x " + height + " to shortest edge " + s
          + " gives a side of " + newLong + " pixels, beyond the limits (" + ImageFiles.MAX_SIDE + " a side, "
          + maxPixels + " in all)");
    return width <= height ? new int[] {s, (int) newLong} : new int[] {(int) newLong, s};
  }

  /** LLaVA's fill: {@code tuple(int(x * 255) for x in image_mean)}. */
  private int[] padColor() {
    double[] mean = config.imageMean();
    int[] c = new int[3];
    for (int i = 0; i < 3; i++) {
      double v = mean[i] * 255;
      if (!(v > -1 && v < 256))
        throw new IllegalArgumentException("do_pad fills with int(image_mean * 255), which must be in 0..255; image_mean["
            + i + "] = " + mean[i] + " gives " + v);
      c[i] = (int) v;
    }
    return c;
  }

  /** Rescale (float64, then float32) and normalize (float32), planar per image. */
  PixelValues normalize(List<RgbImage> images, List<String> names) {
    RgbImage first = images.get(0);
    int w = first.width(), h = first.height();
    for (int i = 1; i < images.size(); i++) {
      RgbImage im = images.get(i);
      if (im.width() != w || im.height() != h)
        throw new IllegalArgumentException("images of a batch must come out the same size: " + names.get(0) + " gives "
            + w + " x " + h + ", " + names.get(i) + " gives " + im.width() + " x " + im.height()
            + " (set do_center_crop to give every image the crop size)");
    }
    long plane = (long) w * h;
    if (plane * 3 * images.size() > Integer.MAX_VALUE - 8)
      throw new IllegalArgumentException("a batch of " + images.size() + " images of " + w + " x " + h
          + " is too large for one float array");
    float[] out = new float[(int) (plane * 3 * images.size())];
    float[][] lut = PixelLut.of(config.doRescale(), config.rescaleFactor(), config.doNormalize(), config.imageMean(),
        config.imageStd());
    int o = 0;
    for (RgbImage im : images) {
      byte[] rgb = im.rgb();
      for (int c = 0; c < 3; c++) {
        float[] l = lut[c];
        for (int p = c; p < rgb.length; p += 3) out[o++] = l[rgb[p] & 0xFF];
      }
    }
    return new PixelValues(out, images.size(), h, w);
  }
}
