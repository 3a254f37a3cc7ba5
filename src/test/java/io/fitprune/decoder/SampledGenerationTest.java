package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.kernels.Spans;
import io.fitprune.pruning.Pruner;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Decoding with a Sampler choosing from the logits: greedy is the old greedy decode, seeds repeat, the callback stops it. */
class SampledGenerationTest {
  static final int P = DecoderTest.P, V = DecoderTest.V, N = DecoderTest.N;

  Decoder.Prefill prefill(Decoder dec, long seed, int reserve) {
    return dec.prefill(DecoderTest.embeds(seed, N, DecoderTest.CFG.hidden()), new Spans(P, V),
        Pruner.fitprune(new int[] {0, 4, 3}, V), reserve);
  }

  @Test
  void greedySamplerGivesTheGreedyDecodeAndTheLogitsAgreeWithIt() {
    Decoder dec = DecoderTest.decoder(21);
    try (Decoder.Prefill a = prefill(dec, 2, 7); Decoder.Prefill b = prefill(dec, 2, 7)) {
      assertEquals(a.nextToken(), Decoder.argmax(java.nio.FloatBuffer.wrap(a.logits()), 0, a.logits().length));
      assertEquals(DecoderTest.CFG.vocab(), a.logits().length);
      int[] old = dec.generate(a, 7);
      List<Integer> seen = new ArrayList<>();
      int[] sampled = dec.generate(b, 7, Sampler.greedy(), t -> seen.add(t));
      assertArrayEquals(old, sampled);
      assertEquals(7, seen.size());
      assertArrayEquals(a.state().hidden(), b.state().hidden());
    }
  }

  @Test
  void aNucleusOfOneTokenIsGreedyAndASeedRepeats() {
    Decoder dec = DecoderTest.decoder(22);
    int[] greedy, narrow, s1, s2, s3;
    try (Decoder.Prefill p = prefill(dec, 3, 8)) {
      greedy = dec.generate(p, 8);
    }
    try (Decoder.Prefill p = prefill(dec, 3, 8)) {
      narrow = dec.generate(p, 8, Sampler.sampling(1.0, 1e-9, 5), t -> true);
    }
    assertArrayEquals(greedy, narrow, "top-p keeps the most probable token only");
    try (Decoder.Prefill p = prefill(dec, 3, 8)) {
      s1 = dec.generate(p, 8, Sampler.sampling(5.0, 1.0, 42), t -> true);
    }
    try (Decoder.Prefill p = prefill(dec, 3, 8)) {
      s2 = dec.generate(p, 8, Sampler.sampling(5.0, 1.0, 42), t -> true);
    }
    assertArrayEquals(s1, s2, "the same seed repeats");
    try (Decoder.Prefill p = prefill(dec, 3, 8)) {
      s3 = dec.generate(p, 8, Sampler.sampling(5.0, 1.0, 43), t -> true);
    }
    // at temperature 5 over 37 tokens, eight draws agreeing by chance is (about 1/37)^8 away
    assertFalse(java.util.Arrays.equals(s1, s3), "another seed draws other tokens");
  }

  @Test
  void theCallbackEndsDecodingAtItsToken() {
    Decoder dec = DecoderTest.decoder(23);
    try (Decoder.Prefill p = prefill(dec, 4, 9)) {
      int[] got = dec.generate(p, 9, Sampler.greedy(), new java.util.function.IntPredicate() {
        int n;

        @Override
        public boolean test(int t) {
          return ++n < 3;
        }
      });
      assertEquals(3, got.length);
      assertEquals(N + 2, p.state().kvLengths()[0], "two tokens fed back; the last is not");
    }
    try (Decoder.Prefill p = prefill(dec, 4, 1)) {
      assertEquals(0, dec.generate(p, 0, Sampler.greedy(), t -> true).length);
      assertThrows(IllegalArgumentException.class, () -> dec.generate(p, -1, Sampler.greedy(), t -> true));
      assertThrows(IllegalArgumentException.class, () -> dec.generate(p, 1, null, t -> true));
    }
  }
}
