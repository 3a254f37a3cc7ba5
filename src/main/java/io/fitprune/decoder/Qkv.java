package io.fitprune.decoder;

import org.bytedeco.pytorch.Tensor;

/**
 * The start of a layer on the float32 paths (decode steps and the batched prefill): input norm,
 * q, k, v projections in float32, and RoPE of q and k at the rows' original position ids.
 */
record Qkv(Tensor q, Tensor k, Tensor v) {
  /** q {@code [rows, H*d]}, k and v {@code [rows, G*d]} of rows {@code x} at positions {@code pos}; the tensors belong to tp. */
  static Qkv of(Decoder dec, Temps tp, Tensor x, DecoderWeights.Layer lw, int[] pos) {
    DecoderConfig c = dec.config();
    Tensor h = tp.add(dec.rmsNorm(x, lw.inputNorm()));
    Tensor q = tp.add(Dense.linearFloat(h, lw.q(), lw.qBias())), k = tp.add(Dense.linearFloat(h, lw.k(), lw.kBias()));
    Tensor v = tp.add(Dense.linearFloat(h, lw.v(), lw.vBias()));
    dec.rope().apply(q, pos, c.heads());
    dec.rope().apply(k, pos, c.kvHeads());
    return new Qkv(q, k, v);
  }
}
