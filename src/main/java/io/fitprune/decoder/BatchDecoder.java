package io.fitprune.decoder;

import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.kernels.TorchData;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.SequenceState;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * Several requests through the reference decoder at once, each with its own length, spans and
 * pruner (one may be unpruned, another pruned at 30%, another at 70%). The requests' rows are
 * packed into one residual stream, so every dense layer is one matrix product for the whole batch;
 * attention and the score pass run over the packed batch (each sequence causal on its own), each
 * request's pruner picks its survivors, and one gather with the global keep list compacts the
 * batch. Decoding feeds one token per request through every layer, attending over each request's
 * own, ragged, per-layer K/V caches in one kernel call. q, k, v, the K/V caches and both
 * attentions are in the dense layers' type, as in {@link Decoder}: float32 for F32 weights, bf16
 * for BF16 and F16 weights (the CPU kernels' bf16 paths: half the cache memory of float32); the
 * residual stream is float32. Each request's results equal its own prefill and decoding run alone,
 * up to the rounding of the batched matrix products.
 */
public final class BatchDecoder {
  private final Decoder dec;
  private final DecoderConfig c;
  private final DecoderWeights w;

  public BatchDecoder(Decoder decoder) {
    if (decoder == null) throw new IllegalArgumentException("decoder is null");
    this.dec = decoder;
    this.c = decoder.config();
    this.w = decoder.weights();
  }

  /**
   * One request: input embeddings {@code [n, D]}, where its visual tokens are, how to prune it
   * (null: unpruned), and its position ids {@code [C][n]} (null: 0, 1, ...; see
   * {@link Decoder#start(Tensor, Spans, int[][], int)}).
   */
  public record Request(Tensor embeds, Spans spans, Pruner pruner, int[][] positions) {
    /** A request at positions 0, 1, ... */
    public Request(Tensor embeds, Spans spans, Pruner pruner) {
      this(embeds, spans, pruner, null);
    }
  }

  /**
   * Prefills every request together; {@code decodeReserve >= 0} keeps K/V caches for
   * {@link #generate}. Each result's {@code seconds} is the whole batch's time.
   */
  public List<Decoder.Prefill> prefill(List<Request> requests, int decodeReserve) {
    return prefill(requests, decodeReserve, null, true);
  }

  /**
   * The one prefill of the reference decoder ({@link Decoder#prefill} is a batch of one);
   * {@code profile} (may be null) takes the phases' times; {@code named}: errors name the request.
   */
  List<Decoder.Prefill> prefill(List<Request> requests, int decodeReserve, Profile profile, boolean named) {
    if (requests == null || requests.isEmpty()) throw new IllegalArgumentException("requests: need at least one");
    int B = requests.size();
    Pruner[] pruners = new Pruner[B];
    for (int b = 0; b < B; b++) {
      Request r = requests.get(b);
      if (r == null) throw new IllegalArgumentException("requests[" + b + "] is null");
      pruners[b] = r.pruner() == null ? Pruner.none() : r.pruner();
      if (pruners[b].layers() >= 0 && pruners[b].layers() != c.layers())
        throw new IllegalArgumentException((named ? "requests[" + b + "]: recipe of " : "recipe: ") + pruners[b].layers()
            + " per-layer counts for a model of " + c.layers() + " layers");
    }
    long t0 = System.nanoTime();
    List<DecoderState> states = new ArrayList<>(B);
    Tensor x = null;
    try {
      for (int b = 0; b < B; b++) {
        Request r = requests.get(b);
        try {
          states.add(dec.start(r.embeds(), r.spans(), r.positions(), decodeReserve));
        } catch (IllegalArgumentException e) {
          if (!named) throw e;
          throw new IllegalArgumentException("requests[" + b + "]: " + e.getMessage(), e);
        }
      }
      x = pack(states);
      for (int l = 0; l < c.layers(); l++) x = layer(states, pruners, x, l, profile);
      List<Decoder.Prefill> out = new ArrayList<>(B);
      Decoder.Step[] last = lastTokens(x, states);
      double sec = (System.nanoTime() - t0) / 1e9;
      long start = 0;
      for (int b = 0; b < B; b++) { // each state gets its own residual stream back
        DecoderState s = states.get(b);
        int n = s.seq.rows();
        try (Tensor rows = x.narrow(0, start, n)) {
          s.x = rows.clone();
        }
        start += n;
        out.add(new Decoder.Prefill(s, last[b].nextToken(), last[b].hidden(), sec, last[b].logits()));
      }
      return out;
    } catch (RuntimeException | Error e) {
      for (DecoderState s : states) s.close();
      throw e;
    } finally {
      if (x != null) x.close();
    }
  }

  /** The states' residual streams packed into one tensor {@code [N, D]}; the states keep none meanwhile. */
  private static Tensor pack(List<DecoderState> states) {
    TensorVector parts = new TensorVector();
    for (DecoderState s : states) parts.push_back(s.x);
    Tensor x = torch.cat(parts);
    for (DecoderState s : states) {
      s.x.close();
      s.x = null;
    }
    return x;
  }

  /**
   * One layer for the whole batch, each sequence pruned by its own pruner; returns the (possibly
   * compacted) packed residual stream.
   */
  Tensor layer(List<DecoderState> states, Pruner[] pruners, Tensor x, int l, Profile pf) {
    int B = states.size();
    long[] drop = new long[B];
    boolean[] want = new boolean[B];
    for (int b = 0; b < B; b++) {
      SequenceState seq = states.get(b).seq;
      drop[b] = Math.min(Math.max(0, pruners[b].count(seq)), seq.visual());
      want[b] = drop[b] > 0 && pruners[b].needsScores();
    }
    Attended a = PackedLayer.attend(dec, states, x, l, want, pf);
    int[][] keeps = new int[B][];
    try {
      long t = System.nanoTime();
      for (int b = 0; b < B; b++) {
        SequenceState seq = states.get(b).seq;
        if (drop[b] == 0) continue;
        keeps[b] = pruners[b].keep(seq, a.self(b), a.cross(b), drop[b]);
        if (keeps[b].length != seq.rows() - drop[b])
          throw new IllegalStateException(pruners[b].name() + " kept " + keeps[b].length + " rows"
              + (B > 1 ? " of request " + b : "") + ", expected " + (seq.rows() - drop[b]));
      }
      if (pf != null) pf.add(Profile.SELECT, t);
    } catch (RuntimeException | Error e) {
      a.out.close();
      throw e;
    }
    return PackedLayer.finish(dec, states, x, a, keeps, pf);
  }

  /** Final norm and LM head on each sequence's last row of the packed stream. */
  private Decoder.Step[] lastTokens(Tensor x, List<DecoderState> states) {
    int B = states.size();
    long[] rows = new long[B];
    long at = 0;
    for (int b = 0; b < B; b++) {
      at += states.get(b).seq.rows();
      rows[b] = at - 1;
    }
    try (Temps tp = new Temps()) {
      Tensor idx = tp.add(torch.tensor(rows));
      return head(tp.add(torch.index_select(x, 0, idx)));
    }
  }

  /** Greedy next token, final hidden state and logits of each row of {@code x [B, D]}. */
  private Decoder.Step[] head(Tensor x) {
    int B = (int) x.size(0), D = c.hidden();
    try (Temps tp = new Temps()) {
      Tensor last = tp.add(dec.rmsNorm(x, w.finalNorm()));
      Tensor logits = tp.add(Dense.linearFloat(last, w.lmHead(), null));
      float[] h = Decoder.toArray(last), all = Decoder.toArray(logits);
      int vocab = (int) logits.size(1);
      Decoder.Step[] out = new Decoder.Step[B];
      for (int b = 0; b < B; b++)
        out[b] = new Decoder.Step(Decoder.argmax(java.nio.FloatBuffer.wrap(all), b * vocab, vocab),
            java.util.Arrays.copyOfRange(h, b * D, (b + 1) * D), java.util.Arrays.copyOfRange(all, b * vocab, (b + 1) * vocab));
      return out;
    }
  }

  // ------------------------------------------------------------------ decoding

  /** Feeds {@code tokens[b]} to state b at its next position, all states in one pass; returns each greedy next token. */
  public Decoder.Step[] step(List<DecoderState> states, int[] tokens) {
    if (states == null || tokens == null) throw new IllegalArgumentException("states and tokens must not be null");
    if (tokens.length != states.size())
      throw new IllegalArgumentException("tokens: expected one per state (" + states.size() + "), got " + tokens.length);
    Tensor emb = w.embed();
    if (emb == null) throw new IllegalStateException("decoding needs model.embed_tokens.weight, which the weights lack");
    long[] ids = new long[tokens.length];
    for (int b = 0; b < tokens.length; b++) {
      if (tokens[b] < 0 || tokens[b] >= c.vocab())
        throw new IllegalArgumentException("tokens[" + b + "] = " + tokens[b] + " outside the vocabulary [0, " + c.vocab() + ")");
      ids[b] = tokens[b];
    }
    try (Temps tp = new Temps()) {
      return step(states, tp.add(torch.index_select(emb, 0, tp.add(torch.tensor(ids)))));
    }
  }

  /** Feeds row b of {@code x [B, D]} to state b at its next position, through every layer's own cache. */
  public Decoder.Step[] step(List<DecoderState> states, Tensor x) {
    int B = states.size(), D = c.hidden();
    if (B < 1) throw new IllegalArgumentException("states: need at least one");
    if (x == null || x.dim() != 2 || x.size(0) != B || x.size(1) != D)
      throw new IllegalArgumentException("x: expected shape [" + B + ", " + D + "], got " + (x == null ? "null" : Decoder.shape(x)));
    for (int b = 0; b < B; b++) {
      DecoderState s = states.get(b);
      if (s == null) throw new IllegalArgumentException("states[" + b + "] is null");
      s.requireRoomForToken(c.layers());
    }
    int[] pos = new int[B];
    for (int b = 0; b < B; b++) pos[b] = states.get(b).seq.appendToken()[0];
    if (B <= DecodeStep.MAX_ROWS) return dec.decodeStep().run(states, x, pos);
    return stepOnLibtorch(states, x, pos);
  }

  /**
   * A decode step whose dense layers are libtorch GEMMs, for batches past
   * {@link DecodeStep#MAX_ROWS} rows, where they beat the streaming kernel. {@code pos}: each
   * state's position, already appended.
   */
  Decoder.Step[] stepOnLibtorch(List<DecoderState> states, Tensor x, int[] pos) {
    int B = states.size(), H = c.heads(), G = c.kvHeads(), d = c.headDim(), D = c.hidden();
    long[] ones = new long[B];
    java.util.Arrays.fill(ones, 1);
    BatchShape shape = new BatchShape(Batch.ofLengths(ones), H, G, d, c.softmaxScale());
    try (Temps tp = new Temps()) {
      x = tp.add(x.to(torch.ScalarType.Float, false, true, new org.bytedeco.pytorch.MemoryFormatOptional(torch.MemoryFormat.Contiguous))); // own float32 copy
      Data[] kc = new Data[B], vc = new Data[B];
      long[] kvLen = new long[B];
      for (int l = 0; l < c.layers(); l++) {
        DecoderWeights.Layer lw = w.layer(l);
        Qkv qkv = Qkv.of(dec, tp, x, lw, pos);
        Tensor q = qkv.q(), k = qkv.k(), v = qkv.v();
        for (int b = 0; b < B; b++) {
          DecoderState s = states.get(b);
          int len = (int) s.seq.kvLength(l); // including the new token, at row len - 1
          tp.add(s.kCache[l].narrow(0, len - 1, 1)).copy_(tp.add(tp.add(k.narrow(0, b, 1)).view(1, G, d)));
          tp.add(s.vCache[l].narrow(0, len - 1, 1)).copy_(tp.add(tp.add(v.narrow(0, b, 1)).view(1, G, d)));
          kc[b] = s.kData[l]; // the caches' type is the projections' (both follow the weights)
          vc[b] = s.vData[l];
          kvLen[b] = len;
        }
        Tensor o = tp.add(torch.empty(B, H, d));
        Kernels.decodeAttention(shape, TorchData.of(tp.add(q.view(B, H, d))), kc, vc, kvLen, TorchData.floats(o), null);
        x.add_(tp.add(Dense.linear(tp.add(o.view(B, D)), lw.o(), null)));
        dec.mlp(x, lw);
      }
      return head(x);
    }
  }

  /**
   * Greedy decoding of every prefill together: {@code count} tokens each, the first being the
   * prefill's own prediction.
   */
  public int[][] generate(List<Decoder.Prefill> prefills, int count) {
    return generate(prefills, count, i -> {});
  }

  /**
   * {@link #generate(List, int)}, calling {@code onTokens} with each index {@code i} as soon as
   * every sequence's token {@code i} is chosen (0 for the prefills' own): a caller can time the
   * steps between.
   */
  public int[][] generate(List<Decoder.Prefill> prefills, int count, java.util.function.IntConsumer onTokens) {
    if (prefills == null || prefills.isEmpty()) throw new IllegalArgumentException("prefills: need at least one");
    if (count < 0) throw new IllegalArgumentException("generate: count must be >= 0, got " + count);
    if (onTokens == null) throw new IllegalArgumentException("onTokens must not be null");
    int B = prefills.size();
    int[][] out = new int[B][count];
    if (count == 0) return out;
    List<DecoderState> states = new ArrayList<>(B);
    int[] tokens = new int[B];
    for (int b = 0; b < B; b++) {
      states.add(prefills.get(b).state());
      tokens[b] = out[b][0] = prefills.get(b).nextToken();
    }
    onTokens.accept(0);
    for (int i = 1; i < count; i++) {
      Decoder.Step[] st = step(states, tokens);
      for (int b = 0; b < B; b++) tokens[b] = out[b][i] = st[b].nextToken();
      onTokens.accept(i);
    }
    return out;
  }
}
