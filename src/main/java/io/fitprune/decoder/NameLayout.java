package io.fitprune.decoder;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Where a LLaMA-family language model's tensors sit in a checkpoint: {@code base} precedes
 * {@code layers.{i}...}, {@code norm.weight} and {@code embed_tokens.weight}; {@code lmHead} is
 * the LM head's full name. Three layouts exist in the wild and are detected from the names:
 * plain LLaMA ({@code model.layers...}, {@code lm_head.weight}), llava-hf
 * ({@code language_model.model.layers...}, {@code language_model.lm_head.weight}) and the newer
 * multimodal one ({@code model.language_model.layers...} with a top-level {@code lm_head.weight}).
 * Everything else in the checkpoint (vision tower, projector) lies outside and is ignored.
 */
public record NameLayout(String base, String lmHead) {
  private static final String PROBE = "layers.0.self_attn.q_proj.weight";

  /** The classic layout behind a name prefix: {@code prefix + "model.layers..."}, {@code prefix + "lm_head.weight"}. */
  public static NameLayout ofPrefix(String prefix) {
    String p = prefix == null ? "" : prefix;
    return new NameLayout(p + "model.", p + "lm_head.weight");
  }

  /** Detects the layout from a checkpoint's tensor names; the message names {@code where} when none or several fit. */
  public static NameLayout detect(Set<String> names, Object where) {
    Set<String> bases = new TreeSet<>();
    // A LLaVA checkpoint's CLIP tower has layers.0.self_attn.q_proj too; its MLP (fc1/fc2) tells it apart.
    for (String n : names)
      if (n.endsWith(PROBE)) {
        String base = n.substring(0, n.length() - PROBE.length());
        if (!names.contains(base + "layers.0.mlp.fc1.weight")) bases.add(base);
      }
    if (bases.isEmpty())
      throw new IllegalArgumentException("weights: " + where + " holds no decoder layers (no tensor named '..."
          + PROBE + "')");
    if (bases.size() > 1)
      throw new IllegalArgumentException("weights: " + where + " holds several decoders (" + bases
          + "): give the name prefix");
    String base = bases.iterator().next();
    List<String> heads = new ArrayList<>();
    if (base.equals("model.") || base.endsWith(".model.")) heads.add(base.substring(0, base.length() - "model.".length()) + "lm_head.weight");
    heads.add("lm_head.weight");
    for (String h : heads) if (names.contains(h)) return new NameLayout(base, h);
    return new NameLayout(base, heads.get(0)); // the loader reports the missing LM head by this name
  }

  public String layer(int l, String part) {
    return base + "layers." + l + "." + part;
  }

  public String norm() {
    return base + "norm.weight";
  }

  public String embed() {
    return base + "embed_tokens.weight";
  }

  /** Whether a tensor belongs to the language model (and so must be one the decoder uses). */
  public boolean inside(String name) {
    return name.startsWith(base) || name.equals(lmHead);
  }
}
