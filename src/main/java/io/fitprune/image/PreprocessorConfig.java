package io.fitprune.image;

import static io.fitprune.image.ConfigKeys.bool;
import static io.fitprune.image.ConfigKeys.channels;
import static io.fitprune.image.ConfigKeys.intValue;
import static io.fitprune.image.ConfigKeys.keys;
import static io.fitprune.image.ConfigKeys.number;
import static io.fitprune.image.ConfigKeys.perChannel;

import com.fasterxml.jackson.databind.JsonNode;
import io.fitprune.io.InputFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

/**
 * The values of a {@code preprocessor_config.json} for transformers' {@code CLIPImageProcessor} and
 * {@code LlavaImageProcessor}, with transformers' defaults for the keys a file omits (a bare
 * {@code {}} is CLIP's 224-pixel processor). Sizes are in pixels.
 *
 * @param doResize       {@code do_resize}
 * @param shortestEdge   {@code size.shortest_edge}, or 0 when the size is {@code {height, width}}
 * @param resizeHeight   {@code size.height} (0 with a shortest edge)
 * @param resizeWidth    {@code size.width} (0 with a shortest edge)
 * @param resample       {@code resample}
 * @param doCenterCrop   {@code do_center_crop}
 * @param cropHeight     {@code crop_size.height}
 * @param cropWidth      {@code crop_size.width}
 * @param doRescale      {@code do_rescale}
 * @param rescaleFactor  {@code rescale_factor}
 * @param doNormalize    {@code do_normalize}
 * @param imageMean      {@code image_mean}, one per RGB channel
 * @param imageStd       {@code image_std}, one per RGB channel
 * @param doConvertRgb   {@code do_convert_rgb}
 * @param doPad          LLaVA's {@code do_pad}: pad to a square of the longer side, centred, filled
 *                       with {@code int(mean * 255)} per channel, before resizing (LLaVA-1.5's
 *                       original "pad" aspect ratio). Only the LLaVA processor reads it: with
 *                       {@code image_processor_type} {@code CLIPImageProcessor} the key is ignored, and
 *                       {@code LlavaNextImageProcessor}'s {@code do_pad} is another step (see below)
 * @param gridPinpoints  {@code image_grid_pinpoints}, the {@code [height, width]} resolutions of
 *                       LLaVA-NeXT's anyres tiling; {@code null} unless {@code image_processor_type}
 *                       is {@code LlavaNextImageProcessor}. Its {@code do_pad} zero-pads a batch's
 *                       images to one count of tiles, which per-image output ({@link AnyresProcessor})
 *                       has no use for, so it is not kept; its pad to the best resolution always runs
 */
