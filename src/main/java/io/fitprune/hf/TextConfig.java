package io.fitprune.hf;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A LLaVA model's language model, with the fields of transformers' {@code LlamaConfig} that the
 * decoder needs. {@link #parse} fills in LlamaConfig's defaults for every key the file leaves
 * out (the llava-1.5 configs name only a few), {@link #write} leaves out the keys equal to them.
 */
public record TextConfig(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim,
    double rmsEps, double ropeTheta, int maxPositions, boolean tieWordEmbeddings) {

  // LlamaConfig's defaults.
  static final int VOCAB = 32000, HIDDEN = 4096, INTERMEDIATE = 11008, LAYERS = 32, HEADS = 32, MAX_POSITIONS = 2048;
  static final double RMS_EPS = 1e-6, ROPE_THETA = 10000;

  public TextConfig {
    int[] sizes = {vocab, hidden, intermediate, layers, heads, kvHeads, headDim, maxPositions};
    String[] keys = {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "head_dim", "max_position_embeddings"};
    for (int i = 0; i < sizes.length; i++)
      if (sizes[i] <= 0) throw new IllegalArgumentException("'" + keys[i] + "' must be > 0, got " + sizes[i]);
    if (heads % kvHeads != 0)
      throw new IllegalArgumentException("'num_attention_heads' (" + heads + ") must be a multiple of 'num_key_value_heads' ("
          + kvHeads + ")");
    if (!(rmsEps > 0) || rmsEps >= 1) throw new IllegalArgumentException("'rms_norm_eps' must be in (0, 1), got " + rmsEps);
    if (!(ropeTheta > 1) || Double.isInfinite(ropeTheta))
      throw new IllegalArgumentException("'rope_theta' must be a finite number > 1, got " + ropeTheta);
  }

  /** Reads {@code text_config}; {@code model_type} absent means llama, as LlavaConfig assumes. */
  static TextConfig parse(ConfigJson c) {
    String type = c.string("model_type", "llama");
    if (!type.equals("llama"))
      throw c.error("model_type", "is '" + type + "'; only 'llama' language models are supported");
    int hidden = c.integer("hidden_size", HIDDEN), heads = c.integer("num_attention_heads", HEADS);
    if (heads <= 0) throw c.error("num_attention_heads", "must be > 0, got " + heads);
    int kv = c.integer("num_key_value_heads", heads);
    int headDim = c.integer("head_dim", hidden / heads);
    String act = c.string("hidden_act", "silu");
    if (!act.equals("silu")) throw c.error("hidden_act", "is '" + act + "'; the decoder's MLP is SwiGLU (silu)");
    if (c.bool("attention_bias", false) || c.bool("mlp_bias", false))
      throw c.error("attention_bias/mlp_bias are true; the decoder has no o_proj or MLP biases");
    if (kv <= 0) throw c.error("num_key_value_heads", "must be > 0, got " + kv);
    try {
      return new TextConfig(c.integer("vocab_size", VOCAB), hidden, c.integer("intermediate_size", INTERMEDIATE),
          c.integer("num_hidden_layers", LAYERS), heads, kv, headDim, c.number("rms_norm_eps", RMS_EPS), ropeTheta(c),
          c.integer("max_position_embeddings", MAX_POSITIONS), c.bool("tie_word_embeddings", false));
    } catch (IllegalArgumentException e) {
      if (e.getMessage().startsWith(c.where)) throw e;
      throw c.error(e.getMessage());
    }
  }

  /** {@code rope_theta} (older configs) or {@code rope_parameters.rope_theta} (newer); scaled RoPE is refused. */
  private static double ropeTheta(ConfigJson c) {
    double theta = c.number("rope_theta", ROPE_THETA);
    if (c.has("rope_parameters")) {
      ConfigJson p = c.object("rope_parameters");
      theta = p.number("rope_theta", theta);
      checkRopeType(p, "rope_type");
    }
    if (c.has("rope_scaling")) checkRopeType(c.object("rope_scaling"), "type");
    return theta;
  }

  private static void checkRopeType(ConfigJson p, String oldKey) {
    String type = p.string("rope_type", p.string(oldKey, "default"));
    if (!type.equals("default"))
      throw p.error("rope_type", "is '" + type + "'; the decoder implements only unscaled RoPE ('default')");
  }

  /** The keys of {@code text_config} as the Hub writes them: those equal to LlamaConfig's defaults left out. */
  void write(ObjectNode t) {
    t.put("model_type", "llama");
    t.putArray("architectures").add("LlamaForCausalLM");
    if (hidden != HIDDEN) t.put("hidden_size", hidden);
    if (intermediate != INTERMEDIATE) t.put("intermediate_size", intermediate);
    if (layers != LAYERS) t.put("num_hidden_layers", layers);
    if (heads != HEADS) t.put("num_attention_heads", heads);
    if (kvHeads != heads) t.put("num_key_value_heads", kvHeads);
    if (headDim != hidden / heads) t.put("head_dim", headDim);
    if (maxPositions != MAX_POSITIONS) t.put("max_position_embeddings", maxPositions);
    if (rmsEps != RMS_EPS) t.put("rms_norm_eps", rmsEps);
    if (ropeTheta != ROPE_THETA) t.put("rope_theta", ropeTheta);
    if (tieWordEmbeddings) t.put("tie_word_embeddings", true);
    if (vocab != VOCAB) t.put("vocab_size", vocab);
  }
}
