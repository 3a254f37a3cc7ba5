package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.RopeIndex;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

/**
 * A tiny Qwen2 language model (q/k/v biases, GQA, tied embeddings, M-RoPE) through prefill, decode
 * and batched runs at the 3-D positions of {@link RopeIndex}, against a float64 reference written
 * here from transformers' Qwen2-VL text model. Pruning is checked against the run it must equal: an
 * unpruned one in which, from the layer after a token was pruned on, that token is masked out of
 * attention (the pruning layer itself saw it, and its K/V stays in that layer's cache).
 */
class MropeDecoderTest {
  static final int IMAGE = 40, VIDEO = 41, START = 42, END = 43;
  // H = 3 query heads over G = 1 key/value head, d = 16 split (2, 3, 3) between t, h and w
  static final DecoderConfig CFG = DecoderConfig.of(new Geometry("qwen-tiny", 3, 48, 3, 1, 16, 40, 6, 4, 5), 50, 1e6,
      1e-6, List.of(2, 3, 3));

  /** Random weights with q/k/v biases and the LM head tied to the embedding table. */
  static DecoderWeights tiedWeights(long seed) {
    DecoderWeights w = DecoderWeights.random(CFG, seed).withRandomBiases(seed + 1, 0.3);
    List<DecoderWeights.Layer> layers = new ArrayList<>();
    for (int l = 0; l < CFG.layers(); l++) layers.add(w.layer(l));
    Tensor emb = DecoderWeights.uniform(seed + 2, 1 / Math.sqrt(CFG.hidden()), CFG.vocab(), CFG.hidden());
    return new DecoderWeights(CFG, layers, w.finalNorm(), emb, emb, List.of(), "tied random " + seed);
  }

