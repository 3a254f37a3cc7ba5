package io.fitprune.decoder;

import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.kernels.TorchData;
import io.fitprune.pruning.SequenceState;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The one prefill layer of the reference decoder, over sequences packed into one residual stream
 * (a single sequence is a batch of one), in the two halves that exact-mode fitting drives apart:
 * {@link #attend} (norm, q/k/v, RoPE, each sequence's K/V into its cache, packed attention with
 * the scores in the same pass for the sequences that ask) and {@link #finish} (each sequence's
 * survivors, one gather of the packed attention output and residual stream, output projection and
 * MLP on the survivors).
 */
final class PackedLayer {
  private PackedLayer() {}

  /**
   * The first half of layer {@code l} on {@code x [N, D]}, the states' rows packed in order;
   * {@code wantScores[b]}: sequence b's scores (null for the others, and for a sequence without
   * visual tokens). {@code pf} (may be null) takes the phases' times.
   */
  static Attended attend(Decoder dec, List<DecoderState> states, Tensor x, int l, boolean[] wantScores, Profile pf) {
    DecoderConfig c = dec.config();
    int B = states.size(), H = c.heads(), G = c.kvHeads(), d = c.headDim();
    long[] lengths = new long[B];
    int total = 0;
    for (int b = 0; b < B; b++) total += lengths[b] = states.get(b).seq.rows();
    Batch batch = Batch.ofLengths(lengths);
    BatchShape shape = new BatchShape(batch, H, G, d, c.softmaxScale());
    DecoderWeights.Layer lw = dec.weights().layer(l);
    try (Temps tp = new Temps()) {
      int C = c.positionComponents();
      int[] pos = positions(states, total, C);
      Qkv qkv = Qkv.of(dec, tp, x, lw, pos, C, pf);
      Tensor q = qkv.q(), k = qkv.k(), v = qkv.v();
      for (int b = 0; b < B; b++) cache(c, states.get(b), l, k, v, batch.start(b), (int) lengths[b]);
      long t = System.nanoTime();
      Tensor out = torch.empty(total, H, d), lse = tp.add(torch.empty(H, total));
      Data qd = TorchData.of(tp.add(q.view(total, H, d))), kd = TorchData.of(tp.add(k.view(total, G, d)));
      Data vd = TorchData.of(tp.add(v.view(total, G, d)));
      Spans[] spans = new Spans[B];
      int[] visual0 = new int[B + 1];
      boolean scores = false;
      for (int b = 0; b < B; b++) { // scores only for the sequences that ask for them
        SequenceState seq = states.get(b).seq;
        boolean want = wantScores[b] && seq.visual() > 0;
        scores |= want;
        spans[b] = want ? seq.spans() : new Spans(seq.prefix(), 0);
        visual0[b + 1] = visual0[b] + (int) spans[b].visual();
      }
      float[] self = null, cross = null;
      if (scores) { // the scores come from the attention pass itself
        Tensor st = tp.add(torch.empty(visual0[B])), ct = tp.add(torch.empty(visual0[B]));
        Kernels.attentionScores(shape, spans, qd, kd, vd, TorchData.floats(out), TorchData.floats(lse),
            TorchData.floats(st), TorchData.floats(ct));
        self = Decoder.toArray(st);
        cross = Decoder.toArray(ct);
        if (pf != null) pf.add(Profile.SCORES, t);
      } else {
        Kernels.attention(shape, qd, kd, vd, TorchData.floats(out), TorchData.floats(lse));
        if (pf != null) pf.add(Profile.ATTENTION, t);
      }
      return new Attended(l, out, self, cross, visual0);
    }
  }

  /**
   * The second half: keeps rows {@code keeps[b]} (ascending indices into sequence b; null keeps
   * all) of each sequence, then output projection and MLP. Returns the residual stream, compacted
   * when anything was dropped ({@code x} is then closed). Each keep list is checked before its
   * sequence changes; {@code a.out} is closed on success.
   */
  static Tensor finish(Decoder dec, List<DecoderState> states, Tensor x, Attended a, int[][] keeps, Profile pf) {
    DecoderConfig c = dec.config();
    int B = states.size(), D = c.hidden();
    long[] lengths = new long[B];
    int total = 0, kept = 0;
    for (int b = 0; b < B; b++) total += lengths[b] = states.get(b).seq.rows();
    long t = System.nanoTime();
    for (int b = 0; b < B; b++) {
      states.get(b).seq.apply(a.layer, keeps[b]); // checks each keep list
      kept += states.get(b).seq.rows();
    }
    try (Temps tp = new Temps()) {
      tp.add(a.out);
      Tensor o = tp.add(a.out.view(total, D));
      if (kept < total) { // one gather of the packed batch, global rows ascending, in place
        int[] global = new int[kept];
        for (int b = 0, at = 0, s0 = 0; b < B; s0 += (int) lengths[b], b++) {
          if (keeps[b] == null) for (int r = 0; r < lengths[b]; r++) global[at++] = s0 + r;
          else for (int r : keeps[b]) global[at++] = s0 + r;
        }
        Data idx = Data.of(global);
        Data od = TorchData.floats(o), xd = TorchData.floats(x);
        Kernels.gatherRows(od, total, D, idx, od);
        Kernels.gatherRows(xd, total, D, idx, xd);
        o = tp.add(o.narrow(0, 0, kept));
        Tensor old = x;
        x = x.narrow(0, 0, kept);
        old.close();
        if (pf != null) pf.add(Profile.GATHER, t);
      }
      DecoderWeights.Layer lw = dec.weights().layer(a.layer);
      t = System.nanoTime();
      x.add_(tp.add(Dense.linear(o, lw.o(), null))); // in-place ops return their receiver: never close them
      if (pf != null) pf.add(Profile.O_PROJ, t);
      t = System.nanoTime();
      dec.mlp(x, lw);
      if (pf != null) pf.add(Profile.MLP, t);
      return x;
    }
  }

  /**
   * The rows' original position ids, {@code C} per row ({@code [total][C]} row-major): a state of
   * one component under M-RoPE has its id repeated, which is 1-D RoPE exactly.
   */
  private static int[] positions(List<DecoderState> states, int total, int C) {
    int[] pos = new int[total * C];
    int at = 0;
    for (DecoderState s : states) {
      int[] p = s.seq.positions();
      int sc = s.seq.positionComponents();
      if (sc == C) {
        System.arraycopy(p, 0, pos, at, p.length);
        at += p.length;
      } else { // 1 component, C = 3 (Decoder.start refuses 3 components for a 1-D decoder)
        for (int id : p) for (int k = 0; k < C; k++) pos[at++] = id;
      }
    }
    return pos;
  }

  /** Rows [start, start+n) of the batch's k and v into this layer's cache of the state (when it keeps caches), in their type. */
  private static void cache(DecoderConfig c, DecoderState s, int l, Tensor k, Tensor v, long start, int n) {
    if (s.reserve < 0) return;
    int G = c.kvHeads(), d = c.headDim(), cap = n + s.reserve;
    s.setCaches(l, Decoder.cacheOf(k.scalar_type(), cap, G, d), Decoder.cacheOf(v.scalar_type(), cap, G, d));
    try (Temps tp = new Temps()) {
      tp.add(s.kCache[l].narrow(0, 0, n)).copy_(tp.add(tp.add(k.narrow(0, start, n)).view(n, G, d)));
      tp.add(s.vCache[l].narrow(0, 0, n)).copy_(tp.add(tp.add(v.narrow(0, start, n)).view(n, G, d)));
    }
  }
}
