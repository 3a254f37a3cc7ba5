package io.fitprune.image;

import static io.fitprune.image.ConfigKeys.bool;
import static io.fitprune.image.ConfigKeys.channels;
import static io.fitprune.image.ConfigKeys.intValue;
import static io.fitprune.image.ConfigKeys.keys;
import static io.fitprune.image.ConfigKeys.longValue;
import static io.fitprune.image.ConfigKeys.number;
import static io.fitprune.image.ConfigKeys.perChannel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.io.InputFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * The values of a {@code preprocessor_config.json} for transformers' {@code Qwen2VLImageProcessor}
 * (Qwen2-VL and Qwen2.5-VL, and its {@code Fast} and {@code Pil} names), with transformers' defaults
 * for the keys a file omits. The pixel bounds are {@code size}'s {@code shortest_edge} and
 * {@code longest_edge} (despite the names, areas in pixels), overridden by the older top-level
 * {@code min_pixels} and {@code max_pixels} where given, as the source's constructor does.
 *
 * @param doResize          {@code do_resize}: {@link SmartResize} to the pixel bounds
 * @param minPixels         {@code min_pixels} / {@code size.shortest_edge}
 * @param maxPixels         {@code max_pixels} / {@code size.longest_edge}
 * @param resample          {@code resample}
 * @param doRescale         {@code do_rescale}
 * @param rescaleFactor     {@code rescale_factor}
 * @param doNormalize       {@code do_normalize}
 * @param imageMean         {@code image_mean}, one per RGB channel
 * @param imageStd          {@code image_std}, one per RGB channel
 * @param doConvertRgb      {@code do_convert_rgb}
 * @param patchSize         {@code patch_size}, the tower's square patch side
 * @param temporalPatchSize {@code temporal_patch_size}: frames per patch (an image is repeated to it)
 * @param mergeSize         {@code merge_size}: patches merged per side into one language-model token
 */
