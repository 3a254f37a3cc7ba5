package io.fitprune.vision.qwen;

/**
 * The two Qwen vision towers, named by their transformers {@code model_type}. Qwen2-VL: LayerNorm
 * blocks, a quick-GELU MLP ({@code fc1}, {@code fc2}), full attention within each image. Qwen2.5-VL:
 * RMSNorm blocks, a gated MLP ({@code gate_proj}, {@code up_proj}, {@code down_proj}, all with
 * biases), window attention except in {@code fullatt_block_indexes}.
 */
public enum QwenVisionFamily {
  QWEN2_VL("qwen2_vl"),
  QWEN2_5_VL("qwen2_5_vl");

  private final String modelType;

  QwenVisionFamily(String modelType) {
    this.modelType = modelType;
  }

  /** The {@code model_type} of the whole model's config (and of its {@code vision_config}). */
  public String modelType() {
    return modelType;
  }

  /** The family of a {@code model_type}; anything else is an error naming it. */
  public static QwenVisionFamily of(String modelType) {
    for (QwenVisionFamily f : values()) if (f.modelType.equals(modelType)) return f;
    throw new IllegalArgumentException("model_type '" + modelType + "' is not a Qwen vision tower (qwen2_vl or qwen2_5_vl)");
  }

  /** Whether the blocks use window attention, RMSNorm and the gated MLP. */
  public boolean windowed() {
    return this == QWEN2_5_VL;
  }
}
