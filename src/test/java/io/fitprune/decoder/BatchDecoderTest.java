package io.fitprune.decoder;

import static io.fitprune.decoder.DecoderTest.CFG;
import static io.fitprune.decoder.DecoderTest.embeds;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.io.DType;
import io.fitprune.kernels.Spans;
import io.fitprune.pruning.NoTextPolicy;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.VisualCountPolicy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
      if (prune == null) return Pruner.none();
      // no text rows: every cross score is zero, so the request has to choose to rank by self-attention
      NoTextPolicy noText = n == prefix + visual ? NoTextPolicy.SELF_ONLY : NoTextPolicy.REFUSE;
      return Pruner.fitprune(prune, visual, VisualCountPolicy.REFUSE, noText, "fitprune");
    }
  }

  static final Req[] REQS = {
    new Req(20, 3, 12, null),                // unpruned
    new Req(1, 0, 0, null),                  // one token, no visual tokens
    new Req(23, 4, 10, new int[] {0, 3, 0}), // 30%
    new Req(16, 2, 14, new int[] {0, 6, 4}), // 70%, no text rows (self-only)
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

  /**
   * A single prefill is the batched one on a batch of one: the same next token, hidden state and
   * survivors, and the profile it is given records every phase of the shared layer.
   */
  @Test
  void aSinglePrefillIsABatchOfOneAndProfilesEveryPhase() {
    Decoder dec = DecoderTest.decoder(31);
    Req r = REQS[2];
    Profile pf = new Profile();
    try (Decoder.Prefill alone = dec.prefill(Tensors.of(embeds(41, r.n(), CFG.hidden()), r.n(), CFG.hidden()), r.spans(), r.pruner(), 4, pf);
        Decoder.Prefill one = new BatchDecoder(dec).prefill(
            List.of(new BatchDecoder.Request(Tensors.of(embeds(41, r.n(), CFG.hidden()), r.n(), CFG.hidden()), r.spans(), r.pruner())), 4).get(0)) {
      assertEquals(one.nextToken(), alone.nextToken());
      assertArrayEquals(one.lastHidden(), alone.lastHidden());
      assertArrayEquals(one.visualAfter(), alone.visualAfter());
    }
    double[] sec = pf.seconds();
    for (int phase : new int[] {Profile.NORM, Profile.QKV, Profile.ROPE, Profile.ATTENTION, Profile.SCORES,
        Profile.SELECT, Profile.GATHER, Profile.O_PROJ, Profile.MLP})
      assertTrue(sec[phase] > 0, Profile.PHASES[phase] + " was not timed");
  }

  @Test
  void batchedPrefillAndDecodeEqualEachRequestAlone() {
    batchEqualsAlone(DecoderTest.decoder(21), 1e-6);
  }

  /**
   * A BF16 checkpoint: q/k/v, the K/V caches, the packed prefill attention (fused with the scores)
   * and the decode attention all bf16, the residual stream float32; the batch equals each request
   * alone within {@link #BF16_TOLERANCE}.
   */
  @Test
  void bf16CheckpointBatchedPrefillAndDecodeEqualEachRequestAlone(@TempDir Path dir) throws Exception {
    RandomCheckpoint.write(dir, CFG, RandomCheckpoint.Layout.LLAMA, DType.BF16, true, 24, 1L << 30);
    DecoderWeights w = DecoderWeights.load(dir, CFG, null);
    assertTrue(Tensors.is(w.layer(0).q(), torch.ScalarType.BFloat16), "BF16 weights stay bf16");
    batchEqualsAlone(new Decoder(w), BF16_TOLERANCE);
  }

  /**
   * A checkpoint storing q in BF16 but k and v in F32: q's type decides q/k/v and the caches (the
   * attention kernels take one element type), on the batched paths and in a prefill without caches.
   */
  @Test
  void mixedTypeProjectionsRunInQsType() {
    DecoderWeights bf16 = DecoderWeights.random(CFG, 22).converted(torch.ScalarType.BFloat16);
    List<DecoderWeights.Layer> layers = new ArrayList<>();
    for (int l = 0; l < CFG.layers(); l++) {
      DecoderWeights.Layer x = bf16.layer(l);
      layers.add(new DecoderWeights.Layer(x.inputNorm(), x.q(), x.k().to(torch.ScalarType.Float),
          x.v().to(torch.ScalarType.Float), x.o(), x.postNorm(), x.gate(), x.up(), x.down()));
    }
    Decoder dec = new Decoder(new DecoderWeights(CFG, layers, bf16.finalNorm(), bf16.lmHead(), bf16.embed(), List.of(),
        "bf16 q, f32 k/v"));
    batchEqualsAlone(dec, BF16_TOLERANCE);
    try (Decoder.Prefill p = dec.prefill(embeds(7, REQS[2].n(), CFG.hidden()), REQS[2].spans(), REQS[2].pruner(), -1)) {
      assertArrayEquals(new int[] {10, 7, 7}, p.visualAfter());
    }
  }

  /**
   * The decode step on the native streaming dense layers (batches up to DecodeStep.MAX_ROWS) gives
   * what the libtorch step gives, for F32 and BF16 weights: the same tokens, and hidden states
   * within float32 rounding (F32) or within bf16's unit roundoff times the layers (BF16: the
   * libtorch step rounds every dense output to bf16, the native one keeps them float32), where a
   * differing greedy token is allowed only at a near tie of the two logits.
   */
  @Test
  void nativeDecodeStepMatchesTheLibtorchStep() {
    Decoder f32 = DecoderTest.decoder(23);
    Decoder bf16 = new Decoder(f32.weights().converted(torch.ScalarType.BFloat16));
    for (Decoder dec : new Decoder[] {f32, bf16}) {
      boolean half = dec == bf16;
      double tol = half ? CFG.layers() * 0x1p-9 : 1e-5;
      BatchDecoder batch = new BatchDecoder(dec);
      List<BatchDecoder.Request> requests = new ArrayList<>();
      for (int b = 0; b < REQS.length; b++)
        requests.add(new BatchDecoder.Request(Tensors.of(embeds(300 + b, REQS[b].n(), CFG.hidden()), REQS[b].n(),
            CFG.hidden()), REQS[b].spans(), REQS[b].pruner()));
      List<DecoderState> viaNative = new ArrayList<>(), viaTorch = new ArrayList<>();
      for (Decoder.Prefill p : batch.prefill(requests, 3)) viaNative.add(p.state());
      for (Decoder.Prefill p : batch.prefill(requests, 3)) viaTorch.add(p.state());
      int[] tokens = new int[REQS.length];
      for (int b = 0; b < tokens.length; b++) tokens[b] = 5 + 7 * b;
      for (int step = 0; step < 3; step++) {
        Decoder.Step[] a = batch.step(viaNative, tokens);
        int[] pos = new int[tokens.length];
        long[] ids = new long[tokens.length];
        for (int b = 0; b < tokens.length; b++) {
          pos[b] = viaTorch.get(b).seq.appendToken()[0];
          ids[b] = tokens[b];
        }
        Decoder.Step[] t;
        try (Temps tp = new Temps()) {
          t = batch.stepOnLibtorch(viaTorch, tp.add(torch.index_select(dec.weights().embed(), 0, tp.add(torch.tensor(ids)))), pos);
        }
        for (int b = 0; b < tokens.length; b++) {
          String who = (half ? "bf16" : "f32") + " step " + step + " request " + b;
          double e = rel(t[b].hidden(), a[b].hidden());
          assertTrue(e <= tol, who + ": hidden differs by " + e);
          if (t[b].nextToken() != a[b].nextToken()) { // only a near tie may flip: the two logits within the hidden's error
            double[] logits = logits(dec, t[b].hidden());
            double top = 0;
            for (double z : logits) top = Math.max(top, Math.abs(z));
            double gap = Math.abs(logits[t[b].nextToken()] - logits[a[b].nextToken()]);
            assertTrue(gap <= 4 * tol * top, who + ": tokens " + t[b].nextToken() + " / " + a[b].nextToken() + ", logit gap "
                + gap + " of " + top);
          }
          tokens[b] = a[b].nextToken();
        }
      }
      for (DecoderState s : viaNative) s.close();
      for (DecoderState s : viaTorch) s.close();
    }
  }

  /** The LM head's logits of a final hidden state, in float64. */
  static double[] logits(Decoder dec, float[] hidden) {
    float[] w = Tensors.toArray(dec.weights().lmHead().to(torch.ScalarType.Float));
    int D = hidden.length;
    double[] z = new double[w.length / D];
    for (int j = 0; j < z.length; j++)
      for (int i = 0; i < D; i++) z[j] += (double) hidden[i] * w[j * D + i];
    return z;
  }

  /**
   * What batching may change in bf16: a libtorch bf16 matrix product may accumulate a batch's rows
   * in another order than one request's, and a dense layer's bf16 output then rounds to the
   * neighbouring value (2^-8 relative) where it sits near a rounding boundary. A few such flips
   * stay below bf16's unit roundoff (2^-9) of the whole hidden state. (On the development machine
   * the products did not depend on the row count: the bf16 batch equalled each request exactly.)
   */
  static final double BF16_TOLERANCE = 0x1p-9;

  /** REQS prefilled and decoded together equal each prefilled and decoded alone (hidden states within tol). */
  static void batchEqualsAlone(Decoder dec, double tol) {
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
      double eState = rel(a.state().hidden(), t.state().hidden()), eLast = rel(a.lastHidden(), t.lastHidden());
      assertTrue(eState <= tol, who + " residual stream " + eState);
      assertTrue(eLast <= tol, who + " last hidden " + eLast);
      assertCachesOfType(dec, t.state());
      assertCachesOfType(dec, a.state());
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
        double e = rel(one.hidden(), st[b].hidden());
        assertTrue(e <= tol, "request " + b + " step " + i + " hidden " + e);
        assertArrayEquals(alone.get(b).state().kvLengths(), states.get(b).kvLengths());
        tokens[b] = st[b].nextToken();
      }
    }
    for (Decoder.Prefill p : together) p.close();
    for (Decoder.Prefill p : alone) p.close();
  }

  /** The state's caches have the type of the layer's dense layers (bf16 for half-precision weights). */
  static void assertCachesOfType(Decoder dec, DecoderState s) {
    for (int l = 0; l < s.kCache.length; l++) {
      int want = Dense.computeType(dec.weights().layer(l).q()).value;
      assertEquals(want, s.kCache[l].scalar_type().value, "layer " + l + " K cache type");
      assertEquals(want, s.vCache[l].scalar_type().value, "layer " + l + " V cache type");
    }
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
    List<Integer> told = new ArrayList<>();
    int[][] got = batch.generate(together, 5, told::add);
    for (int b = 0; b < REQS.length; b++) assertArrayEquals(want[b], got[b], "request " + b);
    assertEquals(List.of(0, 1, 2, 3, 4), told, "each token index once, in order");
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
