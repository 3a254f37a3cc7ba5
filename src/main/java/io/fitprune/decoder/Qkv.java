package io.fitprune.decoder;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The start of a layer on the batched paths (the batched prefill and every decode step): input
 * norm, q, k, v projections in the dense layers' type (float32 for F32 weights, bf16 for BF16 and
 * F16 weights; q's weight decides, as in {@link Decoder#attend}), and RoPE of q and k at the rows'
 * original position ids.
 */
record Qkv(Tensor q, Tensor k, Tensor v) {
  /** q {@code [rows, H*d]}, k and v {@code [rows, G*d]} of rows {@code x} at positions {@code pos}; the tensors belong to tp. */
  static Qkv of(Decoder dec, Temps tp, Tensor x, DecoderWeights.Layer lw, int[] pos) {
    DecoderConfig c = dec.config();
    Tensor h = tp.add(dec.rmsNorm(x, lw.inputNorm()));
    // All three in q's type, as Decoder#attend sizes its caches: the attention kernels take one
    // element type, and a checkpoint may store k/v in another type than q.
    torch.ScalarType ct = Dense.computeType(lw.q());
    Tensor q = tp.add(Dense.linear(h, lw.q(), lw.qBias(), ct)), k = tp.add(Dense.linear(h, lw.k(), lw.kBias(), ct));
    Tensor v = tp.add(Dense.linear(h, lw.v(), lw.vBias(), ct));
    dec.rope().apply(q, pos, c.heads());
    dec.rope().apply(k, pos, c.kvHeads());
    return new Qkv(q, k, v);
  }
}
