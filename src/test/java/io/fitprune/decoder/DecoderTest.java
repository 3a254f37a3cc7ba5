package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

class DecoderTest {
  // GQA (H=4, G=2), odd-ish sizes; small enough for the float64 oracle.
  static final DecoderConfig CFG = new DecoderConfig(new Geometry("tiny", 3, 32, 4, 2, 8, 48, 12, 3, 5), 37, 10000.0, 1e-5);
  static final int P = 3, V = 12, T = 5, N = P + V + T;

  static float[] embeds(long seed, int n, int D) {
    Random r = new Random(seed);
    float[] e = new float[n * D];
    for (int i = 0; i < e.length; i++) e[i] = (float) r.nextGaussian();
    return e;
  }

  static Decoder decoder(long seed) {
    return new Decoder(DecoderWeights.random(CFG, seed));
  }

  static void close(double[] want, float[] got, double tol, String what) {
    assertEquals(want.length, got.length, what + ": length");
    double num = 0, den = 0;
    for (int i = 0; i < want.length; i++) {
      num += (want[i] - got[i]) * (want[i] - got[i]);
      den += want[i] * want[i];
    }
    double rel = Math.sqrt(num / Math.max(den, 1e-30));
    assertTrue(rel < tol, what + ": relative error " + rel + " >= " + tol);
  }

  static double[] flat(double[][] x) {
    return Arrays.stream(x).flatMapToDouble(Arrays::stream).toArray();
  }

  @Test
  void everyPrunerWithPerLayerCountsIsCheckedAgainstTheModelsLayers() {
    Decoder dec = decoder(13);
    float[] e = embeds(1, N, CFG.hidden());
    int wrong = CFG.layers() + 1;
    for (Pruner p : new Pruner[] {Pruner.fitprune(new int[wrong], V), Pruner.attentionReceived(wrong, 1, 2, V, "fastv"),
        Pruner.random(new int[wrong], V, 1)}) {
      assertEquals(wrong, p.layers(), p.name());
      String m = assertThrows(IllegalArgumentException.class, () -> dec.prefill(e, new Spans(P, V), p, -1)).getMessage();
      assertTrue(m.contains(wrong + " per-layer counts") && m.contains(CFG.layers() + " layers"), m);
    }
  }

  @Test
  void unprunedPrefillMatchesFloat64Reference() {
    Decoder dec = decoder(7);
    float[] e = embeds(1, N, CFG.hidden());
    Decoder.Prefill p = dec.prefill(e, new Spans(P, V), Pruner.none(), -1);
    Reference64.Out ref = new Reference64(dec.weights()).forward(e, N, null);
    close(flat(ref.x()), p.state().hidden(), 1e-5, "residual stream");
    close(ref.last(), p.lastHidden(), 1e-5, "final hidden");
    assertEquals(ref.next(), p.nextToken());
  }

  @Test
  void prunedPrefillMatchesFloat64ReferenceAndKeepsOriginalPositions() {
    Decoder dec = decoder(8);
    float[] e = embeds(2, N, CFG.hidden());
    List<int[]> drops = Arrays.asList(null, new int[] {P + 1, P + 4, P + 5, P + 11}, new int[] {P, P + 7});
    Decoder.Prefill p = dec.prefill(e, new Spans(P, V), Pruner.fixed(drops), -1);
    Reference64.Out ref = new Reference64(dec.weights()).forward(e, N, drops);
    close(flat(ref.x()), p.state().hidden(), 1e-5, "pruned residual stream");
    assertEquals(ref.next(), p.nextToken());
    assertArrayEquals(ref.ids(), p.state().positions(), "survivors keep their original positions");
    assertArrayEquals(new int[] {P + 2, P + 3, P + 6, P + 8, P + 9, P + 10}, p.state().visualIds());
    assertArrayEquals(new int[] {V, V - 4, V - 6}, p.visualAfter());
    assertEquals(N - 6, p.state().tokens());
  }

  @Test
  void kvCachesHaveOnePerLayerLengthAndDecodeMatchesRecomputation() {
    Decoder dec = decoder(9);
    float[] e = embeds(3, N, CFG.hidden());
    List<int[]> drops = Arrays.asList(null, new int[] {P + 2, P + 3, P + 9}, new int[] {P + 4});
    Decoder.Prefill p = dec.prefill(e, new Spans(P, V), Pruner.fixed(drops), 4);
    // layer 0 and layer 1 (the pruning layer) cached all N; layer 2 the N-3 survivors of layer 1.
    assertArrayEquals(new long[] {N, N, N - 3}, p.state().kvLengths());
    int tok = 5;
    Decoder.Step st = dec.step(p.state(), tok);
    assertArrayEquals(new long[] {N + 1, N + 1, N - 2}, p.state().kvLengths());
    // The same thing without a cache: prefill of N+1 tokens with the token's embedding appended,
    // dropping the same tokens (the new row is text, never dropped). Same position N.
    float[] emb = Tensors.toArray(dec.weights().embed().narrow(0, tok, 1));
    float[] e2 = Arrays.copyOf(e, e.length + CFG.hidden());
    System.arraycopy(emb, 0, e2, e.length, emb.length);
    Decoder.Prefill full = dec.prefill(e2, new Spans(P, V), Pruner.fixed(drops), -1);
    double[] want = new double[CFG.hidden()];
    for (int i = 0; i < want.length; i++) want[i] = full.lastHidden()[i];
    close(want, st.hidden(), 2e-5, "cached decode step vs full recomputation");
    assertEquals(full.nextToken(), st.nextToken());
  }

