package io.fitprune.vision;

import io.fitprune.decoder.Dense;
import io.fitprune.decoder.Temps;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * transformers' {@code CLIPEncoderLayer}: pre-norm, bidirectional multi-head self-attention with
 * biases on q/k/v/out and scale {@code head_dim^-0.5}, then the MLP {@code fc2(act(fc1(x)))}, each
 * added to the residual stream. The stream is float32; the dense layers run in the weights'
 * precision ({@link Dense}), attention runs on the library's kernels ({@link BidirectionalAttention})
 * on q/k/v of that type (fp32 softmax, accumulation and output), the activation is float32.
 */
record ClipEncoderLayer(LayerNorm norm1, Tensor q, Tensor qBias, Tensor k, Tensor kBias, Tensor v, Tensor vBias,
    Tensor out, Tensor outBias, LayerNorm norm2, Tensor fc1, Tensor fc1Bias, Tensor fc2, Tensor fc2Bias,
    Activation act) {

  /** Runs the layer on {@code x [B, N, D]} float32 (contiguous), in place. */
  void apply(Tensor x, int heads) {
    long b = x.size(0), n = x.size(1), d = x.size(2);
    try (Temps tp = new Temps()) {
      Tensor h = tp.add(norm1.apply(x));
      Tensor qa = tp.add(Dense.linear(h, q, qBias)), ka = tp.add(Dense.linear(h, k, kBias));
      Tensor va = tp.add(Dense.linear(h, v, vBias));
      Tensor o = tp.add(torch.empty(b, n, d));
      for (long i = 0; i < b; i++) // one image at a time: attention never mixes images
        BidirectionalAttention.apply(tp.add(qa.select(0, i)), tp.add(ka.select(0, i)), tp.add(va.select(0, i)), heads,
            tp.add(o.select(0, i)));
      x.add_(tp.add(Dense.linear(o, out, outBias)));
      Tensor h2 = tp.add(norm2.apply(x));
      Tensor a = tp.add(act.apply(tp.add(Dense.linear(h2, fc1, fc1Bias))));
      x.add_(tp.add(Dense.linear(a, fc2, fc2Bias)));
    }
  }
}
