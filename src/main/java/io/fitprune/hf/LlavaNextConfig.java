package io.fitprune.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.io.Checkpoint;
import io.fitprune.vision.AnyResGrid;
import io.fitprune.vision.GridPinpoints;
import io.fitprune.vision.Unpad;
import io.fitprune.vision.VisionTensors;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A LLaVA-NeXT {@code config.json} ({@code LlavaNextForConditionalGeneration}, model_type
 * {@code llava_next}) with transformers' {@code LlavaNextConfig} defaults: LLaVA's fields (the same
 * defaults as {@link LlavaConfig}) and the anyres canvases. Its visual token count depends on the
 * image's size ({@link #imageTokens}).
 *
 * @param llava     the fields LLaVA-NeXT shares with LLaVA; {@code imageSeqLength} is the base
 *                  tile's count
 * @param pinpoints {@code image_grid_pinpoints} (llava-v1.6's canvases when absent)
 */
public record LlavaNextConfig(LlavaConfig llava, GridPinpoints pinpoints) {
  static final String MODEL_TYPE = "llava_next";

  public LlavaNextConfig {
    if (llava == null) throw new IllegalArgumentException("llava config is null");
    if (pinpoints == null) throw new IllegalArgumentException("image_grid_pinpoints is null");
    pinpoints.checkTiles(llava.vision().imageSize());
    // With the CLS row kept every tile gives side*side + 1 rows, which transformers' packing cannot lay out.
    if (!llava.projector().dropsCls())
      throw new IllegalArgumentException("vision_feature_select_strategy is '" + llava.projector().selectStrategy()
          + "': LLaVA-NeXT with a CLIP tower needs 'default' (the CLS row dropped) to lay tiles out as a grid");
  }

  /** Parses {@code config.json}; {@code where} names the file in every error. */
  public static LlavaNextConfig parse(byte[] json, String where) {
    return parse(ConfigJson.parse(json, where));
  }

  /** Reads a {@code config.json}. */
  public static LlavaNextConfig read(Path configJson) throws IOException {
    return parse(ConfigJson.read(configJson));
  }

  static LlavaNextConfig parse(ConfigJson c) {
    if (!c.has("model_type")) throw c.error("no 'model_type' (expected '" + MODEL_TYPE + "')");
    String type = c.string("model_type", null);
    if (!type.equals(MODEL_TYPE))
      throw c.error("model_type", "is '" + type + "'; LlavaNextConfig reads LLaVA-NeXT configs ('" + MODEL_TYPE + "')");
    if (c.has("use_image_newline_parameter") && !c.bool("use_image_newline_parameter", true))
      throw c.error("use_image_newline_parameter", "is false; transformers' LLaVA-NeXT always appends image_newline");
    LlavaConfig llava = LlavaConfig.parseFields(c);
    GridPinpoints pins = c.has("image_grid_pinpoints") ? pinpoints(c) : GridPinpoints.LLAVA_V16;
    try {
      return new LlavaNextConfig(llava, pins);
    } catch (IllegalArgumentException e) {
      throw c.error(e.getMessage());
    }
  }

  private static GridPinpoints pinpoints(ConfigJson c) {
    JsonNode n = c.node.get("image_grid_pinpoints");
    String bad = "must be a non-empty list of [height, width] pairs of positive integers, got ";
    if (!n.isArray() || n.isEmpty()) throw c.error("image_grid_pinpoints", bad + n);
    List<GridPinpoints.Resolution> out = new ArrayList<>();
    for (JsonNode p : n) {
      if (!p.isArray() || p.size() != 2 || !p.get(0).canConvertToInt() || !p.get(0).isIntegralNumber()
          || !p.get(1).isIntegralNumber() || !p.get(1).canConvertToInt() || p.get(0).intValue() <= 0
          || p.get(1).intValue() <= 0)
        throw c.error("image_grid_pinpoints", bad + p + " in " + n);
      out.add(new GridPinpoints.Resolution(p.get(0).intValue(), p.get(1).intValue()));
    }
    return new GridPinpoints(out);
  }

  /** Whether a parsed {@code config.json} says {@code model_type} {@code llava_next}. */
  static boolean isLlavaNext(ConfigJson c) {
    return c.node.path("model_type").isTextual() && MODEL_TYPE.equals(c.node.get("model_type").textValue());
  }

  /**
   * The Hugging Face config bundled for a model name ({@code llava-next-tiny},
   * {@code llava-v1.6-vicuna-7b}), or null when none is, or the bundled one is not LLaVA-NeXT's.
   */
  public static LlavaNextConfig bundled(String name) throws IOException {
    if (name == null || name.contains("/")) return null;
    try (InputStream in = LlavaNextConfig.class.getResourceAsStream(name + ".json")) {
      if (in == null) return null;
      ConfigJson c = ConfigJson.parse(in.readAllBytes(), "bundled Hugging Face config " + name);
      return isLlavaNext(c) ? parse(c).withName(name) : null;
    }
  }

  public LlavaNextConfig withName(String n) {
    return new LlavaNextConfig(llava.withName(n), pinpoints);
  }

  /** This config with another vocabulary size or number of decoder layers. */
  public LlavaNextConfig withText(int vocab, int layers) {
    return new LlavaNextConfig(llava.withText(vocab, layers), pinpoints);
  }

  /**
   * The visual count a model-level figure (a geometry, a FLOPs estimate) uses for LLaVA-NeXT: that
   * of an image exactly filling the largest canvas (the first listed among equals), every tile
   * kept. Real images bring their own count ({@link #imageTokens}).
   */
  public int nominalTokens() {
    GridPinpoints.Resolution big = pinpoints.resolutions().get(0);
    for (GridPinpoints.Resolution r : pinpoints.resolutions())
      if ((long) r.height() * r.width() > (long) big.height() * big.width()) big = r;
    return imageTokens(big.height(), big.width());
  }

  /** {@code config.json} as the Hub writes a LLaVA-NeXT one: LLaVA's keys, the canvases and the newline switch. */
  public byte[] toJson() throws IOException {
    ObjectNode o = (ObjectNode) ConfigJson.JSON.readTree(llava.toJson());
    o.remove("image_seq_length"); // LLaVA's; a LLaVA-NeXT image has no fixed count
    o.putArray("architectures").add("LlavaNextForConditionalGeneration");
    ArrayNode pins = o.putArray("image_grid_pinpoints");
    for (GridPinpoints.Resolution r : pinpoints.resolutions()) pins.addArray().add(r.height()).add(r.width());
    o.put("model_type", MODEL_TYPE);
    o.put("use_image_newline_parameter", true);
    return ConfigJson.sortedBytes(o);
  }

  /** How one image of {@code height x width} pixels is tiled and packed. */
  public AnyResGrid grid(int height, int width) {
    return AnyResGrid.of(height, width, pinpoints, llava.vision());
  }

  /**
   * {@code <image>} tokens an image of {@code height x width} pixels expands to, as
   * {@code LlavaNextProcessor._get_number_of_features} counts them (the processor's crop size and
   * patch size being the tower's): the base tile's features, then the unpadded map's rows, each
   * with its newline. The packed features have exactly this many rows.
   */
  public int imageTokens(int height, int width) {
    GridPinpoints.Resolution best = pinpoints.best(height, width);
    int tile = llava.vision().imageSize();
    int patches = tile / llava.vision().patchSize();
    int scaleHeight = best.height() / tile, scaleWidth = best.width() / tile;
    Unpad.Window w = Unpad.window(height, width, patches * scaleHeight, patches * scaleWidth);
    long unpadded = (long) w.height() * w.width(), newlines = w.height(), base = (long) patches * patches;
    return Math.toIntExact(unpadded + newlines + base);
  }

  /**
   * Checks a checkpoint's vision tower and projector ({@link VisionTensors#check}) and its
   * {@code image_newline} ({@link ImageNewline#check}); one-line errors naming the tensor.
   */
  public void checkVisionWeights(Checkpoint ck) {
    VisionTensors.check(ck, llava.vision(), llava.projector());
    ImageNewline.check(ck, llava.text().hidden());
  }
}
