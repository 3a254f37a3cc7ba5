package io.fitprune.vision.qwen;

import io.fitprune.decoder.RmsNorm;
import io.fitprune.vision.LayerNorm;
import org.bytedeco.pytorch.Tensor;

/**
 * The blocks' and merger's norm, float32 in and out (the residual stream's type): Qwen2-VL's
 * {@code LayerNorm(eps=1e-6)} when there is a bias, Qwen2.5-VL's {@code Qwen2RMSNorm(eps=1e-6)}
 * when there is none. Weight and bias float32.
 */
record VisionNorm(Tensor weight, Tensor bias) {
  /** Both towers hard-code this epsilon. */
  static final double EPS = 1e-6;

  /** {@code x [rows, D]} float32 contiguous to a new float32 tensor. */
  Tensor apply(Tensor x) {
    if (bias != null) return new LayerNorm(weight, bias, EPS).apply(x);
    return RmsNorm.apply(x, weight, (int) weight.size(0), EPS);
  }
}
