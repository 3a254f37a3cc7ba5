package io.fitprune.decoder;

import org.bytedeco.pytorch.Tensor;

/**
 * Greedy decoding after a prefill: each new token goes through every layer once, attending over
 * that layer's own K/V cache (the pruning layer's holds all tokens it saw, later layers' the
 * survivors) at the sequence's next position id. A step is the batched decoder's step on a batch
 * of one: the decode attention kernel on the caches in their own type (float32, or bf16 for
 * half-precision weights), so a sequence decodes alone as it does in a batch.
 */
final class Generation {
  private final Decoder dec;
  private final BatchDecoder batch;

  Generation(Decoder dec) {
    this.dec = dec;
    this.batch = new BatchDecoder(dec);
  }

  int[] generate(Decoder.Prefill p, int count) {
    if (count < 0) throw new IllegalArgumentException("generate: count must be >= 0, got " + count);
    int[] out = new int[count];
    if (count == 0) return out;
    out[0] = p.nextToken();
    for (int i = 1; i < count; i++) out[i] = step(p.state(), out[i - 1]).nextToken();
    return out;
  }

  int[] generate(Decoder.Prefill p, int max, Sampler sampler, java.util.function.IntPredicate onToken) {
    if (p == null) throw new IllegalArgumentException("prefill is null");
    if (max < 0) throw new IllegalArgumentException("generate: max must be >= 0, got " + max);
    if (sampler == null) throw new IllegalArgumentException("sampler is null");
    if (onToken == null) throw new IllegalArgumentException("onToken is null");
    int[] out = new int[max];
    int n = 0;
    float[] logits = p.logits();
    while (n < max) {
      int token = sampler.next(logits);
      out[n++] = token;
      if (!onToken.test(token) || n == max) break;
      logits = step(p.state(), token).logits();
    }
    return java.util.Arrays.copyOf(out, n);
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

  /** One row {@code [1, D]}: a batch of one through {@link BatchDecoder#step(java.util.List, Tensor)}. */
  Decoder.Step step(DecoderState s, Tensor x) {
    if (s == null) throw new IllegalArgumentException("state is null");
    return batch.step(java.util.List.of(s), x)[0];
  }
}
