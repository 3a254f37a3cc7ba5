package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.PagedKvCache;
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
 * The README's engine loops, verbatim between the markers below: a user's own layers (here plain
 * Java over the reference decoder's weights) driving {@link SequenceState}, {@link Pruner} and the
 * kernels reproduce the reference decoder's pruned prefill, then decode greedily over one paged
 * K/V cache per layer (each layer at its own length) with the reference decoder's tokens, and
 * with the bits of the same loop over contiguous caches.
 */
class EngineLoopTest {
  static final String BEGIN = "// README engine loop: begin", END = "// README engine loop: end";
  static final String BATCH_BEGIN = "// README batch loop: begin", BATCH_END = "// README batch loop: end";
  static final String DECODE_BEGIN = "// README decode loop: begin", DECODE_END = "// README decode loop: end";

  /**
   * Runs the README prefill loop over {@code engine}, appending each layer's K/V to sequence
   * {@code id} of {@code caches[l]}; returns the state, {@code hidden} compacted in place.
   */
  static SequenceState run(Geometry model, Recipe recipe, PlainEngine engine, float[] hidden, int n, Spans spans,
      PagedKvCache[] caches, int id) {
    // README engine loop: begin
    Pruner pruner = Pruner.of(recipe, model);                  // checked against the model's geometry
    SequenceState seq = SequenceState.start(model.layers(), spans, n);
    for (int l = 0; l < model.layers(); l++) {
      int rows = seq.rows();
      AttentionShape shape = new AttentionShape(rows, model.heads(), model.kvHeads(), model.headDim());
      float[][] qkv = engine.qkv(l, hidden, rows, seq.positions()); // your norm, projections, RoPE
      Kernels.AttentionOutput a = Kernels.attention(shape, qkv[0], qkv[1], qkv[2]);
      Kernels.appendKv(Data.of(qkv[1]), Data.of(qkv[2]), caches[l], caches[l].reserve(id, rows)); // all it saw
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
        SequenceState one = recipes[r] == null ? null : run(g, recipes[r], engine, alone, n[r], spans[r], caches(g, n[r], 4), 0);
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

  /** Runs the README decode loop after {@link #run}: {@code count} greedy tokens, the first from the prefill. */
  static int[] decode(Geometry model, PlainEngine engine, SequenceState seq, float[] hidden, PagedKvCache[] caches,
      int id, int count) {
    // README decode loop: begin
    int[] tokens = new int[count];
    tokens[0] = engine.greedy(hidden, seq.rows() - 1);        // your final norm, LM head, sampling
    BatchShape one = new BatchShape(Batch.single(1), model.heads(), model.kvHeads(), model.headDim());
    for (int t = 1; t < count; t++) {
      float[] x = engine.embed(tokens[t - 1]);                 // [1, D]
      int[] pos = seq.appendToken();                           // position ids; every layer's K/V grows by one row
      for (int l = 0; l < model.layers(); l++) {
        float[][] qkv = engine.qkv(l, x, 1, pos);
        Kernels.appendKv(Data.of(qkv[1]), Data.of(qkv[2]), caches[l], caches[l].reserve(id, 1));
        float[] out = new float[model.hidden()];              // attends to this layer's own table and length
        Kernels.pagedDecodeAttention(one, Data.of(qkv[0]), caches[l], new int[] {id}, Data.of(out), null);
        engine.finish(l, out, x, 1);
      }
      tokens[t] = engine.greedy(x, 0);
    }
    // README decode loop: end
    return tokens;
  }

  /** One paged cache per layer holding one sequence (id 0), room for {@code rows} rows in blocks of {@code blockSize}. */
  static PagedKvCache[] caches(Geometry g, int rows, int blockSize) {
    PagedKvCache[] c = new PagedKvCache[g.layers()];
    for (int l = 0; l < c.length; l++)
      c[l] = PagedKvCache.allocate(ElementType.FP32, (rows + blockSize - 1) / blockSize + 1, blockSize, g.kvHeads(),
          g.headDim());
    for (PagedKvCache layer : c) layer.addSequence();
    return c;
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
    PagedKvCache[] caches = caches(g, N, 4);
    SequenceState seq = run(g, recipe, new PlainEngine(w), hidden, N, new Spans(P, V), caches, 0);
    for (int l = 0; l < g.layers(); l++) assertEquals(seq.kvLength(l), caches[l].length(0), "layer " + l);
    for (PagedKvCache cc : caches) cc.close();

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
  void theReadmeDecodeLoopOverPagedCachesGeneratesTheReferenceTokens() {
    DecoderConfig c = DecoderTest.CFG;
    int P = DecoderTest.P, V = DecoderTest.V, N = DecoderTest.N, count = 6;
    Geometry g = c.geometry();
    Recipe recipe = Recipe.builder(g).prune(4, 2, 3).build();
    DecoderWeights w = DecoderWeights.random(c, 31);
    float[] e = DecoderTest.embeds(32, N, c.hidden());
    PlainEngine engine = new PlainEngine(w);
    float[] hidden = e.clone();
    PagedKvCache[] caches = caches(g, N + count, 3);
    int id = 0;
    SequenceState seq = run(g, recipe, engine, hidden, N, new Spans(P, V), caches, id);
    int[] tokens = decode(g, engine, seq, hidden, caches, id, count);
    float[] pagedLast = engine.lastDecodeHidden;

    long[] kv = seq.kvLengths();
    assertTrue(kv[0] > kv[1] && kv[1] > kv[2], "pruning left the layers at different lengths: " + Arrays.toString(kv));
    for (int l = 0; l < g.layers(); l++) assertEquals(kv[l], caches[l].length(id), "layer " + l + " cache length");
    try (Decoder.Prefill ref = new Decoder(w).prefill(e, new Spans(P, V), Pruner.of(recipe, g), count)) {
      assertArrayEquals(new Decoder(w).generate(ref, count), tokens, "greedy tokens of the reference decoder");
    }

    // The same loop over contiguous caches (Kernels.appendKv and decodeAttention): the same bits.
    float[] hidden2 = e.clone();
    PagedKvCache[] prefillCaches = caches(g, N, 3);
    SequenceState seq2 = run(g, recipe, engine, hidden2, N, new Spans(P, V), prefillCaches, 0);
    float[][] kc = new float[g.layers()][], vc = new float[g.layers()][];
    long[] len = new long[g.layers()];
    int row = g.kvHeads() * g.headDim();
    for (int l = 0; l < g.layers(); l++) {
      len[l] = seq2.kvLength(l);
      kc[l] = new float[(int) (len[l] + count) * row];
      vc[l] = new float[(int) (len[l] + count) * row];
      readPaged(prefillCaches[l], 0, kc[l], vc[l]);
      prefillCaches[l].close();
    }
    BatchShape one = new BatchShape(Batch.single(1), g.heads(), g.kvHeads(), g.headDim());
    int token = engine.greedy(hidden2, seq2.rows() - 1);
    float[] x = null;
    for (int t = 1; t < count; t++) {
      x = engine.embed(token);
      int[] pos = seq2.appendToken();
      for (int l = 0; l < g.layers(); l++) {
        float[][] qkv = engine.qkv(l, x, 1, pos);
        Data[] kl = {Data.of(kc[l])}, vl = {Data.of(vc[l])};
        Kernels.appendKv(one, Data.of(qkv[1]), Data.of(qkv[2]), kl, vl, new long[] {len[l]});
        len[l]++;
        float[] out = new float[g.hidden()];
        Kernels.decodeAttention(one, Data.of(qkv[0]), kl, vl, new long[] {len[l]}, Data.of(out), null);
        engine.finish(l, out, x, 1);
      }
      token = engine.greedy(x, 0);
      assertEquals(tokens[t], token, "step " + t);
    }
    assertArrayEquals(pagedLast, x, "paged and contiguous decode give the same bits");
    for (PagedKvCache cc : caches) cc.close();
  }

  /** Copies sequence {@code seq}'s rows out of a paged cache into contiguous [len, G, d] arrays. */
  static void readPaged(PagedKvCache c, int seq, float[] k, float[] v) {
    int row = c.kvHeads() * c.headDim(), bs = c.blockSize();
    int[] table = c.blockTable(seq);
    float[] kp = c.keys().toFloats(), vp = c.values().toFloats();
    for (int r = 0; r < c.length(seq); r++) {
      int slot = table[r / bs] * bs + r % bs;
      System.arraycopy(kp, slot * row, k, r * row, row);
      System.arraycopy(vp, slot * row, v, r * row, row);
    }
  }

  @Test
  void theReadmeShowsTheseLoops() throws IOException {
    String src = "src/test/java/io/fitprune/decoder/EngineLoopTest.java";
    ReadmeBlocks.requireShown(src, BEGIN, END);
    ReadmeBlocks.requireShown(src, BATCH_BEGIN, BATCH_END);
    ReadmeBlocks.requireShown(src, DECODE_BEGIN, DECODE_END);
  }

  /**
   * A user's own LLaMA layers in plain Java over Java arrays, rows {@code [n, width]}: the parts
   * the library does not do (norms, projections, RoPE, MLP), written from the definitions.
   */
  static final class PlainEngine {
    final DecoderConfig c;
    final float[][][] layer; // per layer: inputNorm, q, k, v, o, postNorm, gate, up, down
    final float[] invFreq, embedTable, finalNorm, lmHead;
    float[] lastDecodeHidden; // the row greedy() last read

    PlainEngine(DecoderWeights w) {
      c = w.config();
      layer = new float[c.layers()][][];
      for (int l = 0; l < c.layers(); l++) {
        DecoderWeights.Layer t = w.layer(l);
        layer[l] = new float[][] {Tensors.toArray(t.inputNorm()), Tensors.toArray(t.q()), Tensors.toArray(t.k()),
            Tensors.toArray(t.v()), Tensors.toArray(t.o()), Tensors.toArray(t.postNorm()), Tensors.toArray(t.gate()),
            Tensors.toArray(t.up()), Tensors.toArray(t.down())};
      }
      embedTable = Tensors.toArray(w.embed());
      finalNorm = Tensors.toArray(w.finalNorm());
      lmHead = Tensors.toArray(w.lmHead());
      int half = c.headDim() / 2;
      invFreq = new float[half];
      for (int i = 0; i < half; i++) invFreq[i] = (float) (1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / c.headDim()));
    }

    /** The embedding row of {@code token}. */
    float[] embed(int token) {
      int D = c.hidden();
      return Arrays.copyOfRange(embedTable, token * D, (token + 1) * D);
    }

    /** The greedy next token from row {@code r} of {@code hidden}: final norm, LM head, argmax. */
    int greedy(float[] hidden, int r) {
      int D = c.hidden();
      float[] x = Arrays.copyOfRange(hidden, r * D, (r + 1) * D);
      lastDecodeHidden = x;
      float[] logits = linear(rmsNorm(x, 1, finalNorm), 1, D, lmHead, c.vocab());
      int best = 0;
      for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
      return best;
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
