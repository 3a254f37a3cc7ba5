package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.eval.Evaluation;
import io.fitprune.kernels.Spans;
import io.fitprune.pruning.Pruner;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** BF16 and F16 weights computed in bf16, and q/k/v biases, against the float64 reference. */
class DecoderPrecisionTest {
  static final DecoderConfig CFG = DecoderTest.CFG;
  static final int P = DecoderTest.P, V = DecoderTest.V, T = DecoderTest.T, N = DecoderTest.N;
  static final List<int[]> DROPS = Arrays.asList(null, new int[] {P + 1, P + 4, P + 5, P + 11}, new int[] {P, P + 7});

  static double relErr(double[] want, float[] got) {
    double num = 0, den = 0;
    for (int i = 0; i < want.length; i++) {
      num += (want[i] - got[i]) * (want[i] - got[i]);
      den += want[i] * want[i];
    }
    return Math.sqrt(num / den);
  }

  static double relErr(double[] want, double[] got) {
    float[] g = new float[got.length];
    for (int i = 0; i < g.length; i++) g[i] = (float) got[i];
    return relErr(want, g);
  }

  @Test
  void qkvBiasesMatchTheFloat64ReferenceInPrefillAndDecode() {
    DecoderWeights plain = DecoderWeights.random(CFG, 7), w = plain.withRandomBiases(3, 0.3);
    Decoder dec = new Decoder(w);
    float[] e = DecoderTest.embeds(1, N, CFG.hidden());
    Decoder.Prefill p = dec.prefill(e, new Spans(P, V), Pruner.fixed(DROPS), 2);
    Reference64.Out ref = new Reference64(w).forward(e, N, DROPS);
    DecoderTest.close(DecoderTest.flat(ref.x()), p.state().hidden(), 1e-5, "residual stream with biases");
    assertEquals(ref.next(), p.nextToken());
    Reference64.Out noBias = new Reference64(plain).forward(e, N, DROPS);
    assertTrue(relErr(ref.last(), noBias.last()) > 1e-3, "the biases must change the result");
    // A cached decoding step with biases equals the prefill of the extended sequence.
    int tok = 4;
    Decoder.Step st = dec.step(p.state(), tok);
    float[] emb = Tensors.toArray(w.embed().narrow(0, tok, 1));
    float[] e2 = Arrays.copyOf(e, e.length + CFG.hidden());
    System.arraycopy(emb, 0, e2, e.length, emb.length);
    Reference64.Out ref2 = new Reference64(w).forward(e2, N + 1, DROPS);
    DecoderTest.close(ref2.last(), st.hidden(), 2e-5, "decode step with biases");
  }

  /**
   * The half-precision runs (weights, dense layers and attention in bf16 with float32 softmax;
   * residual stream float32) against float64 on the very same weight values: the error must be within a small
   * factor of the float64 reference's own error when it rounds every dense layer's input and
   * output to bf16, and clearly above the float32 run's (so bf16 really ran).
   */
  @Test
  void halfPrecisionWeightsRunInBf16WithinTheRoundingErrorOfBf16() {
    for (torch.ScalarType type : new torch.ScalarType[] {torch.ScalarType.BFloat16, torch.ScalarType.Half}) {
      DecoderWeights half = DecoderWeights.random(CFG, 21).withRandomBiases(5, 0.1).converted(type);
      DecoderWeights exact = half.converted(torch.ScalarType.Float); // the same values in float32
      assertTrue(Tensors.is(half.layer(1).up(), type));
      float[] e = DecoderTest.embeds(2, N, CFG.hidden());
      Reference64 ref = new Reference64(exact);
      Reference64.Out want = ref.forward(e, N, DROPS);
      ref.bf16Dense = true;
      double rounding = relErr(want.last(), ref.forward(e, N, DROPS).last());
      Decoder.Prefill p16 = new Decoder(half).prefill(e, new Spans(P, V), Pruner.fixed(DROPS), 3);
      Decoder.Prefill p32 = new Decoder(exact).prefill(e, new Spans(P, V), Pruner.fixed(DROPS), 3);
      double err16 = relErr(want.last(), p16.lastHidden()), err32 = relErr(want.last(), p32.lastHidden());
      String what = type + ": error " + err16 + ", bf16 rounding alone " + rounding + ", float32 " + err32;
      assertTrue(err16 <= 3 * rounding + 1e-5, what);
      assertTrue(err16 > 10 * err32, what);
      assertTrue(Evaluation.cosine(p16.lastHidden(), p32.lastHidden()) > 0.999, what);
      // Decoding in bf16 follows its own prefill of the extended sequence.
      Decoder dec = new Decoder(half);
      Decoder.Step st = dec.step(p16.state(), 6);
      float[] emb = Tensors.toArray(half.embed().narrow(0, 6, 1));
      float[] e2 = Arrays.copyOf(e, e.length + CFG.hidden());
      System.arraycopy(emb, 0, e2, e.length, emb.length);
      float[] again = dec.prefill(e2, new Spans(P, V), Pruner.fixed(DROPS), -1).lastHidden();
      double[] a = new double[again.length];
      for (int i = 0; i < a.length; i++) a[i] = again[i];
      assertTrue(relErr(a, st.hidden()) < 3 * rounding + 1e-5, type + " decode step vs recomputation");
    }
  }

  /**
   * Why the residual stream stays float32 with bf16 dense layers: on the float64 reference (8
   * layers, same weights and inputs), rounding the residual stream to bf16 after every addition
   * as well makes the final hidden state clearly worse than rounding only the dense layers.
   */
  @Test
  void aBf16ResidualStreamWouldAddErrorOverBf16DenseLayers() {
    DecoderConfig c = new DecoderConfig(new io.fitprune.model.Geometry("mid", 8, 64, 4, 2, 16, 160, 12, 3, 5), 37, 10000.0, 1e-5);
    DecoderWeights w = DecoderWeights.random(c, 31).converted(torch.ScalarType.BFloat16).converted(torch.ScalarType.Float);
    float[] e = DecoderTest.embeds(9, N, c.hidden());
    Reference64 ref = new Reference64(w);
    double[] exact = ref.forward(e, N, null).last();
    ref.bf16Dense = true;
    double dense = relErr(exact, ref.forward(e, N, null).last());
    ref.bf16Residual = true;
    double both = relErr(exact, ref.forward(e, N, null).last());
    float[] got = new Decoder(DecoderWeights.random(c, 31).converted(torch.ScalarType.BFloat16)).prefill(e, new Spans(P, V), null, -1)
        .lastHidden();
    double decoder = relErr(exact, got);
    String what = String.format(java.util.Locale.ROOT, "relative error of the final hidden state: bf16 dense %.2e, bf16 dense "
        + "and residual %.2e, the decoder (bf16 dense layers and attention, float32 residual) %.2e", dense, both, decoder);
    System.out.println(what);
    assertTrue(both > 1.5 * dense, what);
    assertTrue(decoder <= 3 * dense + 1e-5, what);
  }
}
