package io.fitprune.vision;

import io.fitprune.decoder.Dense;
import io.fitprune.decoder.Temps;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * transformers' {@code CLIPEncoderLayer}: pre-norm, bidirectional multi-head self-attention with
 * biases on q/k/v/out and scale {@code head_dim^-0.5}, then the MLP {@code fc2(act(fc1(x)))}, each
 * added to the residual stream. The stream is float32; the dense layers run in the weights'
 * precision ({@link Dense}), attention is libtorch's {@code scaled_dot_product_attention} on q/k/v
 * of that type (fp32 softmax and accumulation inside), the activation is float32.
 */
record ClipEncoderLayer(LayerNorm norm1, Tensor q, Tensor qBias, Tensor k, Tensor kBias, Tensor v, Tensor vBias,
    Tensor out, Tensor outBias, LayerNorm norm2, Tensor fc1, Tensor fc1Bias, Tensor fc2, Tensor fc2Bias,
    Activation act) {

  /** Runs the layer on {@code x [B, N, D]} float32 (contiguous), in place. */
  void apply(Tensor x, int heads) {
    long b = x.size(0), n = x.size(1), d = x.size(2), hd = d / heads;
    try (Temps tp = new Temps()) {
      Tensor h = tp.add(norm1.apply(x));
      Tensor qh = heads(tp, Dense.linear(h, q, qBias), b, n, heads, hd);
      Tensor kh = heads(tp, Dense.linear(h, k, kBias), b, n, heads, hd);
      Tensor vh = heads(tp, Dense.linear(h, v, vBias), b, n, heads, hd);
      Tensor o = tp.add(torch.scaled_dot_product_attention(qh, kh, vh)); // [B, H, N, hd]; not causal, scale hd^-0.5
      Tensor rows = tp.add(tp.add(o.transpose(1, 2)).reshape(b, n, d));
      x.add_(tp.add(Dense.linear(rows, out, outBias)));
      Tensor h2 = tp.add(norm2.apply(x));
      Tensor a = tp.add(act.apply(tp.add(Dense.linear(h2, fc1, fc1Bias))));
      x.add_(tp.add(Dense.linear(a, fc2, fc2Bias)));
    }
  }

  /** {@code [B, N, D]} as {@code [B, H, N, hd]} (a strided view). */
  private static Tensor heads(Temps tp, Tensor t, long b, long n, int heads, long hd) {
    tp.add(t);
    return tp.add(tp.add(t.view(b, n, heads, hd)).transpose(1, 2));
  }
}
