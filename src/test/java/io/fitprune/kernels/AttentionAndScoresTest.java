package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.testutil.AttentionCase;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Attention and scores against the float64 reference, on fresh random inputs, for every CPU path
 * this machine can run. Bounds: fp32 accumulation over at most a few hundred terms of magnitude
 * <= 1 keeps relative errors near 1e-6; we allow 1e-5 for every output.
 */
class AttentionAndScoresTest {
  static final double BOUND = 1e-5;

  @AfterEach
  void restoreIsa() {
    Kernels.useIsa(null);
  }

  static Stream<Arguments> cases() {
    AttentionCase[] cases = {
      new AttentionCase(1, 8, 2, 64, 0, 1),      // one token, all visual
      new AttentionCase(1, 8, 2, 128, 0, 0),     // V = 0
      new AttentionCase(7, 8, 2, 64, 2, 3),
      new AttentionCase(7, 8, 2, 128, 0, 7),     // P = 0, no text rows
      new AttentionCase(77, 8, 2, 64, 5, 40),
      new AttentionCase(77, 8, 2, 128, 0, 77),   // no text rows
      new AttentionCase(77, 8, 8, 80, 10, 0),    // V = 0, head dim off the vector blocking
      new AttentionCase(100, 4, 4, 72, 3, 50),   // head dim with a partial vector
      new AttentionCase(130, 6, 3, 64, 65, 64),  // spans cut tiles mid-way
      new AttentionCase(650, 8, 2, 128, 35, 576),
      new AttentionCase(650, 8, 2, 64, 0, 600),
    };
    List<Arguments> out = new ArrayList<>();
    for (Isa isa : Kernels.supportedIsas())
      for (AttentionCase c : cases) out.add(Arguments.of(isa, c));
    return out.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void matchesFloat64Reference(Isa isa, AttentionCase c) {
    Kernels.useIsa(isa);
    Random rnd = new Random(1000L * c.n() + 31L * c.d() + c.V() + isa.ordinal());
    AttentionShape shape = c.shape();
    float[] q = Reference.gaussian(rnd, shape.qLength());
    float[] k = Reference.gaussian(rnd, shape.kvLength());
    float[] v = Reference.gaussian(rnd, shape.kvLength());

    Kernels.AttentionOutput got = Kernels.attention(shape, q, k, v);
    Reference.Attention ref = Reference.attention(q, k, v, c.n(), c.H(), c.G(), c.d());
    double eOut = Reference.relError(got.out(), ref.out());
    double eLse = Reference.lseError(got.lse(), ref.lse());
    assertTrue(eOut <= BOUND, "out relative error " + eOut);
    assertTrue(eLse <= BOUND, "lse error " + eLse);

    Kernels.Scores s = Kernels.scores(shape, c.spans(), q, k, got.lse());
    Reference.Scores rs = Reference.scores(q, k, c.n(), c.H(), c.G(), c.d(), c.P(), c.V());
    double eSelf = Reference.relError(s.self(), rs.self());
    double eCross = Reference.relError(s.cross(), rs.cross());
    assertTrue(eSelf <= BOUND, "self relative error " + eSelf);
    assertTrue(eCross <= BOUND, "cross relative error " + eCross);
    if (c.n() == c.P() + c.V()) assertArrayEquals(new float[c.V()], s.cross(), "no text rows: cross is zero");
  }

  /** The done criterion of the native core: the LLaVA-1.5 layer shape within 1e-4 relative. */
  @Test
  void llavaLayerShapeWithin1e4() {
    int n = 650, H = 32, d = 128, P = 35, V = 576;
    Random rnd = new Random(7);
    AttentionShape shape = new AttentionShape(n, H, H, d);
    float[] q = Reference.gaussian(rnd, shape.qLength());
    float[] k = Reference.gaussian(rnd, shape.kvLength());
    float[] v = Reference.gaussian(rnd, shape.kvLength());
    Kernels.AttentionOutput got = Kernels.attention(shape, q, k, v);
    Kernels.Scores s = Kernels.scores(shape, new Spans(P, V), q, k, got.lse());
    Reference.Attention ref = Reference.attention(q, k, v, n, H, H, d);
    Reference.Scores rs = Reference.scores(q, k, n, H, H, d, P, V);
    double[] errors = {
      Reference.relError(got.out(), ref.out()), Reference.lseError(got.lse(), ref.lse()),
      Reference.relError(s.self(), rs.self()), Reference.relError(s.cross(), rs.cross())
    };
    System.out.printf("LLaVA-1.5 layer (%s): relative errors out %.2e lse %.2e self %.2e cross %.2e%n",
        Kernels.isa(), errors[0], errors[1], errors[2], errors[3]);
    for (double e : errors) assertTrue(e <= 1e-4, "relative error " + e);
  }

  /** Every path gives the same kept rows on the same scores (and near-identical scores). */
  @Test
  void pathsAgree() {
    int n = 300, H = 8, G = 2, d = 128, P = 20, V = 200;
    Random rnd = new Random(11);
    AttentionShape shape = new AttentionShape(n, H, G, d);
    float[] q = Reference.gaussian(rnd, shape.qLength());
    float[] k = Reference.gaussian(rnd, shape.kvLength());
    float[] v = Reference.gaussian(rnd, shape.kvLength());
    Kernels.Scores first = null;
    for (Isa isa : Kernels.supportedIsas()) {
      Kernels.useIsa(isa);
      Kernels.AttentionOutput a = Kernels.attention(shape, q, k, v);
      Kernels.Scores s = Kernels.scores(shape, new Spans(P, V), q, k, a.lse());
      if (first == null) {
        first = s;
        continue;
      }
      assertTrue(Reference.relError(s.self(), first.self()) < 1e-5, isa + " self differs");
      assertTrue(Reference.relError(s.cross(), first.cross()) < 1e-5, isa + " cross differs");
    }
  }
}
