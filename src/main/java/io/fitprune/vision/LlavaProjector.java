package io.fitprune.vision;

import io.fitprune.decoder.Dense;
import io.fitprune.decoder.Temps;
import org.bytedeco.pytorch.Tensor;

/**
 * transformers' {@code LlavaMultiModalProjector}: {@code linear_2(act(linear_1(x)))}, biases
 * optional ({@code multimodal_projector_bias}). Dense layers in the weights' precision
 * ({@link Dense}), the activation in float32.
 *
 * @param linear1 [textHidden, visionHidden]
 * @param linear2 [textHidden, textHidden]
 */
record LlavaProjector(Tensor linear1, Tensor bias1, Tensor linear2, Tensor bias2, Activation act) {
  /** {@code x [..., visionHidden]} (any float type) to a new float32 tensor {@code [..., textHidden]}. */
  Tensor apply(Tensor x) {
    try (Temps tp = new Temps()) {
      Tensor a = tp.add(act.apply(tp.add(Dense.linear(x, linear1, bias1))));
      return Dense.linearFloat(a, linear2, bias2);
    }
  }
}