public record PreprocessorConfig(boolean doResize, int shortestEdge, int resizeHeight, int resizeWidth,
    Resampling resample, boolean doCenterCrop, int cropHeight, int cropWidth, boolean doRescale, double rescaleFactor,
    boolean doNormalize, double[] imageMean, double[] imageStd, boolean doConvertRgb, boolean doPad,
    int[][] gridPinpoints) {

  /** transformers' {@code OPENAI_CLIP_MEAN} and {@code OPENAI_CLIP_STD}. */
  static final double[] CLIP_MEAN = {0.48145466, 0.4578275, 0.40821073};
  static final double[] CLIP_STD = {0.26862954, 0.26130258, 0.27577711};
  private static final int MAX_SIZE = ImageFiles.MAX_SIDE;
  private static final Set<String> PROCESSORS = Set.of("CLIPImageProcessor", "CLIPImageProcessorFast",
      "LlavaImageProcessor", "LlavaImageProcessorFast", "LlavaNextImageProcessor", "LlavaNextImageProcessorFast");
  /** LlavaNextImageProcessor's default {@code image_grid_pinpoints} (llava-v1.6's), {@code [height, width]}. */
  static final int[][] LLAVA_NEXT_PINPOINTS = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};

  public PreprocessorConfig {
    if (shortestEdge != 0) {
      size("size.shortest_edge", shortestEdge);
      if (resizeHeight != 0 || resizeWidth != 0)
        throw new IllegalArgumentException("size has either shortest_edge or height and width, not both");
    } else {
      size("size.height", resizeHeight);
      size("size.width", resizeWidth);
    }
    if (resample == null) throw new IllegalArgumentException("resample must not be null");
    size("crop_size.height", cropHeight);
    size("crop_size.width", cropWidth);
    ConfigKeys.rescaleFactor(rescaleFactor);
    imageMean = channels("image_mean", imageMean, false);
    imageStd = channels("image_std", imageStd, true);
    if (gridPinpoints != null) {
      if (doPad)
        throw new IllegalArgumentException("do_pad (pad to a square) and image_grid_pinpoints (anyres) exclude each other");
      gridPinpoints = AnyresGeometry.checkPinpoints(gridPinpoints, cropHeight);
    }
  }

  /** A configuration without anyres tiling (CLIP's and LLaVA-1.5's processors). */
  public PreprocessorConfig(boolean doResize, int shortestEdge, int resizeHeight, int resizeWidth, Resampling resample,
      boolean doCenterCrop, int cropHeight, int cropWidth, boolean doRescale, double rescaleFactor, boolean doNormalize,
      double[] imageMean, double[] imageStd, boolean doConvertRgb, boolean doPad) {
    this(doResize, shortestEdge, resizeHeight, resizeWidth, resample, doCenterCrop, cropHeight, cropWidth, doRescale,
        rescaleFactor, doNormalize, imageMean, imageStd, doConvertRgb, doPad, null);
  }

  /** A copy ({@code null} without anyres): the record's arrays are not shared with callers. */
  @Override
  public int[][] gridPinpoints() {
    return gridPinpoints == null ? null : AnyresGeometry.copy(gridPinpoints);
  }

  /** Whether this is LLaVA-NeXT's anyres processor ({@code image_grid_pinpoints} set). */
  public boolean anyres() {
    return gridPinpoints != null;
  }

  /** A copy: the record's arrays are not shared with callers. */
  @Override
  public double[] imageMean() {
    return imageMean.clone();
  }

  /** A copy: the record's arrays are not shared with callers. */
  @Override
  public double[] imageStd() {
    return imageStd.clone();
  }

  /** transformers' defaults: CLIPImageProcessor with nothing set. */
  public static PreprocessorConfig defaults() {
    return new PreprocessorConfig(true, 224, 0, 0, Resampling.BICUBIC, true, 224, 224, true, 1 / 255.0, true,
        CLIP_MEAN, CLIP_STD, true, false);
  }

  /** CLIPImageProcessor as llava-hf configures it for a tower trained at {@code side} pixels. */
  public static PreprocessorConfig clip(int side) {
    return new PreprocessorConfig(true, side, 0, 0, Resampling.BICUBIC, true, side, side, true, 1 / 255.0, true,
        CLIP_MEAN, CLIP_STD, true, false);
  }

  /** {@code preprocessor_config.json} as llava-hf writes it (a shortest-edge resize; no {@code do_pad}). */
  public byte[] toJson() {
    if (shortestEdge == 0 || doPad || gridPinpoints != null)
      throw new IllegalStateException("only a shortest-edge resize without do_pad is written as CLIPImageProcessor");
    com.fasterxml.jackson.databind.node.ObjectNode o = ConfigKeys.newObject();
    o.putObject("crop_size").put("height", cropHeight).put("width", cropWidth);
    o.put("do_center_crop", doCenterCrop).put("do_convert_rgb", doConvertRgb).put("do_normalize", doNormalize)
        .put("do_rescale", doRescale).put("do_resize", doResize);
    var m = o.putArray("image_mean");
    for (double v : imageMean) m.add(v);
    o.put("image_processor_type", "CLIPImageProcessor");
    var sd = o.putArray("image_std");
    for (double v : imageStd) sd.add(v);
    o.put("processor_class", "LlavaProcessor").put("resample", resample.pil).put("rescale_factor", rescaleFactor);
    o.putObject("size").put("shortest_edge", shortestEdge);
    return ConfigKeys.pretty(o);
  }

  /** This configuration with {@code do_pad} set to {@code pad}. */
  public PreprocessorConfig withPad(boolean pad) {
    return new PreprocessorConfig(doResize, shortestEdge, resizeHeight, resizeWidth, resample, doCenterCrop, cropHeight,
        cropWidth, doRescale, rescaleFactor, doNormalize, imageMean, imageStd, doConvertRgb, pad, gridPinpoints);
  }

  /** Reads a {@code preprocessor_config.json}; errors name the file and the key. */
  public static PreprocessorConfig read(Path file) throws IOException {
    return parse(InputFiles.readJson(file), file.toString());
  }

  /** Parses preprocessor JSON; {@code where} names its source in errors. */
  public static PreprocessorConfig parse(byte[] json, String where) {
    return ConfigKeys.parse(json, where, PreprocessorConfig::fromJson);
  }

  private static PreprocessorConfig fromJson(JsonNode root) {
    JsonNode type = root.get("image_processor_type");
    boolean llava = true; // a file without a type is read as the LLaVA processor, which honours do_pad
    boolean next = false;
    if (type != null && !type.isNull()) {
      if (QwenPreprocessorConfig.isQwen(type))
        throw new IllegalArgumentException("image_processor_type " + type + " is Qwen2-VL's processor: read this file with"
            + " QwenPreprocessorConfig and process images with QwenImageProcessor");
      if (!type.isTextual() || !PROCESSORS.contains(type.asText()))
        throw new IllegalArgumentException("image_processor_type must be one of " + PROCESSORS.stream().sorted().toList()
            + ", got " + type);
      next = type.asText().startsWith("LlavaNext");
      llava = !next && type.asText().startsWith("Llava");
    }
    PreprocessorConfig d = defaults();
    int shortest = d.shortestEdge, height = 0, width = 0;
    JsonNode size = root.get("size");
    if (size != null && !size.isNull()) {
      if (size.isInt()) {
        shortest = positive(size, "size"); // get_size_dict(int, default_to_square=False)
      } else if (size.isArray() && size.size() == 2) {
        shortest = 0;
        height = intValue(size.get(0), "size[0]");
        width = intValue(size.get(1), "size[1]");
      } else if (size.isObject() && keys(size).equals(Set.of("shortest_edge"))) {
        shortest = positive(size.get("shortest_edge"), "size.shortest_edge");
      } else if (size.isObject() && keys(size).equals(Set.of("height", "width"))) {
        shortest = 0;
        height = intValue(size.get("height"), "size.height");
        width = intValue(size.get("width"), "size.width");
      } else {
        throw new IllegalArgumentException("size must be {\"shortest_edge\": S} or {\"height\": H, \"width\": W}"
            + " (or an int, or [H, W]), got " + size);
      }
    }
    int cropH = d.cropHeight, cropW = d.cropWidth;
    JsonNode crop = root.get("crop_size");
    if (crop != null && !crop.isNull()) {
      if (crop.isInt()) {
        cropH = cropW = crop.asInt(); // get_size_dict(int, default_to_square=True)
      } else if (crop.isArray() && crop.size() == 2) {
        cropH = intValue(crop.get(0), "crop_size[0]");
        cropW = intValue(crop.get(1), "crop_size[1]");
      } else if (crop.isObject() && keys(crop).equals(Set.of("height", "width"))) {
        cropH = intValue(crop.get("height"), "crop_size.height");
        cropW = intValue(crop.get("width"), "crop_size.width");
      } else {
        throw new IllegalArgumentException("crop_size must be {\"height\": H, \"width\": W} (or an int, or [H, W]), got "
            + crop);
      }
    }
    if (next) bool(root, "do_pad", true); // checked, then left to the caller's batching (see gridPinpoints)
    Resampling filter = ConfigKeys.resample(root, d.resample);
    return new PreprocessorConfig(bool(root, "do_resize", d.doResize), shortest, height, width, filter,
        bool(root, "do_center_crop", d.doCenterCrop), cropH, cropW, bool(root, "do_rescale", d.doRescale),
        number(root, "rescale_factor", d.rescaleFactor), bool(root, "do_normalize", d.doNormalize),
        perChannel(root, "image_mean", d.imageMean), perChannel(root, "image_std", d.imageStd),
        bool(root, "do_convert_rgb", d.doConvertRgb), llava && bool(root, "do_pad", false),
        next ? pinpoints(root.get("image_grid_pinpoints")) : null);
  }

  /** {@code image_grid_pinpoints}: a list of {@code [height, width]} integer pairs (range checks in the record). */
  private static int[][] pinpoints(JsonNode n) {
    if (n == null || n.isNull()) return AnyresGeometry.copy(LLAVA_NEXT_PINPOINTS);
    if (!n.isArray() || n.isEmpty())
      throw new IllegalArgumentException("image_grid_pinpoints must be a non-empty list of [height, width] pairs, got " + n);
    int[][] p = new int[n.size()][];
    for (int i = 0; i < p.length; i++) {
      JsonNode e = n.get(i);
      String key = "image_grid_pinpoints[" + i + "]";
      if (!e.isArray() || e.size() != 2)
        throw new IllegalArgumentException(key + " must be a [height, width] pair, got " + e);
      p[i] = new int[] {intValue(e.get(0), key + "[0]"), intValue(e.get(1), key + "[1]")};
    }
    return p;
  }

  /** A size that must be given as at least 1 (0 would read as "no shortest edge" in the record). */
  private static int positive(JsonNode n, String key) {
    int v = intValue(n, key);
    size(key, v);
    return v;
  }

  private static void size(String key, int v) {
    if (v < 1 || v > MAX_SIZE) throw new IllegalArgumentException(key + " must be in [1, " + MAX_SIZE + "], got " + v);
  }

  /** The resize target's description, for messages. */
  String sizeText() {
    return shortestEdge != 0 ? "shortest edge " + shortestEdge : resizeHeight + " x " + resizeWidth;
  }
}
