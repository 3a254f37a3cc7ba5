package io.fitprune.vision.qwen;

import io.fitprune.decoder.Dense;
import io.fitprune.decoder.Temps;
import io.fitprune.vision.Activation;
import org.bytedeco.pytorch.Tensor;

/**
 * transformers' {@code PatchMerger} / {@code Qwen2_5_VLPatchMerger}: {@code ln_q} on each patch,
 * then each run of {@code spatial_merge_size^2} consecutive rows (one 2x2 neighbourhood in the
 * processor's order) concatenated and passed through {@code Linear, GELU (exact), Linear}.
 *
 * @param fc1 {@code mlp.0}, {@code [merged, merged]}
 * @param fc2 {@code mlp.2}, {@code [out_hidden, merged]}
 */
record PatchMerger(VisionNorm norm, Tensor fc1, Tensor fc1Bias, Tensor fc2, Tensor fc2Bias) {
  /** {@code x [rows, D]} float32 to a new float32 tensor {@code [rows / unit, out_hidden]}. */
  Tensor apply(Tensor x, int unit) {
    long rows = x.size(0), d = x.size(1);
    try (Temps tp = new Temps()) {
      Tensor h = tp.add(tp.add(norm.apply(x)).view(rows / unit, d * unit));
      Tensor a = tp.add(Activation.GELU.apply(tp.add(Dense.linear(h, fc1, fc1Bias))));
      return Dense.linearFloat(a, fc2, fc2Bias);
    }
  }
}
