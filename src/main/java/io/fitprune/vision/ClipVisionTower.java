package io.fitprune.vision;

import io.fitprune.decoder.Temps;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * transformers' {@code CLIPVisionTransformer} up to the hidden state LLaVA reads: embeddings, then
 * {@code pre_layrnorm}, then the encoder layers. Hidden state 0 is the normalised embeddings (the
 * first layer's input), state {@code i} the output of layer {@code i}; {@code post_layernorm},
 * which only the pooled CLS output uses, is not applied. Batched over images; the weights are only
 * read, so one tower may serve many threads at once.
 */
public final class ClipVisionTower {
  private final VisionWeights w;
  private final ClipVisionConfig c;

  public ClipVisionTower(VisionWeights weights) {
    if (weights == null) throw new IllegalArgumentException("weights is null");
    this.w = weights;
    this.c = weights.towerConfig();
  }

  public ClipVisionConfig config() {
    return c;
  }

  /**
   * Hidden state {@code index} (0 to layers) of {@code pixelValues [B, C, S, S]} float32, as a new
   * float32 tensor {@code [B, positions, hidden]}; runs only the layers that state needs. B may be 0.
   */
  public Tensor hiddenState(Tensor pixelValues, int index) {
    if (index < 0 || index > c.layers())
      throw new IllegalArgumentException("hidden state index " + index + " is out of range for a tower of " + c.layers()
          + " layers (0 to " + c.layers() + ")");
    try (Temps tp = new Temps()) {
      Tensor px = tp.add(PixelChecks.checked(pixelValues, c));
      if (px.size(0) == 0) return torch.empty(0, c.positions(), c.hiddenSize());
      Tensor e = tp.add(w.embeddings.apply(px, c));
      Tensor x = w.preNorm.apply(e);
      try {
        for (int l = 0; l < index; l++) w.layers.get(l).apply(x, c.heads());
        return x;
      } catch (RuntimeException | Error err) {
        x.close();
        throw err;
      }
    }
  }
}
