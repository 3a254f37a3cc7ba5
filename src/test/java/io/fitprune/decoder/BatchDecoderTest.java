package io.fitprune.decoder;

import static io.fitprune.decoder.DecoderTest.CFG;
import static io.fitprune.decoder.DecoderTest.embeds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.kernels.Spans;
import io.fitprune.pruning.Pruner;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A ragged batch through the reference decoder: requests of different lengths, spans and recipes
 * (unpruned, about 30%, about 70%; n = 1, V = 0 and no text rows among them) prefilled together
 * and decoded together give what each gives alone.
 */
class BatchDecoderTest {
  record Req(int n, int prefix, int visual, int[] prune) {
    Spans spans() {
      return new Spans(prefix, visual);
    }

    Pruner pruner() {
      return prune == null ? Pruner.none() : Pruner.fitprune(prune, visual);
    }
  }

  static final Req[] REQS = {
    new Req(20, 3, 12, null),                // unpruned
    new Req(1, 0, 0, null),                  // one token, no visual tokens
    new Req(23, 4, 10, new int[] {0, 3, 0}), // 30%
    new Req(16, 2, 14, new int[] {0, 6, 4}), // 70%, no text rows
    new Req(9, 0, 0, null),                  // text only
  };

  /** Relative L2 difference of two float vectors. */
  static double rel(float[] want, float[] got) {
    assertEquals(want.length, got.length);
    double num = 0, den = 0;
    for (int i = 0; i < want.length; i++) {
      num += (double) (want[i] - got[i]) * (want[i] - got[i]);
      den += (double) want[i] * want[i];
    }
    return Math.sqrt(num / Math.max(den, 1e-30));
  }

  @Test
  void batchedPrefillAndDecodeEqualEachRequestAlone() {
    Decoder dec = DecoderTest.decoder(21);
    BatchDecoder batch = new BatchDecoder(dec);
    int steps = 4;
    List<BatchDecoder.Request> requests = new ArrayList<>();
    List<float[]> inputs = new ArrayList<>();
    for (int b = 0; b < REQS.length; b++) {
      float[] e = embeds(100 + b, REQS[b].n(), CFG.hidden());
      inputs.add(e);
      requests.add(new BatchDecoder.Request(Tensors.of(e, REQS[b].n(), CFG.hidden()), REQS[b].spans(), REQS[b].pruner()));
    }
    List<Decoder.Prefill> together = batch.prefill(requests, steps);
    List<DecoderState> states = new ArrayList<>();
    for (Decoder.Prefill p : together) states.add(p.state());
    List<Decoder.Prefill> alone = new ArrayList<>();
    for (int b = 0; b < REQS.length; b++) {
      Decoder.Prefill a = dec.prefill(inputs.get(b), REQS[b].spans(), REQS[b].pruner(), steps);
      alone.add(a);
      Decoder.Prefill t = together.get(b);
      String who = "request " + b;
      assertEquals(a.nextToken(), t.nextToken(), who);
      assertArrayEquals(a.visualAfter(), t.visualAfter(), who + " visual tokens per layer");
      assertArrayEquals(a.state().kvLengths(), t.state().kvLengths(), who + " K/V lengths");
      assertArrayEquals(a.state().visualIds(), t.state().visualIds(), who + " survivors");
      assertArrayEquals(a.state().positions(), t.state().positions(), who + " positions");
      assertTrue(rel(a.state().hidden(), t.state().hidden()) <= 1e-6, who + " residual stream");
      assertTrue(rel(a.lastHidden(), t.lastHidden()) <= 1e-6, who + " last hidden");
    }
    // the recipes did what they say: 3 of 10 and 10 of 14 visual tokens gone
    assertArrayEquals(new int[] {10, 7, 7}, together.get(2).visualAfter());
    assertArrayEquals(new int[] {14, 8, 4}, together.get(3).visualAfter());

    // decode: one batched step per token against ragged per-layer caches = each request's own step
    int[] tokens = new int[REQS.length];
    for (int b = 0; b < REQS.length; b++) tokens[b] = together.get(b).nextToken();
    for (int i = 0; i < steps - 1; i++) {
      Decoder.Step[] st = batch.step(states, tokens);
      for (int b = 0; b < REQS.length; b++) {
        Decoder.Step one = dec.step(alone.get(b).state(), tokens[b]);
        assertEquals(one.nextToken(), st[b].nextToken(), "request " + b + " step " + i);
        assertTrue(rel(one.hidden(), st[b].hidden()) <= 1e-6, "request " + b + " step " + i + " hidden");
        assertArrayEquals(alone.get(b).state().kvLengths(), states.get(b).kvLengths());
        tokens[b] = st[b].nextToken();
      }
    }
    for (Decoder.Prefill p : together) p.close();
    for (Decoder.Prefill p : alone) p.close();
  }

  @Test
  void generateMatchesEachRequestsGenerate() {
    Decoder dec = DecoderTest.decoder(22);
    BatchDecoder batch = new BatchDecoder(dec);
    List<BatchDecoder.Request> requests = new ArrayList<>();
    int[][] want = new int[REQS.length][];
    for (int b = 0; b < REQS.length; b++) {
      float[] e = embeds(200 + b, REQS[b].n(), CFG.hidden());
      requests.add(new BatchDecoder.Request(Tensors.of(e, REQS[b].n(), CFG.hidden()), REQS[b].spans(), REQS[b].pruner()));
      try (Decoder.Prefill p = dec.prefill(e, REQS[b].spans(), REQS[b].pruner(), 5)) {
        want[b] = dec.generate(p, 5);
      }
    }
    List<Decoder.Prefill> together = batch.prefill(requests, 5);
    int[][] got = batch.generate(together, 5);
    for (int b = 0; b < REQS.length; b++) assertArrayEquals(want[b], got[b], "request " + b);
    for (Decoder.Prefill p : together) p.close();
  }

  @Test
  void refusesBadRequestsNamingThem() {
    Decoder dec = DecoderTest.decoder(23);
    BatchDecoder batch = new BatchDecoder(dec);
    float[] e = embeds(1, 20, CFG.hidden());
    var ok = new BatchDecoder.Request(Tensors.of(e, 20, CFG.hidden()), new Spans(3, 12), null);
    var tooLong = new BatchDecoder.Request(Tensors.of(e, 20, CFG.hidden()), new Spans(10, 12), null);
    var wrongLayers = new BatchDecoder.Request(Tensors.of(e, 20, CFG.hidden()), new Spans(3, 12),
        Pruner.fitprune(new int[] {1, 1}, 12));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> batch.prefill(List.of(ok, tooLong), 1))
        .getMessage().startsWith("requests[1]"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> batch.prefill(List.of(wrongLayers, ok), 1))
        .getMessage().startsWith("requests[0]"));
    assertThrows(IllegalArgumentException.class, () -> batch.prefill(List.of(), 1));
    List<Decoder.Prefill> p = batch.prefill(List.of(ok), -1);
    assertThrows(IllegalStateException.class, () -> batch.step(List.of(p.get(0).state()), new int[] {1}));
    p.get(0).close();
  }
}
