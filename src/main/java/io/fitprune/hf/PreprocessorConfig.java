package io.fitprune.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;

/**
 * A model folder's {@code preprocessor_config.json} ({@code CLIPImageProcessor}), with that
 * processor's defaults for the keys the file leaves out.
 *
 * @param shortestEdge  {@code size.shortest_edge}: the resize target of the shorter side
 * @param cropHeight    {@code crop_size.height}
 * @param cropWidth     {@code crop_size.width}
 * @param mean          {@code image_mean}, one per channel
 * @param std           {@code image_std}, one per channel
 * @param rescaleFactor {@code rescale_factor} (1/255)
 * @param resample      {@code resample} (PIL's code; 3 is bicubic)
 * @param doResize      {@code do_resize}
 * @param doCenterCrop  {@code do_center_crop}
 * @param doRescale     {@code do_rescale}
 * @param doNormalize   {@code do_normalize}
 * @param doConvertRgb  {@code do_convert_rgb}
 */
public record PreprocessorConfig(int shortestEdge, int cropHeight, int cropWidth, double[] mean, double[] std,
    double rescaleFactor, int resample, boolean doResize, boolean doCenterCrop, boolean doRescale, boolean doNormalize,
    boolean doConvertRgb) {

  // CLIPImageProcessor's defaults (OpenAI CLIP's statistics).
  static final double[] CLIP_MEAN = {0.48145466, 0.4578275, 0.40821073};
  static final double[] CLIP_STD = {0.26862954, 0.26130258, 0.27577711};
  static final int SIZE = 224, BICUBIC = 3;
  static final double RESCALE = 1 / 255.0;

  /** CLIPImageProcessor as LLaVA configures it for a tower trained at {@code side} pixels. */
  public static PreprocessorConfig clip(int side) {
    return new PreprocessorConfig(side, side, side, CLIP_MEAN.clone(), CLIP_STD.clone(), RESCALE, BICUBIC, true, true, true,
        true, true);
  }

  static PreprocessorConfig parse(ConfigJson c) {
    String type = c.string("image_processor_type", "CLIPImageProcessor");
    if (!type.equals("CLIPImageProcessor") && !type.equals("CLIPImageProcessorFast"))
      throw c.error("image_processor_type", "is '" + type + "'; only CLIPImageProcessor is supported");
    int edge = SIZE;
    JsonNode size = c.node.get("size");
    if (size != null && size.isInt()) edge = size.intValue();
    else if (size != null && !size.isNull()) edge = positive(c.object("size"), "shortest_edge", SIZE);
    int ch = SIZE, cw = SIZE;
    JsonNode crop = c.node.get("crop_size");
    if (crop != null && crop.isInt()) ch = cw = crop.intValue();
    else if (crop != null && !crop.isNull()) {
      ch = positive(c.object("crop_size"), "height", SIZE);
      cw = positive(c.object("crop_size"), "width", SIZE);
    }
    if (edge <= 0 || ch <= 0 || cw <= 0) throw c.error("size and crop_size must be positive");
    return new PreprocessorConfig(edge, ch, cw, triple(c, "image_mean", CLIP_MEAN), triple(c, "image_std", CLIP_STD),
        c.number("rescale_factor", RESCALE), c.integer("resample", BICUBIC), c.bool("do_resize", true),
        c.bool("do_center_crop", true), c.bool("do_rescale", true), c.bool("do_normalize", true),
        c.bool("do_convert_rgb", true));
  }

  private static int positive(ConfigJson c, String key, int dflt) {
    int v = c.integer(key, dflt);
    if (v <= 0) throw c.error(key, "must be > 0, got " + v);
    return v;
  }

  private static double[] triple(ConfigJson c, String key, double[] dflt) {
    if (!c.has(key)) return dflt.clone();
    JsonNode n = c.node.get(key);
    if (!n.isArray() || n.size() != 3) throw c.error(key, "must be a list of 3 numbers (one per channel), got " + n);
    double[] v = new double[3];
    for (int i = 0; i < 3; i++) {
      if (!n.get(i).isNumber()) throw c.error(key, "must be a list of 3 numbers, got " + n);
      v[i] = n.get(i).doubleValue();
    }
    if (key.equals("image_std"))
      for (double s : v) if (!(s > 0)) throw c.error(key, "must be positive, got " + n);
    return v;
  }

  /** {@code preprocessor_config.json} as llava-hf writes it. */
  public byte[] toJson() throws IOException {
    ObjectNode o = ConfigJson.JSON.createObjectNode();
    ObjectNode crop = o.putObject("crop_size");
    crop.put("height", cropHeight).put("width", cropWidth);
    o.put("do_center_crop", doCenterCrop).put("do_convert_rgb", doConvertRgb).put("do_normalize", doNormalize)
        .put("do_rescale", doRescale).put("do_resize", doResize);
    ArrayNode m = o.putArray("image_mean");
    for (double v : mean) m.add(v);
    o.put("image_processor_type", "CLIPImageProcessor");
    ArrayNode s = o.putArray("image_std");
    for (double v : std) s.add(v);
    o.put("processor_class", "LlavaProcessor").put("resample", resample).put("rescale_factor", rescaleFactor);
    o.putObject("size").put("shortest_edge", shortestEdge);
    return ConfigJson.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o);
  }
}
