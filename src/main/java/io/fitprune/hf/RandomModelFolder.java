package io.fitprune.hf;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.image.PreprocessorConfig;
import io.fitprune.io.AtomicFiles;
import io.fitprune.io.DType;
import io.fitprune.io.ShardedWriter;
import io.fitprune.io.StagingDirectory;
import io.fitprune.model.Geometry;
import io.fitprune.vision.GridPinpoints;
import io.fitprune.vision.VisionTensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A complete seeded random LLaVA or LLaVA-NeXT model folder as the Hub lays one out:
 * {@code config.json} (keys equal to transformers' defaults left out), {@code preprocessor_config.json}
 * (LLaVA-NeXT's with its canvases),
 * {@code processor_config.json}, a working tokenizer with its config and chat template, and sharded
 * safetensors holding the language model, the CLIP vision tower and the projector (and LLaVA-NeXT's
 * {@code image_newline}). Everything is
 * written into a hidden sibling folder, tensors streamed (never the model in memory), and renamed
 * into place: a reader sees the whole folder or nothing.
 */
public final class RandomModelFolder {
  private RandomModelFolder() {}

  /** The tensors of the folder's checkpoint: the language model's, then the tower's and projector's. */
  public static List<ShardedWriter.Entry> entries(LlavaConfig c, RandomCheckpoint.Layout layout, DType dtype) {
    if (layout.projector() == null)
      throw new IllegalArgumentException("--layout llama has no vision tower: use llava-hf or llava with --vision");
    List<ShardedWriter.Entry> out = new ArrayList<>();
    for (ShardedWriter.Entry e : RandomCheckpoint.entries(decoder(c), layout, dtype, false))
      if (!e.name().startsWith(layout.projector())) out.add(e);
    VisionTensors.Layout vl = layout == RandomCheckpoint.Layout.LLAVA ? VisionTensors.Layout.LLAVA : VisionTensors.Layout.LLAVA_HF;
    VisionTensors.expected(c.vision(), c.projector(), vl).forEach((n, s) -> out.add(new ShardedWriter.Entry(n, dtype, s)));
    return out;
  }

  /** As {@link #entries(LlavaConfig, RandomCheckpoint.Layout, DType)}, with LLaVA-NeXT's {@code image_newline} last. */
  public static List<ShardedWriter.Entry> entries(LlavaNextConfig c, RandomCheckpoint.Layout layout, DType dtype) {
    List<ShardedWriter.Entry> out = entries(c.llava(), layout, dtype);
    VisionTensors.Layout vl = layout == RandomCheckpoint.Layout.LLAVA ? VisionTensors.Layout.LLAVA : VisionTensors.Layout.LLAVA_HF;
    out.add(new ShardedWriter.Entry(ImageNewline.name(vl), dtype, new long[] {c.llava().text().hidden()}));
    return out;
  }

  /** The decoder {@code c}'s text config describes (prefix and text token counts do not matter for weights). */
  static DecoderConfig decoder(LlavaConfig c) {
    TextConfig t = c.text();
    Geometry g = new Geometry(c.name() == null ? "llava" : c.name(), t.layers(), t.hidden(), t.heads(), t.kvHeads(),
        t.headDim(), t.intermediate(), c.imageSeqLength(), 0, 0);
    return DecoderConfig.of(g, t.vocab(), t.ropeTheta(), t.rmsEps());
  }

  /** Writes the folder {@code out} (new, or an empty directory); returns the number of weight shards. */
  public static int write(Path out, LlavaConfig c, RandomCheckpoint.Layout layout, DType dtype, long seed,
      long maxShardBytes) throws IOException {
    TokenizerFiles.check(c.text().vocab(), c.imageTokenIndex());
    return write(out, c, entries(c, layout, dtype), c.toJson(), PreprocessorConfig.clip(c.vision().imageSize()).toJson(),
        "LlavaProcessor", layout, seed, maxShardBytes);
  }

  /** A LLaVA-NeXT folder: the anyres image processor on the config's canvases, and {@code image_newline}. */
  public static int write(Path out, LlavaNextConfig c, RandomCheckpoint.Layout layout, DType dtype, long seed,
      long maxShardBytes) throws IOException {
    LlavaConfig l = c.llava();
    TokenizerFiles.check(l.text().vocab(), l.imageTokenIndex());
    return write(out, l, entries(c, layout, dtype), c.toJson(), anyresPreprocessor(c), "LlavaNextProcessor", layout, seed,
        maxShardBytes);
  }

  /**
   * LlavaNextImageProcessor's {@code preprocessor_config.json} as llava-hf writes it: the CLIP
   * processor's keys for the tower's size, then the anyres ones (the canvases; {@code do_pad}, the
   * batch step that pads tile counts).
   */
  static byte[] anyresPreprocessor(LlavaNextConfig c) throws IOException {
    ObjectNode o = (ObjectNode) ConfigJson.JSON.readTree(PreprocessorConfig.clip(c.llava().vision().imageSize()).toJson());
    o.put("aspect_ratio_setting", "anyres").put("do_pad", true);
    ArrayNode pins = o.putArray("image_grid_pinpoints");
    for (GridPinpoints.Resolution r : c.pinpoints().resolutions()) pins.addArray().add(r.height()).add(r.width());
    o.put("image_processor_type", "LlavaNextImageProcessor").put("processor_class", "LlavaNextProcessor");
    return ConfigJson.sortedBytes(o);
  }

  private static int write(Path out, LlavaConfig c, List<ShardedWriter.Entry> entries, byte[] config,
      byte[] preprocessor, String processorClass, RandomCheckpoint.Layout layout, long seed, long maxShardBytes)
      throws IOException {
    Path target = out.toAbsolutePath().normalize();
    if (Files.exists(target) && (!Files.isDirectory(target) || !isEmpty(target)))
      throw new IllegalArgumentException("--out: " + target + " exists and is not an empty directory");
    try (StagingDirectory stage = StagingDirectory.create("--out", target)) {
      Path tmp = stage.path();
      int shards = RandomCheckpoint.write(tmp, entries, seed, maxShardBytes, "fitprune random-checkpoint --vision ("
          + c.name() + ", " + layout.name().toLowerCase(Locale.ROOT) + ", seed " + seed + ")");
      AtomicFiles.write(tmp.resolve(ModelFolder.CONFIG), config);
      AtomicFiles.write(tmp.resolve(ModelFolder.PREPROCESSOR), preprocessor);
      AtomicFiles.write(tmp.resolve(ModelFolder.PROCESSOR), processorJson(c, processorClass));
      TokenizerFiles.write(tmp, c.text().vocab(), c.imageTokenIndex());
      stage.commit();
      return shards;
    }
  }

  /** {@code processor_config.json}: what LlavaProcessor (or LlavaNextProcessor) needs to expand {@code <image>}. */
  private static byte[] processorJson(LlavaConfig c, String processorClass) throws IOException {
    ObjectNode o = ConfigJson.JSON.createObjectNode();
    o.put("image_token", TokenizerFiles.IMAGE_TOKEN).put("num_additional_image_tokens", 1)
        .put("patch_size", c.vision().patchSize()).put("processor_class", processorClass)
        .put("vision_feature_select_strategy", c.projector().selectStrategy());
    return ConfigJson.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(o);
  }

  /** The weights' total bytes: what the folder costs on disk, less a few kB of JSON. */
  public static long weightBytes(LlavaConfig c, RandomCheckpoint.Layout layout, DType dtype) {
    long total = 0;
    for (ShardedWriter.Entry e : entries(c, layout, dtype)) total = Math.addExact(total, e.bytes());
    return total;
  }

  /** As {@link #weightBytes(LlavaConfig, RandomCheckpoint.Layout, DType)} for a LLaVA-NeXT folder. */
  public static long weightBytes(LlavaNextConfig c, RandomCheckpoint.Layout layout, DType dtype) {
    long total = 0;
    for (ShardedWriter.Entry e : entries(c, layout, dtype)) total = Math.addExact(total, e.bytes());
    return total;
  }

  private static boolean isEmpty(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.findAny().isEmpty();
    }
  }
}
