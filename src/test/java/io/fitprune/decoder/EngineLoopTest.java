package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.FloatData;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.NativeData;
import io.fitprune.kernels.PagedKvCache;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.RowBuffer;
import io.fitprune.pruning.SequenceState;
import io.fitprune.recipe.Recipe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The README's engine loops, verbatim between the markers below: a user's own layers (here plain
 * Java over the reference decoder's weights) driving {@link SequenceState}, {@link Pruner} and the
 * kernels reproduce the reference decoder's pruned prefill, then decode greedily over one paged
 * K/V cache per layer (each layer at its own length) with the reference decoder's tokens, and
 * with the bits of the same loop over contiguous caches.
 */
class EngineLoopTest {
  static final String[] LOOPS = {"engine loop", "decode loop"};

  /**
   * Runs the README prefill loop over {@code engine}, appending each layer's K/V to sequence
   * {@code id} of {@code caches[l]}; returns the state, {@code hidden} compacted in place.
   */
  static SequenceState run(Geometry model, Recipe recipe, PlainEngine engine, float[] hidden, int n, Spans spans,
      PagedKvCache[] caches, int id) {
    // README engine loop: begin
    Pruner pruner = Pruner.of(recipe, model);                  // checked against the model's geometry
    SequenceState seq = SequenceState.start(model.layers(), n, spans);
    for (int l = 0; l < model.layers(); l++) {
      int rows = seq.rows();
      AttentionShape shape = new AttentionShape(rows, model.heads(), model.kvHeads(), model.headDim());
      float[][] qkv = engine.qkv(l, hidden, rows, seq.positions()); // your norm, projections, RoPE
      Kernels.AttentionOutput a = Kernels.attention(shape, qkv[0], qkv[1], qkv[2]);
      Kernels.appendKv(FloatData.of(qkv[1]), FloatData.of(qkv[2]), caches[l], caches[l].reserve(id, rows)); // all it saw
      int drop = pruner.count(seq);
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

  /** Runs the README decode loop after {@link #run}: {@code count} greedy tokens, the first from the prefill. */
  static int[] decode(Geometry model, PlainEngine engine, SequenceState seq, float[] hidden, PagedKvCache[] caches,
      int id, int count) {
    // README decode loop: begin
    int[] tokens = new int[count];
    tokens[0] = engine.greedy(hidden, seq.rows() - 1);        // your final norm, LM head, sampling
    BatchShape one = new BatchShape(Batch.single(1), model.heads(), model.kvHeads(), model.headDim());
    for (int t = 1; t < count; t++) {
      float[] x = engine.embed(tokens[t - 1]);                 // [1, D]
      int[] pos = {seq.appendToken()};                         // every layer's K/V grows by one row
      for (int l = 0; l < model.layers(); l++) {
        float[][] qkv = engine.qkv(l, x, 1, pos);
        Kernels.appendKv(FloatData.of(qkv[1]), FloatData.of(qkv[2]), caches[l], caches[l].reserve(id, 1));
        float[] out = new float[model.hidden()];              // attends to this layer's own table and length
        Kernels.pagedDecodeAttention(one, FloatData.of(qkv[0]), caches[l], new int[] {id}, FloatData.of(out), null);
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
    Recipe recipe = new Recipe(Recipe.VERSION, g.name(), g.layers(), V, 0.3, "full", "fast", 0.5, prune, null, null, 4);
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
    Recipe recipe = new Recipe(Recipe.VERSION, g.name(), g.layers(), V, 0.3, "full", "fast", 0.5, new int[] {4, 2, 3},
        null, null, 4);
    DecoderWeights w = DecoderWeights.random(c, 31);
    float[] e = DecoderTest.embeds(32, N, c.hidden());
    PlainEngine engine = new PlainEngine(w);
    float[] hidden = e.clone();
    PagedKvCache[] caches = caches(g, N + count, 3);
    int id = 0;
    SequenceState seq = run(g, recipe, engine, hidden, N, new Spans(P, V), caches, id);
    int[] tokens = decode(g, engine, seq, hidden, caches, id, count);
    float[] pagedLast = engine.lastDecodeHidden;

    int[] kv = seq.kvLengths();
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
      int[] pos = {seq2.appendToken()};
      for (int l = 0; l < g.layers(); l++) {
        float[][] qkv = engine.qkv(l, x, 1, pos);
        NativeData<?>[] kl = {FloatData.of(kc[l])}, vl = {FloatData.of(vc[l])};
        Kernels.appendKv(one, FloatData.of(qkv[1]), FloatData.of(qkv[2]), kl, vl, new long[] {len[l]});
        len[l]++;
        float[] out = new float[g.hidden()];
        Kernels.decodeAttention(one, FloatData.of(qkv[0]), kl, vl, new long[] {len[l]}, FloatData.of(out), null);
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
    float[] kp = new float[(int) c.keys().length()], vp = new float[(int) c.values().length()];
    ((FloatData) c.keys()).pointer().get(kp);
    ((FloatData) c.values()).pointer().get(vp);
    for (int r = 0; r < c.length(seq); r++) {
      int slot = table[r / bs] * bs + r % bs;
      System.arraycopy(kp, slot * row, k, r * row, row);
      System.arraycopy(vp, slot * row, v, r * row, row);
    }
  }

  @Test
  void theReadmeShowsTheseLoops() throws IOException {
    String readme = Files.readString(Path.of("README.md"));
    String src = Files.readString(Path.of("src/test/java/io/fitprune/decoder/EngineLoopTest.java"));
    for (String name : LOOPS) {
      String begin = "// README " + name + ": begin", end = "// README " + name + ": end";
      String loop = src.substring(src.lastIndexOf(begin) + begin.length(), src.lastIndexOf(end));
      String shown = dedent(loop);
      assertTrue(shown.lines().count() > 10, shown);
      assertTrue(readme.contains("```java\n" + shown + "```"),
          "README.md must show the " + name + " of EngineLoopTest exactly:\n" + shown);
    }
  }

  /** The lines without their common indentation, each ending in a newline; blank edges dropped. */
  static String dedent(String block) {
    String[] lines = block.strip().isEmpty() ? new String[0] : block.split("\n");
    int from = 0, to = lines.length;
    while (from < to && lines[from].isBlank()) from++;
    while (to > from && lines[to - 1].isBlank()) to--;
    String[] body = Arrays.copyOfRange(lines, from, to);
    int indent = Arrays.stream(body).filter(s -> !s.isBlank()).mapToInt(s -> s.length() - s.stripLeading().length())
        .min().orElse(0);
    return Arrays.stream(body).map(s -> s.isBlank() ? "" : s.substring(indent)).collect(Collectors.joining("\n", "", "\n"));
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
