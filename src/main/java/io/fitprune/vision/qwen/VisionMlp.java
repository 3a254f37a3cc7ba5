package io.fitprune.vision.qwen;

import io.fitprune.decoder.Dense;
import io.fitprune.decoder.Temps;
import io.fitprune.vision.Activation;
import org.bytedeco.pytorch.Tensor;

/**
 * A block's MLP with biases: Qwen2-VL's {@code VisionMlp}, {@code fc2(act(fc1(x)))} ({@code up}
 * null), or Qwen2.5-VL's {@code Qwen2_5_VLMLP}, {@code down(act(gate(x)) * up(x))}. Dense layers in
 * the weights' precision ({@link Dense}), the activation and product in float32.
 *
 * @param in  {@code fc1} or {@code gate_proj}, {@code [F, D]}
 * @param out {@code fc2} or {@code down_proj}, {@code [D, F]}
 */
record VisionMlp(Tensor in, Tensor inBias, Tensor up, Tensor upBias, Tensor out, Tensor outBias, Activation act) {
  /** {@code x [rows, D]} (any float type) to a new tensor {@code [rows, D]} in the dense layers' type. */
  Tensor apply(Tensor x) {
    try (Temps tp = new Temps()) {
      Tensor a = tp.add(act.apply(tp.add(Dense.linear(x, in, inBias))));
      if (up != null) a.mul_(tp.add(Dense.linear(x, up, upBias)));
      return Dense.linear(a, out, outBias);
    }
  }
}
