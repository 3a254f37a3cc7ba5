package io.fitprune.decoder;

import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.FloatData;
import io.fitprune.kernels.IntData;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The reference LLaMA-family decoder with FitPrune applied in prefill (DESIGN.md section 4).
 *
 * <p>A layer: {@code h = RMSNorm(x)}; q, k, v projections (libtorch {@code linear}, zero-copy on
 * the weights); RoPE at each token's own position id; causal GQA attention with log-sum-exp
 * through our kernel; when the pruner asks for it, the FitPrune score pass, the selection of the
 * survivors and the in-place gather of the attention output and the residual stream (our
 * kernels); then output projection, residual, RMSNorm and SwiGLU MLP on the survivors only.
 *
 * <p>The two halves of a layer are public ({@link #attend}, {@link #finish}) so exact-mode fitting
 * can choose the dropped tokens itself. Every layer keeps its own K/V cache: the pruning layer
 * caches all tokens it saw, later layers only the survivors, so each has its own length during
 * decoding.
 *
 * <p>Not thread-safe per {@link State}; one {@code Decoder} may serve many states from many threads.
 */
public final class Decoder {
  private final DecoderConfig c;
  private final DecoderWeights w;
  private final float[] invFreq;
  private volatile float[][] ropeTable = {new float[0], new float[0]}; // cos, sin: [pos][d/2]

  static {
    DecoderRuntime.init();
    // libtorch may start with one intra-op thread (it counts physical cores); the dense layers
    // need them all. FITPRUNE_THREADS (also read by the kernels' pool) overrides.
    useThreads(0);
  }

  /** Threads for libtorch's dense layers and our kernels' pool; {@code <= 0}: FITPRUNE_THREADS or one per CPU. Process-wide. */
  public static void useThreads(int threads) {
    int n = threads;
    if (n <= 0) {
      String env = System.getenv("FITPRUNE_THREADS");
      try {
        n = env == null ? 0 : Integer.parseInt(env.trim());
      } catch (NumberFormatException e) {
        n = 0;
      }
      if (n <= 0) n = Runtime.getRuntime().availableProcessors();
    }
    torch.set_num_threads(n);
    Kernels.useThreads(n);
  }

  public Decoder(DecoderWeights weights) {
    this.w = weights;
    this.c = weights.config();
    int half = c.headDim() / 2;
    invFreq = new float[half];
    for (int i = 0; i < half; i++) invFreq[i] = (float) (1.0 / Math.pow(c.ropeTheta(), (2.0 * i) / c.headDim()));
  }

  public DecoderConfig config() {
    return c;
  }

  public DecoderWeights weights() {
    return w;
  }

  // ------------------------------------------------------------------ state

  /** One sequence's progress through the decoder. */
  public static final class State implements AutoCloseable {
    Tensor x;              // residual stream [n, D] (contiguous; rows compacted in place)
    int n;                 // tokens alive
    int[] positions;       // original position of each alive row
    final int prefix;      // P
    int visual;            // visual tokens alive
    int[] visualIds;       // their original indices, ascending
    final int originalLength;
    int nextPosition;      // position of the next decoded token
    int layer;             // next layer to run
    final int[] visualAfter;   // visual tokens alive after each layer
    final Tensor[] kCache, vCache; // per layer [cap, G, d]; null entries when not caching
    final int[] kvLength;
    final int reserve;     // extra cache rows for decoding; < 0: no caches
    Attended pending;
    Profile profile; // null: not profiling

    /** Turns per-phase timing on for this state (off by default). */
    public Profile profile() {
      if (profile == null) profile = new Profile();
      return profile;
    }

    State(DecoderConfig c, Tensor x, int n, Spans spans, int reserve) {
      this.x = x;
      this.n = n;
      this.positions = new int[n];
      for (int i = 0; i < n; i++) positions[i] = i;
      this.prefix = (int) spans.prefix();
      this.visual = (int) spans.visual();
      this.visualIds = new int[visual];
      for (int j = 0; j < visual; j++) visualIds[j] = prefix + j;
      this.originalLength = n;
      this.nextPosition = n;
      this.visualAfter = new int[c.layers()];
      this.kCache = new Tensor[c.layers()];
      this.vCache = new Tensor[c.layers()];
      this.kvLength = new int[c.layers()];
      this.reserve = reserve;
    }

    public int tokens() {
      return n;
    }

    public int visual() {
      return visual;
    }

    public int text() {
      return n - prefix - visual;
    }

    public Spans spans() {
      return new Spans(prefix, visual);
    }

    /** Original position ids of the alive rows. */
    public int[] positions() {
      return positions.clone();
    }

    /** Original indices of the alive visual tokens, ascending. */
    public int[] visualIds() {
      return visualIds.clone();
    }

    /** Visual tokens alive after each layer run so far. */
    public int[] visualAfter() {
      return Arrays.copyOf(visualAfter, layer);
    }

    /** K/V cache length of each layer (0 for layers not run or not cached). */
    public int[] kvLengths() {
      return kvLength.clone();
    }

    /** Layers run so far. */
    public int layersDone() {
      return layer;
    }

    /** Frees the native memory of the residual stream and the K/V caches now (idempotent). */
    @Override
    public void close() {
      if (pending != null) {
        pending.out.close();
        pending = null;
      }
      if (x != null) x.close();
      x = null;
      for (int l = 0; l < kCache.length; l++) {
        if (kCache[l] != null) kCache[l].close();
        if (vCache[l] != null) vCache[l].close();
        kCache[l] = vCache[l] = null;
      }
    }

    /** A copy of the residual stream {@code [n, D]}. */
    public float[] hidden() {
      float[] out = new float[(int) x.numel()];
      x.data_ptr_float().capacity(x.numel()).get(out);
      return out;
    }
  }

  /** Wall time per phase of the layers run on a state (when profiling is on). */
  public static final class Profile {
    public static final String[] PHASES = {"input-norm", "qkv", "rope", "attention", "scores", "select", "gather",
        "o-proj", "mlp"};
    final long[] nanos = new long[PHASES.length];

    void add(int phase, long since) {
      nanos[phase] += System.nanoTime() - since;
    }

    /** Seconds per phase, in {@link #PHASES} order. */
    public double[] seconds() {
      double[] out = new double[nanos.length];
      for (int i = 0; i < out.length; i++) out[i] = nanos[i] / 1e9;
      return out;
    }

    public void addTo(Profile total) {
      for (int i = 0; i < nanos.length; i++) total.nanos[i] += nanos[i];
    }
  }

  static final int P_NORM = 0, P_QKV = 1, P_ROPE = 2, P_ATT = 3, P_SCORES = 4, P_SELECT = 5, P_GATHER = 6, P_O = 7,
      P_MLP = 8;

  /** The first half of a layer: attention on the current tokens, and the scores when asked for. */
  public static final class Attended {
    final int layer;
    final Tensor out;       // [n, H, d]
    final float[] self, cross; // [visual] or null

    Attended(int layer, Tensor out, float[] self, float[] cross) {
      this.layer = layer;
      this.out = out;
      this.self = self;
      this.cross = cross;
    }

    public float[] self() {
      return self;
    }

    public float[] cross() {
      return cross;
    }
  }

  /**
   * Starts a sequence from input embeddings {@code [n, D]} (copied: the decoder compacts its own
   * residual stream in place). {@code decodeReserve >= 0} keeps per-layer K/V caches with room for
   * that many decoded tokens; {@code < 0} keeps none (fitting, statistics).
   */
  public State start(Tensor embeds, Spans spans, int decodeReserve) {
    if (embeds == null) throw new IllegalArgumentException("embeds is null");
    if (spans == null) throw new IllegalArgumentException("spans is null");
    if (embeds.dim() != 2 || embeds.size(1) != c.hidden())
      throw new IllegalArgumentException("embeds: expected shape [n, " + c.hidden() + "], got " + shape(embeds));
    if (embeds.scalar_type().value != torch.ScalarType.Float.value)
      throw new IllegalArgumentException("embeds: expected float32, got " + embeds.scalar_type());
    int n = Math.toIntExact(embeds.size(0));
    if (n < 1) throw new IllegalArgumentException("embeds: need at least one token");
    spans.requireWithin(n);
    try (Tensor ct = embeds.contiguous()) {
      Tensor own = ct.clone();
      io.fitprune.kernels.Kernels.requireFinite("embeds", "[n,D]", io.fitprune.kernels.FloatData.of(own), n, c.hidden());
      return new State(c, own, n, spans, decodeReserve);
    }
  }

  public State start(float[] embeds, Spans spans, int decodeReserve) {
    if (embeds == null) throw new IllegalArgumentException("embeds is null");
    if (embeds.length % c.hidden() != 0 || embeds.length == 0)
      throw new IllegalArgumentException("embeds: length " + embeds.length + " is not a positive multiple of D="
          + c.hidden());
    return start(Tensors.of(embeds, embeds.length / c.hidden(), c.hidden()), spans, decodeReserve);
  }

  // ------------------------------------------------------------------ layers

  /**
   * Native tensors created for one step, released deterministically when it ends: leaving them to
   * the garbage collector made every prefill fault in fresh pages for all its temporaries (slow in
   * a VM), and kept memory high between collections.
   */
  static final class Temps implements AutoCloseable {
    private final java.util.ArrayList<Tensor> list = new java.util.ArrayList<>();

    Tensor add(Tensor t) {
      list.add(t);
      return t;
    }

    @Override
    public void close() {
      for (int i = list.size() - 1; i >= 0; i--) list.get(i).close();
      list.clear();
    }
  }

  /** Runs the first half of the state's next layer: norm, QKV, RoPE, attention (+ scores), caching K/V. */
  public Attended attend(State s, boolean withScores) {
    if (s.pending != null) throw new IllegalStateException("attend: layer " + s.layer + " is waiting for finish()");
    if (s.layer >= c.layers()) throw new IllegalStateException("attend: all " + c.layers() + " layers already ran");
    int l = s.layer, n = s.n, H = c.heads(), G = c.kvHeads(), d = c.headDim();
    DecoderWeights.Layer lw = w.layer(l);
    Profile pf = s.profile;
    try (Temps tp = new Temps()) {
      long t = System.nanoTime();
      Tensor h = tp.add(rmsNorm(s.x, lw.inputNorm()));
      if (pf != null) pf.add(P_NORM, t);
      t = System.nanoTime();
      Tensor q = tp.add(torch.linear(h, lw.q())), k, v;
      if (s.reserve >= 0) { // K and V go straight into this layer's cache: no copy
        int cap = n + s.reserve;
        if (s.kCache[l] != null) {
          s.kCache[l].close();
          s.vCache[l].close();
        }
        Tensor kc = torch.empty(cap, G, d), vc = torch.empty(cap, G, d);
        s.kCache[l] = kc;
        s.vCache[l] = vc;
        s.kvLength[l] = n;
        k = tp.add(tp.add(tp.add(kc.view(cap, (long) G * d)).narrow(0, 0, n)));
        v = tp.add(tp.add(tp.add(vc.view(cap, (long) G * d)).narrow(0, 0, n)));
        torch.linear_out(k, h, lw.k());
        torch.linear_out(v, h, lw.v());
      } else {
        k = tp.add(torch.linear(h, lw.k()));
        v = tp.add(torch.linear(h, lw.v()));
      }
      if (pf != null) pf.add(P_QKV, t);
      t = System.nanoTime();
      rope(q, s.positions, H);
      rope(k, s.positions, G);
      if (pf != null) pf.add(P_ROPE, t);
      t = System.nanoTime();
      AttentionShape shape = new AttentionShape(n, H, G, d);
      Tensor q3 = tp.add(q.view(n, H, d)), k3 = tp.add(k.view(n, G, d)), v3 = tp.add(v.view(n, G, d));
      Tensor out = torch.empty(n, H, d), lse = tp.add(torch.empty(H, n));
      FloatData qd = FloatData.of(q3), kd = FloatData.of(k3);
      Kernels.attention(shape, qd, kd, FloatData.of(v3), FloatData.of(out), FloatData.of(lse));
      if (pf != null) pf.add(P_ATT, t);
      float[] self = null, cross = null;
      if (withScores && s.visual > 0) {
        t = System.nanoTime();
        Tensor st = tp.add(torch.empty(s.visual)), ct = tp.add(torch.empty(s.visual));
        Kernels.scores(shape, s.spans(), qd, kd, FloatData.of(lse), FloatData.of(st), FloatData.of(ct));
        self = toArray(st);
        cross = toArray(ct);
        if (pf != null) pf.add(P_SCORES, t);
      }
      s.pending = new Attended(l, out, self, cross);
      return s.pending;
    }
  }

  /**
   * Completes the layer {@link #attend} started: keeps rows {@code keep} (ascending indices into
   * the current sequence; null keeps all) of the attention output, residual stream, position ids
   * and visual bookkeeping, then output projection and MLP on the survivors. Only visual rows may
   * be dropped.
   */
  public void finish(State s, int[] keep) {
    Attended a = s.pending;
    if (a == null) throw new IllegalStateException("finish: attend() was not called for layer " + s.layer);
    if (keep != null && keep.length != s.n) checkKeep(s, keep);
    int l = s.layer, D = c.hidden();
    Profile pf = s.profile;
    try (Temps tp = new Temps()) {
      tp.add(a.out);
      Tensor o = tp.add(a.out.view(s.n, D));
      long t = System.nanoTime();
      if (keep != null && keep.length != s.n) {
        IntData idx = IntData.of(keep);
        FloatData od = FloatData.of(o), xd = FloatData.of(s.x);
        Kernels.gatherRows(od, s.n, D, idx, od); // in place: indices ascending
        Kernels.gatherRows(xd, s.n, D, idx, xd);
        int m = keep.length;
        o = tp.add(o.narrow(0, 0, m));
        Tensor old = s.x;
        s.x = s.x.narrow(0, 0, m);
        old.close();
        int[] pos = new int[m];
        int[] vis = new int[s.visual - (s.n - m)];
        int vw = 0;
        for (int i = 0; i < m; i++) {
          int r = keep[i];
          pos[i] = s.positions[r];
          if (r >= s.prefix && r < s.prefix + s.visual) vis[vw++] = s.visualIds[r - s.prefix];
        }
        s.positions = pos;
        s.visualIds = vis;
        s.visual = vis.length;
        s.n = m;
        if (pf != null) pf.add(P_GATHER, t);
      }
      DecoderWeights.Layer lw = w.layer(l);
      t = System.nanoTime();
      s.x.add_(tp.add(torch.linear(o, lw.o()))); // in-place ops return their receiver: never close them
      if (pf != null) pf.add(P_O, t);
      t = System.nanoTime();
      mlp(s.x, lw);
      if (pf != null) pf.add(P_MLP, t);
    }
    s.visualAfter[l] = s.visual;
    s.pending = null;
    s.layer++;
  }

  private static void checkKeep(State s, int[] keep) {
    int prev = -1, vis = 0;
    for (int r : keep) {
      if (r <= prev || r >= s.n)
        throw new IllegalArgumentException("keep: rows must be strictly ascending in [0, " + s.n + "), got "
            + Arrays.toString(Arrays.copyOf(keep, Math.min(keep.length, 20))));
      prev = r;
      if (r >= s.prefix && r < s.prefix + s.visual) vis++;
    }
    if (keep.length - vis != s.n - s.visual)
      throw new IllegalArgumentException("keep: only visual tokens may be dropped (" + (s.n - s.visual)
          + " prefix and text rows, " + (keep.length - vis) + " kept)");
  }

  private void mlp(Tensor x, DecoderWeights.Layer lw) {
    try (Temps tp = new Temps()) {
      Tensor h = tp.add(rmsNorm(x, lw.postNorm()));
      Tensor g = tp.add(torch.linear(h, lw.gate()));
      torch.silu_(g);
      g.mul_(tp.add(torch.linear(h, lw.up())));
      x.add_(tp.add(torch.linear(g, lw.down())));
    }
  }

  /** Runs one whole layer on the state, pruning as the pruner says. */
  public void layer(State s, Pruner p) {
    int drop = Math.min(Math.max(0, p.count(s.layer, s.visual)), s.visual);
    Attended a = attend(s, drop > 0 && p.needsScores());
    int[] keep = null;
    if (drop > 0) {
      long t = System.nanoTime();
      keep = p.keep(s.layer, s.n, s.spans(), s.visualIds, a.self, a.cross, drop);
      if (s.profile != null) s.profile.add(P_SELECT, t);
      if (keep.length != s.n - drop)
        throw new IllegalStateException(p.name() + " kept " + keep.length + " rows, expected " + (s.n - drop));
    }
    finish(s, keep);
  }

  // ------------------------------------------------------------------ prefill and decode

  /** What a prefill produced. */
  public record Prefill(State state, int nextToken, float[] lastHidden, double seconds) implements AutoCloseable {
    /** Frees the state's native memory (residual stream, K/V caches). */
    @Override
    public void close() {
      state.close();
    }

    /** Visual tokens alive after each layer. */
    public int[] visualAfter() {
      return state.visualAfter();
    }
  }

  /**
   * Runs all layers on the embeddings with the pruner, then the final norm and LM head on the last
   * row. {@code decodeReserve >= 0} keeps K/V caches for {@link #generate}.
   */
  public Prefill prefill(Tensor embeds, Spans spans, Pruner pruner, int decodeReserve) {
    return prefill(embeds, spans, pruner, decodeReserve, null);
  }

  /** As {@link #prefill(Tensor, Spans, Pruner, int)}, adding per-phase times to {@code profile} when not null. */
  public Prefill prefill(Tensor embeds, Spans spans, Pruner pruner, int decodeReserve, Profile profile) {
    if (pruner == null) pruner = Pruner.none();
    if (pruner.layers() >= 0 && pruner.layers() != c.layers())
      throw new IllegalArgumentException("recipe: " + pruner.layers() + " per-layer counts for a model of " + c.layers()
          + " layers");
    long t0 = System.nanoTime();
    State s = start(embeds, spans, decodeReserve);
    s.profile = profile;
    while (s.layer < c.layers()) layer(s, pruner);
    try (Temps tp = new Temps()) {
      Tensor last = tp.add(rmsNorm(tp.add(s.x.narrow(0, s.n - 1, 1)), w.finalNorm()));
      int next = argmax(tp.add(torch.linear(last, w.lmHead())));
      double sec = (System.nanoTime() - t0) / 1e9;
      return new Prefill(s, next, toArray(last), sec);
    }
  }

  public Prefill prefill(float[] embeds, Spans spans, Pruner pruner, int decodeReserve) {
    if (embeds == null || embeds.length % c.hidden() != 0 || embeds.length == 0)
      throw new IllegalArgumentException("embeds: need a positive multiple of D=" + c.hidden() + " floats");
    return prefill(Tensors.of(embeds, embeds.length / c.hidden(), c.hidden()), spans, pruner, decodeReserve);
  }

  /**
   * Greedy decoding after a prefill: returns {@code count} tokens, the first being the prefill's
   * own prediction; each later one is fed back through every layer's cache.
   */
  public int[] generate(Prefill p, int count) {
    if (count < 0) throw new IllegalArgumentException("generate: count must be >= 0, got " + count);
    int[] out = new int[count];
    if (count == 0) return out;
    out[0] = p.nextToken();
    for (int i = 1; i < count; i++) out[i] = step(p.state(), out[i - 1]).nextToken();
    return out;
  }

  /** The result of one decoding step. */
  public record Step(int nextToken, float[] hidden) {}

  /** Feeds token {@code token} at the next position through every layer's cache; returns the greedy next token. */
  public Step step(State s, int token) {
    Tensor emb = w.embed();
    if (emb == null) throw new IllegalStateException("decoding needs model.embed_tokens.weight, which the weights lack");
    if (token < 0 || token >= c.vocab())
      throw new IllegalArgumentException("token " + token + " outside the vocabulary [0, " + c.vocab() + ")");
    try (Temps tp = new Temps()) {
      return step(s, tp.add(emb.narrow(0, token, 1)));
    }
  }

  /** Feeds one embedding row {@code [1, D]} at the next position. */
  public Step step(State s, Tensor x) {
    if (s.reserve < 0) throw new IllegalStateException("decode: the prefill kept no K/V caches (decodeReserve < 0)");
    if (s.layer != c.layers()) throw new IllegalStateException("decode: prefill has not finished");
    int H = c.heads(), G = c.kvHeads(), d = c.headDim(), D = c.hidden(), grp = H / G;
    int pos = s.nextPosition;
    int[] posArr = {pos};
    try (Temps tp = new Temps()) {
      x = tp.add(tp.add(x.contiguous()).clone());
      Tensor scale = null;
      for (int l = 0; l < c.layers(); l++) {
        int len = s.kvLength[l];
        if (len + 1 > s.kCache[l].size(0))
          throw new IllegalStateException("decode: K/V cache of layer " + l + " is full (" + len
              + " rows): prefill with a larger reserve");
        DecoderWeights.Layer lw = w.layer(l);
        Tensor h = tp.add(rmsNorm(x, lw.inputNorm()));
        Tensor q = tp.add(torch.linear(h, lw.q())), k = tp.add(torch.linear(h, lw.k())), v = tp.add(torch.linear(h, lw.v()));
        rope(q, posArr, H);
        rope(k, posArr, G);
        tp.add(s.kCache[l].narrow(0, len, 1)).copy_(tp.add(k.view(1, G, d)));
        tp.add(s.vCache[l].narrow(0, len, 1)).copy_(tp.add(v.view(1, G, d)));
        s.kvLength[l] = ++len;
        Tensor kk = tp.add(tp.add(s.kCache[l].narrow(0, 0, len)).permute(1, 2, 0)); // [G, d, len]
        Tensor vv = tp.add(tp.add(s.vCache[l].narrow(0, 0, len)).permute(1, 0, 2)); // [G, len, d]
        Tensor qq = tp.add(q.view(G, grp, d));
        Tensor logits = tp.add(torch.bmm(qq, kk));
        logits.mul_(new org.bytedeco.pytorch.Scalar((float) (1 / Math.sqrt(d))));
        Tensor att = tp.add(torch.softmax(logits, -1));
        Tensor o = tp.add(tp.add(torch.bmm(att, vv)).reshape(1, D));
        x.add_(tp.add(torch.linear(o, lw.o())));
        mlp(x, lw);
      }
      s.nextPosition++;
      Tensor last = tp.add(rmsNorm(x, w.finalNorm()));
      return new Step(argmax(tp.add(torch.linear(last, w.lmHead()))), toArray(last));
    }
  }

  // ------------------------------------------------------------------ pieces

  /**
   * RMSNorm into a new tensor: {@code y = x / sqrt(mean(x^2) + eps) * w}, sums in double. A
   * single-threaded loop: it is memory-bound and about 1 ms at n = 624, D = 1024, while libtorch's
   * two-thread {@code rms_norm} took anywhere from 0.3 to 15 ms on the shared 2-core machine (a
   * parallel region waits for its slowest thread, and a thread that loses its core waits a time slice).
   */
  private Tensor rmsNorm(Tensor x, Tensor weight) {
    int D = c.hidden(), rows = (int) (x.numel() / D);
    Tensor y = torch.empty(rows, D);
    FloatBuffer xb = x.data_ptr_float().capacity(x.numel()).asBuffer();
    FloatBuffer yb = y.data_ptr_float().capacity(y.numel()).asBuffer();
    float[] wv = new float[D], row = new float[D];
    weight.data_ptr_float().capacity(D).asBuffer().get(0, wv);
    double eps = c.rmsEps();
    for (int i = 0; i < rows; i++) {
      xb.get(i * D, row);
      double ss = 0;
      for (int j = 0; j < D; j++) ss += row[j] * row[j];
      float inv = (float) (1 / Math.sqrt(ss / D + eps));
      for (int j = 0; j < D; j++) row[j] = row[j] * inv * wv[j];
      yb.put(i * D, row);
    }
    return y;
  }

  /** Rotary embedding in place on rows {@code [n, heads*d]}, row i at position {@code pos[i]} (rotate-half convention). */
  private void rope(Tensor t, int[] pos, int heads) {
    int d = c.headDim(), half = d / 2, n = pos.length;
    int maxPos = 0;
    for (int p : pos) maxPos = Math.max(maxPos, p);
    float[][] table = ropeTable(maxPos + 1);
    float[] cos = table[0], sin = table[1];
    FloatBuffer b = t.data_ptr_float().capacity(t.numel()).asBuffer();
    int width = heads * d;
    IntStream rows = IntStream.range(0, n);
    rows.forEach(i -> {
      int tb = pos[i] * half, base = i * width;
      for (int hh = 0; hh < heads; hh++) {
        int o = base + hh * d;
        for (int j = 0; j < half; j++) {
          float x1 = b.get(o + j), x2 = b.get(o + j + half), cs = cos[tb + j], sn = sin[tb + j];
          b.put(o + j, x1 * cs - x2 * sn);
          b.put(o + j + half, x2 * cs + x1 * sn);
        }
      }
    });
  }

  private float[][] ropeTable(int positions) {
    float[][] t = ropeTable;
    int half = c.headDim() / 2;
    if (t[0].length >= positions * half) return t;
    synchronized (this) {
      t = ropeTable;
      if (t[0].length >= positions * half) return t;
      int cap = Math.max(positions, 2 * t[0].length / half);
      float[] cos = new float[cap * half], sin = new float[cap * half];
      for (int p = 0; p < cap; p++)
        for (int j = 0; j < half; j++) {
          float angle = (float) p * invFreq[j]; // float32 like the reference implementation
          cos[p * half + j] = (float) Math.cos(angle);
          sin[p * half + j] = (float) Math.sin(angle);
        }
      ropeTable = t = new float[][] {cos, sin};
      return t;
    }
  }

  static float[] toArray(Tensor t) {
    try (Tensor ct = t.contiguous()) {
      float[] out = new float[(int) ct.numel()];
      ct.data_ptr_float().capacity(ct.numel()).get(out);
      return out;
    }
  }

  private static int argmax(Tensor logits) {
    float[] v = toArray(logits);
    int best = 0;
    for (int i = 0; i < v.length; i++) {
      if (!Float.isFinite(v[i])) // a NaN would otherwise decode as token 0
        throw new IllegalStateException("logits [vocab] are not finite at [" + i + "] (" + v[i]
            + "): the final norm or LM head weights hold NaN or infinity");
      if (v[i] > v[best]) best = i;
    }
    return best;
  }

  static String shape(Tensor t) {
    long[] s = new long[(int) t.dim()];
    for (int i = 0; i < s.length; i++) s[i] = t.size(i);
    return Arrays.toString(s);
  }
}
