package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.BatchState;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.RowBuffer;
import io.fitprune.pruning.SequenceState;
import io.fitprune.recipe.Recipe;
import io.fitprune.testutil.ReadmeBlocks;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The README's engine loop, verbatim between the markers below: a user's own layers (here plain
 * Java over the reference decoder's weights) driving {@link SequenceState}, {@link Pruner} and the
 * kernels reproduce the reference decoder's pruned prefill.
 */
class EngineLoopTest {
  static final String BEGIN = "// README engine loop: begin", END = "// README engine loop: end";
  static final String BATCH_BEGIN = "// README batch loop: begin", BATCH_END = "// README batch loop: end";

  /** Runs the README loop over {@code engine}; returns the state, {@code hidden} compacted in place. */
  static SequenceState run(Geometry model, Recipe recipe, PlainEngine engine, float[] hidden, int n, Spans spans) {
    // README engine loop: begin
    Pruner pruner = Pruner.of(recipe, model);                  // checked against the model's geometry
    SequenceState seq = SequenceState.start(model.layers(), spans, n);
    for (int l = 0; l < model.layers(); l++) {
      int rows = seq.rows();
      AttentionShape shape = new AttentionShape(rows, model.heads(), model.kvHeads(), model.headDim());
      float[][] qkv = engine.qkv(l, hidden, rows, seq.positions()); // your norm, projections, RoPE
      Kernels.AttentionOutput a = Kernels.attention(shape, qkv[0], qkv[1], qkv[2]);
      long drop = pruner.count(seq);
      int[] keep = null;                                       // null: this layer keeps every row
      if (drop > 0) {
        Kernels.Scores s = Kernels.scores(shape, seq.spans(), qkv[0], qkv[1], a.lse());
        keep = pruner.keep(seq, s.self(), s.cross(), drop);
      }
      float[] out = a.out();
      seq.apply(l, keep, RowBuffer.of(out, model.hidden()), RowBuffer.of(hidden, model.hidden()));
      engine.finish(l, out, hidden, seq.rows());               // o-proj, residual, MLP on the survivors
    }
    // README engine loop: end
    return seq;
  }

  /** Runs the README batch loop over {@code engine}: {@code hidden} holds every request's rows, packed, compacted in place. */
  static BatchState runBatch(Geometry model, Pruner[] pruners, PlainEngine engine, float[] hidden, int[] n, Spans[] spans) {
    // README batch loop: begin
    BatchState batch = BatchState.start(model.layers(), spans, n, pruners); // a SequenceState and Pruner per request
    for (int l = 0; l < model.layers(); l++) {
      BatchShape shape = new BatchShape(Batch.ofLengths(batch.lengths()), model.heads(), model.kvHeads(), model.headDim());
      float[][] qkv = engine.qkv(l, hidden, batch.rows(), batch.positions()); // all requests' rows, packed
      Kernels.AttentionOutput a = Kernels.attention(shape, qkv[0], qkv[1], qkv[2]);
      int[] keep = null;                                       // null: every request keeps every row
      if (batch.prunes()) {                                    // some request drops tokens at this layer
        Kernels.Scores s = Kernels.scores(shape, batch.scoreSpans(), qkv[0], qkv[1], a.lse());
        keep = batch.keep(s.self(), s.cross());                // packed rows, ascending
      }
      float[] out = a.out();
      batch.apply(l, keep, RowBuffer.of(out, model.hidden()), RowBuffer.of(hidden, model.hidden()));
      engine.finish(l, out, hidden, batch.rows());
    }
    // README batch loop: end
    return batch;
  }

  @Test
  void theReadmeBatchLoopGivesEachRequestItsOwnLoopsBitsAndTheReferenceDecodersTokens() {
    DecoderConfig c = DecoderTest.CFG;
    int P = DecoderTest.P, V = DecoderTest.V, N = DecoderTest.N, D = c.hidden();
    Geometry g = c.geometry();
    Recipe a = Recipe.builder(g).prune(4, 2, 3).build(), b = Recipe.builder(g).prune(0, 7, 5).build();
    // two images with their own recipes, a text-only request under a recipe, an unpruned one, one token
    Recipe[] recipes = {a, b, a, null, b};
    int[] n = {N, N - 2, 6, N + 1, 1};
    Spans[] spans = {new Spans(P, V), new Spans(P, V), new Spans(6, 0), new Spans(P, V), new Spans(0, 0)};
    DecoderWeights w = DecoderWeights.random(c, 23);
    PlainEngine engine = new PlainEngine(w);
    float[][] e = new float[n.length][];
    int total = 0;
    for (int r = 0; r < n.length; r++) {
      e[r] = DecoderTest.embeds(40 + r, n[r], D);
      total += n[r];
    }
    float[] hidden = new float[total * D];
    Pruner[] pruners = new Pruner[n.length];
    for (int r = 0, at = 0; r < n.length; r++) {
      System.arraycopy(e[r], 0, hidden, at, e[r].length);
      at += e[r].length;
      pruners[r] = recipes[r] == null ? Pruner.none() : Pruner.of(recipes[r], g);
    }
    BatchState batch = runBatch(g, pruners, engine, hidden, n, spans);

    List<BatchDecoder.Request> requests = new ArrayList<>();
    for (int r = 0; r < n.length; r++) requests.add(new BatchDecoder.Request(Tensors.of(e[r], n[r], D), spans[r], pruners[r]));
    List<Decoder.Prefill> ref = new BatchDecoder(new Decoder(w)).prefill(requests, 0);
    try {
      for (int r = 0; r < n.length; r++) {
        SequenceState got = batch.sequence(r);
        float[] mine = Arrays.copyOfRange(hidden, batch.offset(r) * D, (batch.offset(r) + got.rows()) * D);
        float[] alone = e[r].clone();
        SequenceState one = recipes[r] == null ? null : run(g, recipes[r], engine, alone, n[r], spans[r]);
        if (one != null) {
          assertArrayEquals(one.originalIndices(), got.originalIndices(), "request " + r);
          assertArrayEquals(Arrays.copyOf(alone, got.rows() * D), mine, "request " + r + ": the batch gives the single loop's bits");
        }
        DecoderState want = ref.get(r).state();
        assertArrayEquals(want.visualIds(), got.visualIds(), "request " + r + ": same tokens dropped as the reference decoder");
        assertArrayEquals(want.kvLengths(), got.kvLengths(), "request " + r);
        assertTrue(relativeError(want.hidden(), mine) < 1e-5, "request " + r + " residual stream");
      }
      assertArrayEquals(new int[] {V - 4, V - 6, V - 9}, batch.sequence(0).visualAfter());
      assertArrayEquals(new int[] {V, V - 7, V - 12}, batch.sequence(1).visualAfter());
      assertArrayEquals(new int[] {0, 0, 0}, batch.sequence(2).visualAfter(), "text only: unpruned under REFUSE");
    } finally {
      ref.forEach(Decoder.Prefill::close);
    }
  }

  static double relativeError(float[] want, float[] got) {
    assertEquals(want.length, got.length);
    double num = 0, den = 0;
    for (int i = 0; i < want.length; i++) {
      num += (want[i] - got[i]) * (double) (want[i] - got[i]);
      den += want[i] * (double) want[i];
    }
    return Math.sqrt(num / den);
  }

  @Test
  void theReadmeLoopReproducesTheReferenceDecoder() {
    DecoderConfig c = DecoderTest.CFG;
    int P = DecoderTest.P, V = DecoderTest.V, N = DecoderTest.N;
    Geometry g = c.geometry();
    int[] prune = {4, 2, 3};
    Recipe recipe = Recipe.builder(g).prune(prune).build();
    DecoderWeights w = DecoderWeights.random(c, 21);
    float[] e = DecoderTest.embeds(22, N, c.hidden());
    float[] hidden = e.clone();
    SequenceState seq = run(g, recipe, new PlainEngine(w), hidden, N, new Spans(P, V));

    try (Decoder.Prefill ref = new Decoder(w).prefill(e, new Spans(P, V), Pruner.of(recipe, g), 0)) {
      assertArrayEquals(ref.state().visualIds(), seq.visualIds(), "same tokens dropped");
      assertArrayEquals(ref.state().kvLengths(), seq.kvLengths());
      assertArrayEquals(new int[] {V - 4, V - 6, V - 9}, seq.visualAfter());
      float[] want = ref.state().hidden();
      double num = 0, den = 0;
      for (int i = 0; i < want.length; i++) {
        num += (want[i] - hidden[i]) * (want[i] - hidden[i]);
        den += want[i] * want[i];
      }
      assertTrue(Math.sqrt(num / den) < 1e-5, "residual stream relative error " + Math.sqrt(num / den));
    }
  }

  @Test
  void theReadmeShowsTheseLoops() throws IOException {
    String src = "src/test/java/io/fitprune/decoder/EngineLoopTest.java";
    ReadmeBlocks.requireShown(src, BEGIN, END);
    ReadmeBlocks.requireShown(src, BATCH_BEGIN, BATCH_END);
  }

  /**
   * A user's own LLaMA layers in plain Java over Java arrays, rows {@code [n, width]}: the parts
   * the library does not do (norms, projections, RoPE, MLP), written from the definitions.
   */
  static final class PlainEngine {
    final DecoderConfig c;
    final float[][][] layer; // per layer: inputNorm, q, k, v, o, postNorm, gate, up, down
    final float[] invFreq;

    PlainEngine(DecoderWeights w) {
      c = w.config();
      layer = new float[c.layers()][][];
      for (int l = 0; l < c.layers(); l++) {
        DecoderWeights.Layer t = w.layer(l);
        layer[l] = new float[][] {Tensors.toArray(t.inputNorm()), Tensors.toArray(t.q()), Tensors.toArray(t.k()),
            Tensors.toArray(t.v()), Tensors.toArray(t.o()), Tensors.toArray(t.postNorm()), Tensors.toArray(t.gate()),
            Tensors.toArray(t.up()), Tensors.toArray(t.down())};
      }
      int half = c.headDim() / 2;
      invFreq = new float[half];
      for (int i = 0; i < half; i++) invFreq[i] = (float) (1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / c.headDim()));
    }

    float[][] qkv(int l, float[] hidden, int rows, int[] pos) {
      float[] h = rmsNorm(hidden, rows, layer[l][0]);
      int D = c.hidden(), kv = c.kvWidth();
      float[] q = linear(h, rows, D, layer[l][1], D), k = linear(h, rows, D, layer[l][2], kv), v = linear(h, rows, D, layer[l][3], kv);
      rope(q, pos, c.heads());
      rope(k, pos, c.kvHeads());
      return new float[][] {q, k, v};
    }

    void finish(int l, float[] attnOut, float[] hidden, int rows) {
      int D = c.hidden(), F = c.mlp();
      add(hidden, linear(attnOut, rows, D, layer[l][4], D));
      float[] h = rmsNorm(hidden, rows, layer[l][5]);
      float[] gate = linear(h, rows, D, layer[l][6], F), up = linear(h, rows, D, layer[l][7], F);
      for (int i = 0; i < gate.length; i++) gate[i] = (float) (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
      add(hidden, linear(gate, rows, F, layer[l][8], D));
    }

    float[] rmsNorm(float[] x, int rows, float[] w) {
      int D = c.hidden();
      float[] y = new float[rows * D];
      for (int r = 0; r < rows; r++) {
        double ss = 0;
        for (int j = 0; j < D; j++) ss += x[r * D + j] * x[r * D + j];
        float inv = (float) (1 / Math.sqrt(ss / D + c.rmsEps()));
        for (int j = 0; j < D; j++) y[r * D + j] = x[r * D + j] * inv * w[j];
      }
      return y;
    }

    /** {@code x [rows, in] @ w^T}, w in nn.Linear's layout {@code [out, in]}. */
    static float[] linear(float[] x, int rows, int in, float[] w, int out) {
      float[] y = new float[rows * out];
      for (int r = 0; r < rows; r++)
        for (int o = 0; o < out; o++) {
          double s = 0;
          for (int i = 0; i < in; i++) s += x[r * in + i] * w[o * in + i];
          y[r * out + o] = (float) s;
        }
      return y;
    }

    void rope(float[] t, int[] pos, int heads) {
      int d = c.headDim(), half = d / 2;
      for (int r = 0; r < pos.length; r++)
        for (int hh = 0; hh < heads; hh++) {
          int o = (r * heads + hh) * d;
          for (int j = 0; j < half; j++) {
            float angle = (float) pos[r] * invFreq[j], cs = (float) Math.cos(angle), sn = (float) Math.sin(angle);
            float x1 = t[o + j], x2 = t[o + j + half];
            t[o + j] = x1 * cs - x2 * sn;
            t[o + j + half] = x2 * cs + x1 * sn;
          }
        }
    }

    /** {@code x[0..y.length) += y}: the residual, over the rows alive. */
    static void add(float[] x, float[] y) {
      for (int i = 0; i < y.length; i++) x[i] += y[i];
    }
  }
}