  /** Text, an image of a {@code h x w} merged grid between vision start and end, text. */
  static int[] ids(int before, int h, int w, int after) {
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < before; i++) ids.add(i % 30);
    ids.add(START);
    for (int i = 0; i < h * w; i++) ids.add(IMAGE);
    ids.add(END);
    for (int i = 0; i < after; i++) ids.add((7 * i) % 30);
    return ids.stream().mapToInt(Integer::intValue).toArray();
  }

  /** The float64 Qwen2 text model: per layer a set of keys masked out, decoding as rows appended. */
  static final class Ref {
    final Reference64 w; // the weights as float64, and its dense/norm helpers
    final double[][] embed;

    Ref(DecoderWeights weights) {
      w = new Reference64(weights);
      embed = Reference64.mat(weights.embed(), CFG.vocab(), CFG.hidden());
    }

    /**
     * Logits of the last row of {@code x} (rows at {@code pos [3][n]}); key j is masked out of every
     * layer after {@code droppedAt[j]} (Integer.MAX_VALUE: never).
     */
    double[] logits(double[][] x0, int[][] pos, int[] droppedAt) {
      int n = x0.length, d = CFG.headDim();
      double[][] x = new double[n][];
      for (int i = 0; i < n; i++) x[i] = x0[i].clone();
      for (int l = 0; l < CFG.layers(); l++) {
        double[][][] lw = w.layers.get(l);
        double[][] bs = w.biases.get(l);
        double[][] h = w.norm(x, lw[0][0]);
        double[][] q = Reference64.plus(Reference64.lin(h, lw[1]), bs[0]);
        double[][] k = Reference64.plus(Reference64.lin(h, lw[2]), bs[1]);
        double[][] v = Reference64.plus(Reference64.lin(h, lw[3]), bs[2]);
        mrope(q, pos, CFG.heads(), d);
        mrope(k, pos, CFG.kvHeads(), d);
        boolean[] masked = new boolean[n];
        for (int j = 0; j < n; j++) masked[j] = droppedAt[j] < l;
        double[][] o = attention(q, k, v, masked);
        Reference64.add(x, Reference64.lin(o, lw[4]));
        double[][] h2 = w.norm(x, lw[5][0]);
        double[][] g = Reference64.lin(h2, lw[6]), u = Reference64.lin(h2, lw[7]);
        for (int i = 0; i < n; i++)
          for (int j = 0; j < g[i].length; j++) g[i][j] = g[i][j] / (1 + Math.exp(-g[i][j])) * u[i][j];
        Reference64.add(x, Reference64.lin(g, lw[8]));
      }
      double[] last = w.norm(new double[][] {x[n - 1]}, w.finalNorm)[0];
      return Reference64.lin(new double[][] {last}, w.lmHead)[0];
    }

    /** Frequency j of a head rotates by the angle of position component 0, 1 or 2 as (2, 3, 3) assigns it. */
    static void mrope(double[][] t, int[][] pos, int heads, int d) {
      int half = d / 2;
      List<Integer> sec = CFG.mropeSection();
      for (int i = 0; i < t.length; i++)
        for (int hh = 0; hh < heads; hh++)
          for (int j = 0; j < half; j++) {
            int c = j < sec.get(0) ? 0 : j < sec.get(0) + sec.get(1) ? 1 : 2;
            double ang = pos[c][i] * Math.pow(CFG.ropeTheta(), -2.0 * j / d);
            int o = hh * d;
            double a = t[i][o + j], b = t[i][o + j + half];
            t[i][o + j] = a * Math.cos(ang) - b * Math.sin(ang);
            t[i][o + j + half] = b * Math.cos(ang) + a * Math.sin(ang);
          }
    }

    static double[][] attention(double[][] q, double[][] k, double[][] v, boolean[] masked) {
      int n = q.length, H = CFG.heads(), d = CFG.headDim(), grp = H / CFG.kvHeads();
      double[][] out = new double[n][H * d];
      for (int hh = 0; hh < H; hh++) {
        int g = hh / grp;
        for (int i = 0; i < n; i++) {
          double[] s = new double[i + 1];
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j <= i; j++) {
            if (masked[j]) continue;
            double dot = 0;
            for (int e = 0; e < d; e++) dot += q[i][hh * d + e] * k[j][g * d + e];
            s[j] = dot / Math.sqrt(d);
            max = Math.max(max, s[j]);
          }
          double z = 0;
          for (int j = 0; j <= i; j++) if (!masked[j]) z += s[j] = Math.exp(s[j] - max);
          for (int j = 0; j <= i; j++)
            if (!masked[j]) for (int e = 0; e < d; e++) out[i][hh * d + e] += s[j] / z * v[j][g * d + e];
        }
      }
      return out;
    }
  }

  static double[][] rows(float[] e, int n) {
    double[][] x = new double[n][CFG.hidden()];
    for (int i = 0; i < n; i++) for (int j = 0; j < CFG.hidden(); j++) x[i][j] = e[i * CFG.hidden() + j];
    return x;
  }

  /** The prompt's rows followed by the embedding rows of the decoded tokens, at their positions. */
  static double[][] append(double[][] x, double[][] embed, int[] tokens) {
    double[][] out = Arrays.copyOf(x, x.length + tokens.length);
    for (int i = 0; i < tokens.length; i++) out[x.length + i] = embed[tokens[i]].clone();
    return out;
  }

  static int[][] appendPositions(int[][] pos, int next, int count) {
    int[][] out = new int[3][];
    for (int c = 0; c < 3; c++) {
      out[c] = Arrays.copyOf(pos[c], pos[c].length + count);
      for (int i = 0; i < count; i++) out[c][pos[c].length + i] = next + i;
    }
    return out;
  }

  /**
   * Prefills {@code ids} (an image of a 2h x 2w patch grid) with {@code pruner}, decodes {@code steps}
   * tokens, and checks every step's logits against the reference with the pruned tokens masked.
   */
  static void checkAgainstMaskedReference(DecoderWeights weights, int before, int h, int w, int after, Pruner pruner,
      List<int[]> knownDrops, long seed) {
    int[] ids = ids(before, h, w, after);
    RopeIndex ri = RopeIndex.of(ids, new int[][] {{1, 2 * h, 2 * w}}, 2, IMAGE, VIDEO, START);
    int n = ids.length, prefix = before + 1;
    Spans spans = new Spans(prefix, h * w);
    float[] e = DecoderTest.embeds(seed, n, CFG.hidden());
    Decoder dec = new Decoder(weights);
    Ref ref = new Ref(weights);
    int steps = 3;
    try (Decoder.Prefill p = dec.prefill(Tensors.of(e, n, CFG.hidden()), spans, ri.positions(), pruner, steps)) {
      // which tokens were pruned after which layer: given, or read off the state when one layer pruned
      int[] droppedAt = new int[n];
      Arrays.fill(droppedAt, Integer.MAX_VALUE);
      if (knownDrops != null) {
        for (int l = 0; l < knownDrops.size(); l++)
          if (knownDrops.get(l) != null) for (int id : knownDrops.get(l)) droppedAt[id] = l;
      } else {
        int[] alive = p.state().visualIds();
        int layer = 0;
        while (layer < CFG.layers() && p.visualAfter()[layer] == h * w) layer++;
        for (int id = prefix; id < prefix + h * w; id++) if (Arrays.binarySearch(alive, id) < 0) droppedAt[id] = layer;
      }
      assertEquals(ri.nextPosition(), p.state().sequence().nextPosition(), "decoding continues at the largest id + 1");
      // the survivors keep their original 3-D positions
      int[] orig = p.state().sequence().originalIndices(), got = p.state().positions();
      int[] want = ri.rowMajor();
      for (int r = 0; r < orig.length; r++)
        for (int c = 0; c < 3; c++) assertEquals(want[3 * orig[r] + c], got[3 * r + c], "row " + r + " component " + c);
      double[][] x = rows(e, n);
      int[][] pos = ri.positions();
      DecoderTest.close(ref.logits(x, pos, droppedAt), p.logits(), 2e-5, "prefill logits");
      long dropped = Arrays.stream(droppedAt).filter(l -> l != Integer.MAX_VALUE).count();
      assertEquals(h * w - p.state().visual(), dropped, "pruned tokens");
      if (dropped > 0) { // the masking matters: unmasked, the reference is another model
        int[] none = new int[n];
        Arrays.fill(none, Integer.MAX_VALUE);
        assertThrows(AssertionError.class, () -> DecoderTest.close(ref.logits(x, pos, none), p.logits(), 2e-5, "unmasked"));
      }
      int[] fed = new int[steps];
      int token = p.nextToken();
      for (int s = 0; s < steps; s++) {
        fed[s] = token;
        Decoder.Step st = dec.step(p.state(), token);
        int[] masks = Arrays.copyOf(droppedAt, n + s + 1);
        Arrays.fill(masks, n, n + s + 1, Integer.MAX_VALUE);
        double[] wantLogits = ref.logits(append(x, ref.embed, Arrays.copyOf(fed, s + 1)),
            appendPositions(pos, ri.nextPosition(), s + 1), masks);
        DecoderTest.close(wantLogits, st.logits(), 2e-5, "decode step " + s + " logits");
        token = st.nextToken();
      }
    }
  }

  @Test
  void unprunedPrefillAndDecodeMatchTheFloat64QwenModel() {
    DecoderWeights w = tiedWeights(3);
    checkAgainstMaskedReference(w, 3, 2, 3, 5, Pruner.none(), List.of(), 1);
    checkAgainstMaskedReference(w, 0, 3, 1, 1, Pruner.none(), List.of(), 2); // image first, one text token after
  }

  @Test
  void theThreeDimensionalPositionsMatter() {
    // the test can fail: the same input at 1-D positions 0..n-1 gives other logits than at RopeIndex's
    DecoderWeights w = tiedWeights(4);
    int[] ids = ids(2, 3, 3, 3);
    int n = ids.length;
    RopeIndex ri = RopeIndex.of(ids, new int[][] {{1, 6, 6}}, 2, IMAGE, VIDEO, START);
    Ref ref = new Ref(w);
    double[][] x = rows(DecoderTest.embeds(5, n, CFG.hidden()), n);
    int[][] flat = new int[3][n];
    for (int c = 0; c < 3; c++) for (int i = 0; i < n; i++) flat[c][i] = i;
    int[] none = new int[n];
    Arrays.fill(none, Integer.MAX_VALUE);
    double[] a = ref.logits(x, ri.positions(), none), b = ref.logits(x, flat, none);
    float[] bf = new float[b.length];
    for (int i = 0; i < b.length; i++) bf[i] = (float) b[i];
    assertThrows(AssertionError.class, () -> DecoderTest.close(a, bf, 2e-5, "1-D against 3-D"));
  }

  @Test
  void prunedPrefillAndDecodeEqualTheMaskedRunAndKeepTheOriginalPositions() {
    DecoderWeights w = tiedWeights(5);
    int prefix = 4; // 3 text tokens and the vision start
    List<int[]> drops = Arrays.asList(new int[] {prefix + 1, prefix + 4}, null, new int[] {prefix, prefix + 5, prefix + 2});
    checkAgainstMaskedReference(w, 3, 2, 3, 4, Pruner.fixed(drops), drops, 6);
    // FitPrune's own scores choose the tokens at layer 1 of a 3x4 image
    checkAgainstMaskedReference(w, 3, 3, 4, 4, Pruner.fitprune(new int[] {0, 7, 0}, 12), null, 7);
  }

  @Test
  void aBatchEqualsEachRequestRunAlone() {
    Decoder dec = new Decoder(tiedWeights(9));
    BatchDecoder batch = new BatchDecoder(dec);
    int[][] idsOf = {ids(3, 2, 3, 4), ids(1, 3, 3, 2), ids(5, 1, 1, 3)};
    int[][][] grids = {{{1, 4, 6}}, {{1, 6, 6}}, {{1, 2, 2}}};
    Pruner[] pruners = {Pruner.fitprune(new int[] {2, 1, 0}, 6), Pruner.none(), null};
    List<BatchDecoder.Request> reqs = new ArrayList<>();
    List<Tensor> keep = new ArrayList<>();
    for (int b = 0; b < 3; b++) {
      int[] ids = idsOf[b];
      int[][] pos = b == 2 ? null : RopeIndex.of(ids, grids[b], 2, IMAGE, VIDEO, START).positions(); // null: 1-D ids
      int visual = grids[b][0][1] * grids[b][0][2] / 4, prefix = b == 0 ? 4 : b == 1 ? 2 : 6;
      Tensor e = Tensors.of(DecoderTest.embeds(20 + b, ids.length, CFG.hidden()), ids.length, CFG.hidden());
      keep.add(e);
      reqs.add(new BatchDecoder.Request(e, new Spans(prefix, visual), pruners[b], pos));
    }
    List<Decoder.Prefill> together = batch.prefill(reqs, 2);
    List<DecoderState> states = new ArrayList<>();
    for (Decoder.Prefill p : together) states.add(p.state());
    int[] tokens = {together.get(0).nextToken(), together.get(1).nextToken(), together.get(2).nextToken()};
    Decoder.Step[] steps = batch.step(states, tokens);
    for (int b = 0; b < 3; b++) {
      BatchDecoder.Request r = reqs.get(b);
      try (Decoder.Prefill alone = dec.prefill(r.embeds(), r.spans(), r.positions(), r.pruner(), 2)) {
        DecoderTest.close(toDouble(alone.logits()), together.get(b).logits(), 1e-5, "request " + b + " prefill");
        assertArrayEquals(alone.state().positions(), together.get(b).state().positions());
        Decoder.Step s = dec.step(alone.state(), tokens[b]);
        DecoderTest.close(toDouble(s.logits()), steps[b].logits(), 1e-5, "request " + b + " decode");
      }
    }
    for (Decoder.Prefill p : together) p.close();
  }

  static double[] toDouble(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) d[i] = f[i];
    return d;
  }

  @Test
  void positionsOfTheWrongShapeAreRefusedNamingThem() {
    Decoder mrope = new Decoder(tiedWeights(1));
    Tensor e = Tensors.of(DecoderTest.embeds(1, 4, CFG.hidden()), 4, CFG.hidden());
    String m = assertThrows(IllegalArgumentException.class,
        () -> mrope.start(e, new Spans(1, 2), new int[][] {{0, 1, 2, 3}, {0, 1, 2, 3}}, 0)).getMessage();
    assertTrue(m.contains("positions") && m.contains("[3][4]"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> mrope.start(e, new Spans(1, 2), new int[][] {{0, 1, 2}, {0, 1, 2, 3}, {0, 1, 2, 3}}, 0)).getMessage();
    assertTrue(m.contains("positions[0]") && m.contains("expected 4"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> mrope.start(e, new Spans(1, 2), new int[][] {{0, 1, 2, 3}, {0, 1, 4, 3}, {0, 1, 2, 3}}, 0)).getMessage();
    assertTrue(m.contains("positions[1][2]: id 4 outside [0, 4)"), m);
    m = assertThrows(IllegalArgumentException.class,
        () -> mrope.start(e, new Spans(1, 2), new int[][] {{0, -1, 2, 3}}, 0)).getMessage();
    assertTrue(m.contains("positions[0][1]"), m);
    DecoderConfig oneD = new DecoderConfig(CFG.geometry(), CFG.vocab(), 1e4, 1e-6);
    Decoder plain = new Decoder(DecoderWeights.random(oneD, 2));
    int[][] three = {{0, 1, 1, 3}, {0, 1, 2, 3}, {0, 2, 1, 3}};
    m = assertThrows(IllegalArgumentException.class, () -> plain.start(e, new Spans(1, 2), three, 0)).getMessage();
    assertTrue(m.contains("1-D RoPE"), m);
  }
}
