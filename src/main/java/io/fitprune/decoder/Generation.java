package io.fitprune.decoder;

import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * Greedy decoding after a prefill: each new token goes through every layer once, attending over
 * that layer's own K/V cache (the pruning layer's holds all tokens it saw, later layers' the
 * survivors) at the sequence's next position id, through the decode-attention kernel
 * ({@link BatchDecoder#step}, a batch of one).
 */
final class Generation {
  private final BatchDecoder batch;

  Generation(Decoder dec) {
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

  Decoder.Step step(DecoderState s, int token) {
    return batch.step(List.of(s), new int[] {token})[0];
  }

  /** One state's step: the batched step with a batch of one (the decode kernel, not a private attention). */
  Decoder.Step step(DecoderState s, Tensor x) {
    return batch.step(List.of(s), x)[0];
  }
}
