package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.testutil.AttentionCase;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Attention and scores in one pass (the scores from the attention's own logits) against the two
 * separate calls and the float64 reference, fp32 and bf16, on every CPU path: the output and LSE
 * are bit-identical to the attention call's; the scores agree with the separate pass to 1e-6
 * (the only difference is the LSE's rounding through the natural log) and with float64 to 1e-5.
 */
class FusedScoresTest {
  @AfterEach
  void restoreIsa() {
    Kernels.useIsa(null);
  }

  static List<AttentionCase> cases() {
    return List.of(
        new AttentionCase(1, 4, 2, 64, 0, 1),      // n = 1
        new AttentionCase(9, 4, 2, 64, 3, 0),      // V = 0: attention only
        new AttentionCase(40, 4, 4, 33, 0, 40),    // P = 0, no text rows, odd head dim
        new AttentionCase(77, 8, 2, 64, 5, 40),    // odd n, GQA, prefix and text rows
        new AttentionCase(130, 6, 3, 72, 65, 64),  // spans cut tiles mid-way
        new AttentionCase(200, 4, 1, 128, 35, 150));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void matchesTheSeparateCallsAndFloat64(AttentionCase c) {
    Random rnd = new Random(100L * c.n() + c.d() + c.V());
    AttentionShape shape = c.shape();
    Spans spans = c.spans();
    float[] q = Reference.gaussian(rnd, shape.qLength()), k = Reference.gaussian(rnd, shape.kvLength()),
        v = Reference.gaussian(rnd, shape.kvLength());
    Data qb = Data.roundBf16(q), kb = Data.roundBf16(k), vb = Data.roundBf16(v);
    Reference.Scores ref32 = Reference.scores(q, k, c.n(), c.H(), c.G(), c.d(), c.P(), c.V());
    Reference.Scores ref16 = Reference.scores(qb.toFloats(), kb.toFloats(), c.n(), c.H(), c.G(), c.d(), c.P(), c.V());
    for (Isa isa : Kernels.supportedIsas()) {
      Kernels.useIsa(isa);
      for (boolean bf16 : new boolean[] {false, true}) {
        String what = isa + (bf16 ? " bf16" : " fp32");
        Data qd = bf16 ? qb : Data.of(q), kd = bf16 ? kb : Data.of(k), vd = bf16 ? vb : Data.of(v);
        float[] out = new float[q.length], lse = new float[(int) shape.lseLength()], self = new float[c.V()],
            cross = new float[c.V()];
        Kernels.attentionScores(shape, spans, qd, kd, vd, Data.of(out), Data.of(lse), Data.of(self),
            Data.of(cross));

        float[] out2 = new float[q.length], lse2 = new float[(int) shape.lseLength()], self2 = new float[c.V()],
            cross2 = new float[c.V()];
        if (bf16) {
          Kernels.attention(shape, qb, kb, vb, Data.of(out2), Data.of(lse2));
          Kernels.scores(shape, spans, qb, kb, Data.of(lse2), Data.of(self2), Data.of(cross2));
        } else {
          Kernels.attention(shape, Data.of(q), Data.of(k), Data.of(v), Data.of(out2), Data.of(lse2));
          Kernels.scores(shape, spans, Data.of(q), Data.of(k), Data.of(lse2), Data.of(self2),
              Data.of(cross2));
        }
        assertArrayEquals(out2, out, what + " out");
        assertArrayEquals(lse2, lse, what + " lse");
        assertTrue(Reference.relError(self, self2) <= 1e-6, what + " self vs separate");
        assertTrue(Reference.relError(cross, cross2) <= 1e-6, what + " cross vs separate");
        Reference.Scores ref = bf16 ? ref16 : ref32;
        assertTrue(Reference.relError(self, ref.self()) <= 1e-5, what + " self vs float64");
        assertTrue(Reference.relError(cross, ref.cross()) <= 1e-5, what + " cross vs float64");
      }
    }
  }

  @Test
  void mixedOrWrongTypesAreRefused() {
    AttentionShape shape = new AttentionShape(4, 2, 2, 8);
    Spans spans = new Spans(1, 2);
    Data f = Data.of(new float[64]), lse = Data.of(new float[8]), s = Data.of(new float[2]);
    Data b = Data.bf16(new short[64]);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.attentionScores(shape, spans, f, b, f, f, lse, s, s));
    assertTrue(e.getMessage().startsWith("k, v: expected float32 like q"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.attentionScores(shape, spans, f, f, f, b, lse, s, s));
    assertTrue(e.getMessage().startsWith("out: expected float32 for float32 inputs"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.attentionScores(shape, new Spans(3, 2), f, f, f, f, lse, s, s));
    assertTrue(e.getMessage().contains("n"), e.getMessage());
  }
}
