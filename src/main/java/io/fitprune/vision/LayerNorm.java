package io.fitprune.vision;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * {@code nn.LayerNorm} over the last dimension: {@code (x - mean) / sqrt(var + eps) * weight + bias}
 * with the biased variance. Weight and bias are float32 (converted at load: D values each), and so
 * are input and output: the tower's residual stream stays float32 whatever the weights' type.
 */
public record LayerNorm(Tensor weight, Tensor bias, double eps) {
  /** A new float32 tensor of x's shape. */
  public Tensor apply(Tensor x) {
    long width = weight.size(0);
    try (TensorOptional w = new TensorOptional(weight); TensorOptional b = new TensorOptional(bias)) {
      return torch.layer_norm(x, new long[] {width}, w, b, eps, false);
    }
  }
}
