package io.fitprune.vision;

import io.fitprune.decoder.Temps;
import io.fitprune.decoder.Tensors;
import org.bytedeco.pytorch.Tensor;

/**
 * LLaVA's image features (transformers' {@code LlavaModel.get_image_features}): the vision tower's
 * hidden state that {@code vision_feature_layer} names, the CLS row dropped under the
 * {@code default} strategy, then the projector. The result is float32, ready to be spliced into
 * the language model's input embeddings.
 */
public final class LlavaImageEncoder {
  private final VisionWeights w;
  private final ClipVisionTower tower;
  private final int state;

  public LlavaImageEncoder(VisionWeights weights) {
    this.tower = new ClipVisionTower(weights);
    this.w = weights;
    this.state = weights.projectorConfig().stateIndex(weights.towerConfig().layers());
  }

  /** Visual tokens per image: the patches, plus the CLS row under the {@code full} strategy. */
  public int visualTokens() {
    ClipVisionConfig c = w.towerConfig();
    return w.projectorConfig().dropsCls() ? c.patches() : c.positions();
  }

  /** Width of each visual token: the language model's hidden size. */
  public int textHidden() {
    return w.projectorConfig().textHidden();
  }

  /**
   * FLOPs (two per multiply-add) of one image's features: the patch product, the layers up to
   * the selected state (q/k/v/out projections, bidirectional attention's {@code QK^T} and
   * {@code PV} over all position pairs, the MLP) and the projector on the selected rows.
   * Element-wise work (norms, activations, softmax) is not counted.
   */
  public double flopsPerImage() {
    return flops(w.towerConfig(), w.projectorConfig());
  }

  /** {@link #flopsPerImage} of a tower and projector of these configurations. */
  public static double flops(ClipVisionConfig c, ProjectorConfig pc) {
    VisionWeights.checkPair(c, pc);
    double n = c.positions(), d = c.hiddenSize(), f = c.intermediateSize(), t = pc.textHidden();
    double v = pc.dropsCls() ? c.patches() : c.positions();
    double patch = 2 * (double) c.patches() * d * c.channels() * c.patchSize() * c.patchSize();
    double layer = 2 * n * d * d * 4 + 4 * n * n * d + 2 * n * d * f * 2;
    return patch + pc.stateIndex(c.layers()) * layer + 2 * v * t * (d + t);
  }

  public ClipVisionTower tower() {
    return tower;
  }

  /** {@code pixelValues [B, C, S, S]} float32 to a new float32 tensor {@code [B, visualTokens, textHidden]}. */
  public Tensor encode(Tensor pixelValues) {
    try (Temps tp = new Temps()) {
      Tensor h = tp.add(tower.hiddenState(pixelValues, state));
      Tensor sel = w.projectorConfig().dropsCls() ? tp.add(h.narrow(1, 1, h.size(1) - 1)) : h;
      return w.proj.apply(sel);
    }
  }

  /** As {@link #encode(Tensor)} for {@code images} images in a flat array; returns {@code [images, visual, textHidden]} flat. */
  public float[] encode(float[] pixelValues, int images) {
    ClipVisionConfig c = w.towerConfig();
    long per = (long) c.channels() * c.imageSize() * c.imageSize();
    if (pixelValues == null) throw new IllegalArgumentException("pixel_values is null");
    if (images < 0 || pixelValues.length != per * images)
      throw new IllegalArgumentException("pixel_values: expected " + images + " x " + per + " floats ([" + images + ", "
          + c.channels() + ", " + c.imageSize() + ", " + c.imageSize() + "]), got " + pixelValues.length);
    if (images == 0) return new float[0];
    try (Tensor px = Tensors.of(pixelValues, images, c.channels(), c.imageSize(), c.imageSize()); Tensor y = encode(px)) {
      return Tensors.toArray(y);
    }
  }
}
