package io.fitprune.vision;

/**
 * How LLaVA turns the vision tower's hidden states into language-model rows, with the fields of
 * transformers' {@code LlavaConfig}.
 *
 * @param featureLayer    {@code vision_feature_layer}: index into the tower's hidden states, where
 *                        state 0 is the embeddings after pre_layrnorm; negative counts from the end (-2 is the
 *                        output of the second-to-last layer)
 * @param selectStrategy  {@code vision_feature_select_strategy}: {@code default} drops the CLS row,
 *                        {@code full} keeps it
 * @param visionHidden    the tower's {@code hidden_size} (the projector's input width)
 * @param textHidden      the language model's {@code hidden_size} (the projector's output width)
 * @param act             {@code projector_hidden_act} ({@code gelu}: exact, erf-based)
 * @param bias            {@code multimodal_projector_bias}
 */
public record ProjectorConfig(int featureLayer, String selectStrategy, int visionHidden, int textHidden, String act,
    boolean bias) {

  public ProjectorConfig {
    if (!"default".equals(selectStrategy) && !"full".equals(selectStrategy))
      throw new IllegalArgumentException("vision_feature_select_strategy must be 'default' or 'full', got '"
          + selectStrategy + "'");
    if (visionHidden <= 0 || textHidden <= 0)
      throw new IllegalArgumentException("projector widths must be positive, got " + visionHidden + " -> " + textHidden);
    if (act == null || act.isBlank()) throw new IllegalArgumentException("projector_hidden_act must be a non-empty string");
  }

  /**
   * The hidden-state index {@link #featureLayer} names, for a tower of {@code layers} layers (which
   * has {@code layers + 1} states); refuses an index out of range.
   */
  public int stateIndex(int layers) {
    int states = layers + 1;
    int i = featureLayer < 0 ? states + featureLayer : featureLayer;
    if (i < 0 || i >= states)
      throw new IllegalArgumentException("vision_feature_layer " + featureLayer + " is out of range for a tower of "
          + layers + " layers (" + states + " hidden states, index -" + states + " to " + (states - 1) + ")");
    return i;
  }

  /** Whether the CLS row is dropped before the projector. */
  public boolean dropsCls() {
    return "default".equals(selectStrategy);
  }
}