  @Test
  void allZeroRecipeMatchesUnprunedPrefillAndGreedyDecode() {
    Decoder dec = decoder(10);
    float[] e = embeds(4, N, CFG.hidden());
    Decoder.Prefill a = dec.prefill(e, new Spans(P, V), Pruner.none(), 6);
    Decoder.Prefill b = dec.prefill(e, new Spans(P, V), Pruner.fitprune(new int[CFG.layers()], V), 6);
    assertArrayEquals(a.state().hidden(), b.state().hidden());
    assertArrayEquals(a.lastHidden(), b.lastHidden());
    assertArrayEquals(dec.generate(a, 6), dec.generate(b, 6));
    assertArrayEquals(a.state().kvLengths(), b.state().kvLengths());
  }

  @Test
  void greedyDecodeMatchesTokenByTokenPrefill() {
    Decoder dec = decoder(11);
    float[] e = embeds(5, N, CFG.hidden());
    int[] gen = dec.generate(dec.prefill(e, new Spans(P, V), Pruner.none(), 3), 4);
    float[] seq = e;
    for (int i = 0; i < 4; i++) {
      Decoder.Prefill p = dec.prefill(seq, new Spans(P, V), Pruner.none(), -1);
      assertEquals(gen[i], p.nextToken(), "token " + i);
      float[] emb = Tensors.toArray(dec.weights().embed().narrow(0, p.nextToken(), 1));
      seq = Arrays.copyOf(seq, seq.length + emb.length);
      System.arraycopy(emb, 0, seq, seq.length - emb.length, emb.length);
    }
  }

  @Test
  void recipeDropsLowestProductDownToNoVisualToken() {
    Decoder dec = decoder(12);
    float[] e = embeds(6, N, CFG.hidden());
    Decoder.Prefill p = dec.prefill(e, new Spans(P, V), Pruner.fitprune(new int[] {4, 0, 8}, V), 2);
    assertArrayEquals(new int[] {V - 4, V - 4, 0}, p.visualAfter());
    assertEquals(P + T, p.state().tokens());
    assertArrayEquals(new long[] {N, N - 4, N - 4}, p.state().kvLengths());
    // layer 0 drops exactly what the kernels' select picks on layer 0's scores
    DecoderState s = dec.start(e, new Spans(P, V), -1);
    Attended a = dec.attend(s, true);
    int[] keep = io.fitprune.kernels.Kernels.selectKeep(N, new Spans(P, V), a.self(), a.cross(), 4);
    dec.finish(s, keep);
    Decoder.Prefill p0 = dec.prefill(e, new Spans(P, V), Pruner.fitprune(new int[] {4, 0, 0}, V), -1);
    assertArrayEquals(s.visualIds(), p0.state().visualIds());
    assertEquals(2, dec.generate(p, 2).length);
  }

  @Test
  void badInputNamesTheArgument() {
    Decoder dec = decoder(13);
    float[] e = embeds(7, N, CFG.hidden());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> dec.prefill(Arrays.copyOf(e, e.length - 1),
        new Spans(P, V), null, -1)).getMessage().contains("embeds"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> dec.prefill(e, new Spans(P, N), null, -1))
        .getMessage().contains("spans"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Pruner.fitprune(new int[] {1, -1, 0}, V))
        .getMessage().contains("recipe"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> dec.prefill(e, new Spans(P, V),
        Pruner.fitprune(new int[] {1, 0}, V), -1)).getMessage().contains("3 layers"));
    Decoder.Prefill p = dec.prefill(e, new Spans(P, V), null, -1);
    assertTrue(assertThrows(IllegalStateException.class, () -> dec.step(p.state(), 1)).getMessage().contains("cache"));
    Decoder.Prefill p2 = dec.prefill(e, new Spans(P, V), null, 1);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> dec.step(p2.state(), CFG.vocab()))
        .getMessage().contains("vocabulary"));
    DecoderState s = dec.start(e, new Spans(P, V), -1);
    dec.attend(s, false);
    int[] dropText = new int[N - 1];
    for (int i = 0; i < dropText.length; i++) dropText[i] = i; // drops the last (text) row
    assertTrue(assertThrows(IllegalArgumentException.class, () -> dec.finish(s, dropText)).getMessage()
        .contains("only visual"));
    Tensor wrong = Tensors.of(new float[N * 8], N, 8);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> dec.prefill(wrong, new Spans(P, V), null, -1))
        .getMessage().contains("embeds"));
  }
}