public record QwenPreprocessorConfig(boolean doResize, long minPixels, long maxPixels, Resampling resample,
    boolean doRescale, double rescaleFactor, boolean doNormalize, double[] imageMean, double[] imageStd,
    boolean doConvertRgb, int patchSize, int temporalPatchSize, int mergeSize) {

  /** transformers' class defaults: {@code 56 * 56} and {@code 28 * 28 * 1280} pixels. */
  public static final long DEFAULT_MIN_PIXELS = 56 * 56, DEFAULT_MAX_PIXELS = 28 * 28 * 1280;
  private static final Set<String> PROCESSORS = Set.of("Qwen2VLImageProcessor", "Qwen2VLImageProcessorFast",
      "Qwen2VLImageProcessorPil");

  public QwenPreprocessorConfig {
    if (resample == null) throw new IllegalArgumentException("resample must not be null");
    if (minPixels < 1 || minPixels > SmartResize.MAX_BOUND)
      throw new IllegalArgumentException("min_pixels (size.shortest_edge) must be in [1, 2^53], got " + minPixels);
    if (maxPixels < 1 || maxPixels > SmartResize.MAX_BOUND)
      throw new IllegalArgumentException("max_pixels (size.longest_edge) must be in [1, 2^53], got " + maxPixels);
    if (minPixels > maxPixels)
      throw new IllegalArgumentException("min_pixels " + minPixels + " must not exceed max_pixels " + maxPixels);
    positive("patch_size", patchSize);
    positive("temporal_patch_size", temporalPatchSize);
    positive("merge_size", mergeSize);
    if ((long) patchSize * mergeSize > ImageFiles.MAX_SIDE)
      throw new IllegalArgumentException("patch_size * merge_size must be at most " + ImageFiles.MAX_SIDE + ", got "
          + patchSize + " * " + mergeSize);
    if (3L * temporalPatchSize * patchSize * patchSize > Resampler.MAX_ARRAY)
      throw new IllegalArgumentException("a patch of 3 x temporal_patch_size " + temporalPatchSize + " x patch_size "
          + patchSize + "^2 values is too large for one float array");
    ConfigKeys.rescaleFactor(rescaleFactor);
    imageMean = channels("image_mean", imageMean, false);
    imageStd = channels("image_std", imageStd, true);
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

  /** The side every resized image is a multiple of: {@code patch_size * merge_size}. */
  public int factor() {
    return patchSize * mergeSize;
  }

  /** The floats of one flattened patch: {@code 3 * temporal_patch_size * patch_size^2}. */
  public int patchDim() {
    return 3 * temporalPatchSize * patchSize * patchSize;
  }

  /** transformers' defaults: {@code Qwen2VLImageProcessor()} with nothing set. */
  public static QwenPreprocessorConfig defaults() {
    return new QwenPreprocessorConfig(true, DEFAULT_MIN_PIXELS, DEFAULT_MAX_PIXELS, Resampling.BICUBIC, true, 1 / 255.0,
        true, PreprocessorConfig.CLIP_MEAN, PreprocessorConfig.CLIP_STD, true, 14, 2, 2);
  }

  /**
   * The configuration Qwen/Qwen2-VL-7B-Instruct and the Qwen2.5-VL checkpoints publish: the class
   * defaults with {@code max_pixels} 12845056 ({@code 14 * 14 * 4 * 16384}).
   */
  public static QwenPreprocessorConfig published() {
    return defaults().withPixels(DEFAULT_MIN_PIXELS, 12_845_056);
  }

  /** This configuration with other pixel bounds (as a caller's {@code min_pixels} / {@code max_pixels}). */
  public QwenPreprocessorConfig withPixels(long minPixels, long maxPixels) {
    return new QwenPreprocessorConfig(doResize, minPixels, maxPixels, resample, doRescale, rescaleFactor, doNormalize,
        imageMean, imageStd, doConvertRgb, patchSize, temporalPatchSize, mergeSize);
  }

  /**
   * {@code preprocessor_config.json} as transformers saves this processor: every key, the bounds both
   * as {@code size} and as the top-level {@code min_pixels} / {@code max_pixels} the Hub's Qwen files
   * use; {@code processorClass} is {@code Qwen2VLProcessor} or {@code Qwen2_5_VLProcessor}.
   */
  public byte[] toJson(String processorClass) {
    if (processorClass == null || processorClass.isBlank())
      throw new IllegalArgumentException("processorClass must name the processor, e.g. Qwen2VLProcessor");
    ObjectNode o = ConfigKeys.newObject();
    o.put("do_convert_rgb", doConvertRgb).put("do_normalize", doNormalize).put("do_rescale", doRescale)
        .put("do_resize", doResize);
    var m = o.putArray("image_mean");
    for (double v : imageMean) m.add(v);
    o.put("image_processor_type", "Qwen2VLImageProcessor");
    var sd = o.putArray("image_std");
    for (double v : imageStd) sd.add(v);
    o.put("max_pixels", maxPixels).put("merge_size", mergeSize).put("min_pixels", minPixels)
        .put("patch_size", patchSize).put("processor_class", processorClass).put("resample", resample.pil)
        .put("rescale_factor", rescaleFactor);
    o.putObject("size").put("longest_edge", maxPixels).put("shortest_edge", minPixels);
    o.put("temporal_patch_size", temporalPatchSize);
    return ConfigKeys.pretty(o);
  }

  /** Reads a {@code preprocessor_config.json}; errors name the file and the key. */
  public static QwenPreprocessorConfig read(Path file) throws IOException {
    return parse(InputFiles.readJson(file), file.toString());
  }

  /** Parses preprocessor JSON; {@code where} names its source in errors. */
  public static QwenPreprocessorConfig parse(byte[] json, String where) {
    return ConfigKeys.parse(json, where, QwenPreprocessorConfig::fromJson);
  }

  /** Whether a parsed config names this processor (a file without {@code image_processor_type} does not say). */
  static boolean isQwen(JsonNode type) {
    return type != null && type.isTextual() && PROCESSORS.contains(type.asText());
  }

  private static QwenPreprocessorConfig fromJson(JsonNode root) {
    JsonNode type = root.get("image_processor_type");
    if (type != null && !type.isNull() && !isQwen(type))
      throw new IllegalArgumentException("image_processor_type must be one of " + PROCESSORS.stream().sorted().toList()
          + ", got " + type);
    QwenPreprocessorConfig d = defaults();
    long[] bounds = bounds(root, d);
    return new QwenPreprocessorConfig(bool(root, "do_resize", d.doResize), bounds[0], bounds[1],
        ConfigKeys.resample(root, d.resample), bool(root, "do_rescale", d.doRescale),
        number(root, "rescale_factor", d.rescaleFactor), bool(root, "do_normalize", d.doNormalize),
        perChannel(root, "image_mean", d.imageMean), perChannel(root, "image_std", d.imageStd),
        bool(root, "do_convert_rgb", d.doConvertRgb), integer(root, "patch_size", d.patchSize),
        integer(root, "temporal_patch_size", d.temporalPatchSize), integer(root, "merge_size", d.mergeSize));
  }

  /**
   * {@code {min, max}} as the source's constructor settles them: {@code size} (or the class default
   * when absent), then {@code min_pixels} / {@code max_pixels} over it, dropping the same-named keys
   * an older transformers wrote into {@code size}; both bounds must then be there.
   */
  private static long[] bounds(JsonNode root, QwenPreprocessorConfig d) {
    JsonNode size = root.get("size");
    JsonNode min = root.get("min_pixels"), max = root.get("max_pixels");
    boolean minGiven = min != null && !min.isNull(), maxGiven = max != null && !max.isNull();
    Long shortest = d.minPixels, longest = d.maxPixels;
    if (size != null && !size.isNull()) {
      if (!size.isObject())
        throw new IllegalArgumentException("size must be {\"shortest_edge\": MIN_PIXELS, \"longest_edge\": MAX_PIXELS},"
            + " got " + size);
      Set<String> k = new HashSet<>(keys(size));
      if (minGiven) k.remove("min_pixels");
      if (maxGiven) k.remove("max_pixels");
      k.removeAll(Set.of("shortest_edge", "longest_edge"));
      if (!k.isEmpty())
        throw new IllegalArgumentException("size may hold only shortest_edge and longest_edge (pixel bounds), got " + size);
      shortest = present(size, "shortest_edge") ? longValue(size.get("shortest_edge"), "size.shortest_edge") : null;
      longest = present(size, "longest_edge") ? longValue(size.get("longest_edge"), "size.longest_edge") : null;
    }
    if (minGiven) shortest = longValue(min, "min_pixels");
    if (maxGiven) longest = longValue(max, "max_pixels");
    if (shortest == null || longest == null)
      throw new IllegalArgumentException("size must contain 'shortest_edge' and 'longest_edge' (or min_pixels and"
          + " max_pixels be given), got " + size);
    return new long[] {shortest, longest};
  }

  private static boolean present(JsonNode o, String key) {
    return o.get(key) != null && !o.get(key).isNull();
  }

  private static int integer(JsonNode root, String key, int dflt) {
    JsonNode n = root.get(key);
    return n == null || n.isNull() ? dflt : intValue(n, key);
  }

  private static void positive(String key, int v) {
    if (v < 1) throw new IllegalArgumentException(key + " must be at least 1, got " + v);
  }
}
