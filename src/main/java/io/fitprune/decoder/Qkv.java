package io.fitprune.decoder;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The start of a layer on every path (prefill, a single sequence being a batch of one, and the libtorch decode step): input
 * norm, q, k, v projections in the dense layers' type (float32 for F32 weights, bf16 for BF16 and
 * F16 weights; q's weight decides), and RoPE of q and k at the rows'
 * original position ids.
 */
record Qkv(Tensor q, Tensor k, Tensor v) {
  /** q {@code [rows, H*d]}, k and v {@code [rows, G*d]} of rows {@code x} at positions {@code pos}; the tensors belong to tp. */
  static Qkv of(Decoder dec, Temps tp, Tensor x, DecoderWeights.Layer lw, int[] pos) {
    return of(dec, tp, x, lw, pos, 1, null);
  }

  /**
   * As {@link #of(Decoder, Temps, Tensor, DecoderWeights.Layer, int[])} with {@code components}
   * position ids per row (row-major; 3 for M-RoPE), adding the phases' times to {@code pf} unless null.
   */
  static Qkv of(Decoder dec, Temps tp, Tensor x, DecoderWeights.Layer lw, int[] pos, int components, Profile pf) {
    DecoderConfig c = dec.config();
    long t = System.nanoTime();
    Tensor h = tp.add(dec.rmsNorm(x, lw.inputNorm()));
    if (pf != null) pf.add(Profile.NORM, t);
    t = System.nanoTime();
    // All three in q's type, the caches' type too: the attention kernels take one
    // element type, and a checkpoint may store k/v in another type than q.
    torch.ScalarType ct = Dense.computeType(lw.q());
    Tensor q = tp.add(Dense.linear(h, lw.q(), lw.qBias(), ct)), k = tp.add(Dense.linear(h, lw.k(), lw.kBias(), ct));
    Tensor v = tp.add(Dense.linear(h, lw.v(), lw.vBias(), ct));
    if (pf != null) pf.add(Profile.QKV, t);
    t = System.nanoTime();
    dec.rope().apply(q, pos, components, c.heads());
    dec.rope().apply(k, pos, components, c.kvHeads());
    if (pf != null) pf.add(Profile.ROPE, t);
    return new Qkv(q, k, v);
  }
}
