package io.fitprune.decoder;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Greedy decoding after a prefill: each new token goes through every layer once, attending over
 * that layer's own K/V cache (the pruning layer's holds all tokens it saw, later layers' the
 * survivors) at the sequence's next position id. Decoding attends one query row, so plain
 * libtorch {@code bmm}/{@code softmax} does it; the kernels are for prefill.
 */
final class Generation {
  private final Decoder dec;

  Generation(Decoder dec) {
    this.dec = dec;
  }

  int[] generate(Decoder.Prefill p, int count) {
    if (count < 0) throw new IllegalArgumentException("generate: count must be >= 0, got " + count);
    int[] out = new int[count];
    if (count == 0) return out;
    out[0] = p.nextToken();
    for (int i = 1; i < count; i++) out[i] = step(p.state(), out[i - 1]).nextToken();
    return out;
  }

  Decoder.Step step(DecoderState s, int token) {
    DecoderConfig c = dec.config();
    Tensor emb = dec.weights().embed();
    if (emb == null) throw new IllegalStateException("decoding needs model.embed_tokens.weight, which the weights lack");
    if (token < 0 || token >= c.vocab())
      throw new IllegalArgumentException("token " + token + " outside the vocabulary [0, " + c.vocab() + ")");
    try (Temps tp = new Temps()) {
      return step(s, tp.add(emb.narrow(0, token, 1)));
    }
  }

  Decoder.Step step(DecoderState s, Tensor x) {
    DecoderConfig c = dec.config();
    DecoderWeights w = dec.weights();
    s.requireRoomForToken(c.layers());
    int H = c.heads(), G = c.kvHeads(), d = c.headDim(), D = c.hidden(), grp = H / G;
    int[] posArr = {s.seq.appendToken()};
    try (Temps tp = new Temps()) {
      x = tp.add(x.to(torch.ScalarType.Float, false, true, new org.bytedeco.pytorch.MemoryFormatOptional(torch.MemoryFormat.Contiguous))); // own float32 copy
      for (int l = 0; l < c.layers(); l++) {
        int len = s.seq.kvLength(l); // including the new token, at row len - 1
        DecoderWeights.Layer lw = w.layer(l);
        Qkv qkv = Qkv.of(dec, tp, x, lw, posArr);
        Tensor q = qkv.q(), k = qkv.k(), v = qkv.v();
        tp.add(s.kCache[l].narrow(0, len - 1, 1)).copy_(tp.add(k.view(1, G, d)));
        tp.add(s.vCache[l].narrow(0, len - 1, 1)).copy_(tp.add(v.view(1, G, d)));
        // bf16 caches are read as float32: one token's attention is small, and its softmax stays float32
        Tensor kk = tp.add(tp.add(tp.add(s.kCache[l].narrow(0, 0, len)).to(torch.ScalarType.Float)).permute(1, 2, 0)); // [G, d, len]
        Tensor vv = tp.add(tp.add(tp.add(s.vCache[l].narrow(0, 0, len)).to(torch.ScalarType.Float)).permute(1, 0, 2)); // [G, len, d]
        Tensor qq = tp.add(q.view(G, grp, d));
        Tensor logits = tp.add(torch.bmm(qq, kk));
        logits.mul_(new Scalar((float) (1 / Math.sqrt(d))));
        Tensor att = tp.add(torch.softmax(logits, -1));
        Tensor o = tp.add(tp.add(torch.bmm(att, vv)).reshape(1, D));
        x.add_(tp.add(Dense.linear(o, lw.o(), null)));
        dec.mlp(x, lw);
      }
      Tensor last = tp.add(dec.rmsNorm(x, w.finalNorm()));
      return new Decoder.Step(Decoder.argmax(tp.add(Dense.linearFloat(last, w.lmHead(), null))), Decoder.toArray(last));
    }
  }
}
