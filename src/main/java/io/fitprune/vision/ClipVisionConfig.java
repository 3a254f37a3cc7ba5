package io.fitprune.vision;

/**
 * The shape of a CLIP vision tower, with the fields of transformers' {@code CLIPVisionConfig}
 * under their Java names. A model folder's {@code vision_config} omits what equals the
 * transformers defaults; the folder reader fills those in before building this record.
 *
 * @param hiddenSize       {@code hidden_size}
 * @param intermediateSize {@code intermediate_size} (the MLP's inner width)
 * @param layers           {@code num_hidden_layers}
 * @param heads            {@code num_attention_heads}
 * @param channels         {@code num_channels}
 * @param imageSize        {@code image_size}, the square side the tower was trained at
 * @param patchSize        {@code patch_size}
 * @param layerNormEps     {@code layer_norm_eps}
 * @param hiddenAct        {@code hidden_act} ({@code quick_gelu} for CLIP)
 */
public record ClipVisionConfig(int hiddenSize, int intermediateSize, int layers, int heads, int channels,
    int imageSize, int patchSize, double layerNormEps, String hiddenAct) {

  static final int MAX_SIZE = 1 << 16;

  public ClipVisionConfig {
    positive("hidden_size", hiddenSize);
    positive("intermediate_size", intermediateSize);
    positive("num_hidden_layers", layers);
    positive("num_attention_heads", heads);
    positive("num_channels", channels);
    positive("image_size", imageSize);
    positive("patch_size", patchSize);
    if (hiddenSize % heads != 0)
      throw new IllegalArgumentException("hidden_size (" + hiddenSize + ") must be a multiple of num_attention_heads ("
          + heads + ")");
    if (imageSize % patchSize != 0)
      throw new IllegalArgumentException("image_size (" + imageSize + ") must be a multiple of patch_size ("
          + patchSize + ")");
    long side = imageSize / patchSize;
    if ((side * side + 1) * hiddenSize >= Integer.MAX_VALUE)
      throw new IllegalArgumentException("image_size / patch_size (" + side + ") squared plus one, times hidden_size (" + hiddenSize
          + ") must be below 2^31 (one image's hidden state)");
    if (!(layerNormEps > 0) || !Double.isFinite(layerNormEps))
      throw new IllegalArgumentException("layer_norm_eps must be a positive finite number, got " + layerNormEps);
    if (hiddenAct == null || hiddenAct.isBlank())
      throw new IllegalArgumentException("hidden_act must be a non-empty string");
  }

  private static void positive(String key, int v) {
    if (v <= 0 || v > MAX_SIZE) throw new IllegalArgumentException(key + " must be in [1, " + MAX_SIZE + "], got " + v);
  }

  /** Per-head width. */
  public int headDim() {
    return hiddenSize / heads;
  }

  /** Patches along one side of the image. */
  public int patchesPerSide() {
    return imageSize / patchSize;
  }

  /** Patch tokens, without the CLS token. */
  public int patches() {
    return patchesPerSide() * patchesPerSide();
  }

  /** Rows of the tower's hidden states: the CLS token plus the patches. */
  public int positions() {
    return patches() + 1;
  }
}
