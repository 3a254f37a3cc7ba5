package io.fitprune.vision.qwen;

import java.util.List;

/**
 * The shape of a Qwen2-VL or Qwen2.5-VL vision tower, one record for both families under
 * transformers' meanings. Qwen2-VL's {@code Qwen2VLVisionConfig} names the tower's width
 * {@code embed_dim}, the merger's output {@code hidden_size} and the MLP width
 * {@code int(embed_dim * mlp_ratio)}; Qwen2.5-VL's {@code Qwen2_5_VLVisionConfig} names them
 * {@code hidden_size}, {@code out_hidden_size} and {@code intermediate_size}. Torch-free.
 *
 * @param hiddenSize          the blocks' width (Qwen2-VL {@code embed_dim}, Qwen2.5-VL {@code hidden_size})
 * @param intermediateSize    the MLP's inner width
 * @param outHiddenSize       the merger's output width, the language model's hidden size
 * @param windowSize          Qwen2.5-VL's attention window side in pixels; 0 for Qwen2-VL
 * @param fullattBlockIndexes Qwen2.5-VL's blocks with full attention (others use windows; an index
 *                            outside {@code [0, depth)} names no block, as in transformers); empty for Qwen2-VL
 */
public record QwenVisionConfig(QwenVisionFamily family, int depth, int hiddenSize, int intermediateSize,
    int outHiddenSize, int heads, int inChannels, int patchSize, int temporalPatchSize, int spatialMergeSize,
    String hiddenAct, int windowSize, List<Integer> fullattBlockIndexes) {

  static final int MAX_SIZE = 1 << 16;

  public QwenVisionConfig {
    if (family == null) throw new IllegalArgumentException("family is null");
    positive("depth", depth);
    positive(family.windowed() ? "hidden_size" : "embed_dim", hiddenSize);
    positive(family.windowed() ? "intermediate_size" : "embed_dim * mlp_ratio", intermediateSize);
    positive(family.windowed() ? "out_hidden_size" : "hidden_size", outHiddenSize);
    positive("num_heads", heads);
    positive("in_channels", inChannels);
    positive("patch_size", patchSize);
    positive("temporal_patch_size", temporalPatchSize);
    positive("spatial_merge_size", spatialMergeSize);
    String width = family.windowed() ? "hidden_size" : "embed_dim";
    if (hiddenSize % heads != 0)
      throw new IllegalArgumentException(width + " (" + hiddenSize + ") must be a multiple of num_heads (" + heads + ")");
    if ((hiddenSize / heads) % 4 != 0)
      throw new IllegalArgumentException(width + " / num_heads (" + hiddenSize / heads + ") must be a multiple of 4: the "
          + "rotary embedding splits each head in halves, each over height and width");
    if ((long) inChannels * temporalPatchSize * patchSize * patchSize > MAX_SIZE * 16L)
      throw new IllegalArgumentException("in_channels * temporal_patch_size * patch_size^2 ("
          + (long) inChannels * temporalPatchSize * patchSize * patchSize + ") must be at most " + MAX_SIZE * 16L);
    if ((long) hiddenSize * spatialMergeSize * spatialMergeSize > Integer.MAX_VALUE / 2)
      throw new IllegalArgumentException(width + " * spatial_merge_size^2 must be below 2^30");
    if (hiddenAct == null || hiddenAct.isBlank()) throw new IllegalArgumentException("hidden_act must be a non-empty string");
    if (fullattBlockIndexes == null) throw new IllegalArgumentException("fullatt_block_indexes is null");
    fullattBlockIndexes = List.copyOf(fullattBlockIndexes);
    if (family.windowed()) {
      if (windowSize < (long) spatialMergeSize * patchSize || windowSize > MAX_SIZE * 16)
        throw new IllegalArgumentException("window_size must be in [spatial_merge_size * patch_size = "
            + spatialMergeSize * patchSize + ", " + MAX_SIZE * 16 + "], got " + windowSize);
    } else if (windowSize != 0 || !fullattBlockIndexes.isEmpty()) {
      throw new IllegalArgumentException("qwen2_vl towers attend in full: window_size must be 0 and "
          + "fullatt_block_indexes empty, got " + windowSize + " and " + fullattBlockIndexes);
    }
  }

  private static void positive(String key, int v) {
    if (v <= 0 || v > MAX_SIZE) throw new IllegalArgumentException(key + " must be in [1, " + MAX_SIZE + "], got " + v);
  }

  /** transformers' Qwen2VLVisionConfig defaults (Qwen2-VL-7B's tower). */
  public static QwenVisionConfig qwen2VlDefaults() {
    return new QwenVisionConfig(QwenVisionFamily.QWEN2_VL, 32, 1280, 1280 * 4, 3584, 16, 3, 14, 2, 2, "quick_gelu", 0,
        List.of());
  }

  /**
   * transformers' Qwen2_5_VLVisionConfig defaults. Note its {@code hidden_size} default is 3584;
   * the published Qwen2.5-VL checkpoints all give 1280 explicitly.
   */
  public static QwenVisionConfig qwen25VlDefaults() {
    return new QwenVisionConfig(QwenVisionFamily.QWEN2_5_VL, 32, 3584, 3420, 3584, 16, 3, 14, 2, 2, "silu", 112,
        List.of(7, 15, 23, 31));
  }

  /** Per-head width. */
  public int headDim() {
    return hiddenSize / heads;
  }

  /** One patch's values in pixel_values: {@code in_channels * temporal_patch_size * patch_size^2}. */
  public int patchValues() {
    return inChannels * temporalPatchSize * patchSize * patchSize;
  }

  /** Patches merged into one output token: {@code spatial_merge_size^2}. */
  public int mergeUnit() {
    return spatialMergeSize * spatialMergeSize;
  }

  /** The merger's input width: {@code hiddenSize * spatial_merge_size^2}. */
  public int mergedWidth() {
    return hiddenSize * mergeUnit();
  }

  /** Qwen2.5-VL's window side in merged tokens ({@code window_size // spatial_merge_size // patch_size}). */
  public int mergerWindow() {
    return windowSize / spatialMergeSize / patchSize;
  }

  /** Whether block {@code layer} attends over each whole image (always for Qwen2-VL). */
  public boolean fullAttention(int layer) {
    return !family.windowed() || fullattBlockIndexes.contains(layer);
  }
}
