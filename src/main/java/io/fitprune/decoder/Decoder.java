package io.fitprune.decoder;

import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.kernels.TorchData;
import io.fitprune.pruning.Pruner;
import io.fitprune.pruning.SequenceState;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * The reference LLaMA-family decoder with FitPrune applied in prefill (docs/design.md, "Applying
 * a recipe").
 *
 * <p>A layer: {@code h = RMSNorm(x)}; q, k, v projections (libtorch {@code linear} on the weights
 * as loaded, in their precision: see {@link Dense}; q/k/v biases where the checkpoint has them;
 * with BF16 or F16 weights q, k, v, the K/V caches and attention are bf16, the attention output,
 * LSE and scores float32, the residual stream float32 throughout); RoPE at each token's own position id; causal GQA attention with log-sum-exp
 * through our kernel, logits scaled by {@link DecoderConfig#softmaxScale()} (1/sqrt(headDim));
 * when the pruner asks for it, the FitPrune score pass, the selection of the survivors and the
 * in-place gather of the attention output and the residual stream (our kernels, through
 * {@link SequenceState#apply}); then output projection, residual, RMSNorm and SwiGLU MLP on the
 * survivors only.
 *
 * <p>A single sequence is a batch of one: {@link #prefill} is {@link BatchDecoder}'s prefill on one
 * request, and every layer is {@link PackedLayer}'s. The two halves of a layer are public
 * ({@link #attend}, {@link #finish}) so exact-mode fitting can choose the dropped tokens itself. Every layer keeps its own K/V cache: the pruning layer
 * caches all tokens it saw, later layers only the survivors. Decoding lives in {@link Generation}.
 *
 * <p>Not thread-safe per {@link DecoderState}; one {@code Decoder} may serve many states from many threads.
 */
public final class Decoder {
  private final DecoderConfig c;
  private final DecoderWeights w;
  private final Rope rope;
  private final Generation generation;
  private final BatchDecoder batch;
  private volatile DecodeStep decodeStep; // built at the first decode step

  public Decoder(DecoderWeights weights) {
    if (weights == null) throw new IllegalArgumentException("weights is null");
    this.w = weights;
    this.c = weights.config();
    this.rope = new Rope(c.headDim(), c.ropeTheta(), c.mropeSection());
    this.generation = new Generation(this);
    this.batch = new BatchDecoder(this);
  }

  public DecoderConfig config() {
    return c;
  }

  public DecoderWeights weights() {
    return w;
  }

  Rope rope() {
    return rope;
  }

  /** Bytes of weights a decode step reads: every dense layer and the LM head, once per step whatever the batch. */
  public long decodeWeightBytes() {
    long n = 0;
    for (io.fitprune.kernels.Weight x : decodeStep().weights()) n += x.bytes();
    return n;
  }

  /**
   * The machine's read rate over this decoder's weights where they lie (memory-mapped pages of a
   * checkpoint, say), in GB/s: the limit a decode step's weight bandwidth is a fraction of. One
   * pass over all of them.
   */
  public double weightReadBandwidth() {
    return io.fitprune.kernels.Kernels.readBandwidth(decodeStep().weights(), 0);
  }

  /** The native decode step over this decoder's weights (built once, shared by all threads). */
  DecodeStep decodeStep() {
    DecodeStep d = decodeStep;
    if (d == null) {
      synchronized (this) {
        d = decodeStep;
        if (d == null) decodeStep = d = new DecodeStep(this);
      }
    }
    return d;
  }

  /**
   * Starts a sequence from input embeddings {@code [n, D]} (copied: the decoder compacts its own
   * residual stream in place). {@code decodeReserve >= 0} keeps per-layer K/V caches with room for
   * that many decoded tokens; {@code < 0} keeps none (fitting, statistics).
   */
  public DecoderState start(Tensor embeds, Spans spans, int decodeReserve) {
    return start(embeds, spans, null, decodeReserve);
  }

  /**
   * As {@link #start(Tensor, Spans, int)} with explicit position ids {@code positions[c][i]}: row i's
   * component c, {@code [1][n]} or, for a decoder with M-RoPE, {@code [3][n]} (t, h, w, as
   * {@link io.fitprune.pruning.RopeIndex} computes them), each in {@code [0, n)}; null numbers the rows 0, 1, ... The
   * rows keep these ids when pruning drops others, and decoding continues at the largest id + 1.
   */
  public DecoderState start(Tensor embeds, Spans spans, int[][] positions, int decodeReserve) {
    if (embeds == null) throw new IllegalArgumentException("embeds is null");
    if (spans == null) throw new IllegalArgumentException("spans is null");
    if (embeds.dim() != 2 || embeds.size(1) != c.hidden())
      throw new IllegalArgumentException("embeds: expected shape [n, " + c.hidden() + "], got " + shape(embeds));
    if (embeds.scalar_type().value != torch.ScalarType.Float.value)
      throw new IllegalArgumentException("embeds: expected float32, got " + embeds.scalar_type());
    int n = Math.toIntExact(embeds.size(0));
    if (n < 1) throw new IllegalArgumentException("embeds: need at least one token");
    spans.requireWithin(n);
    SequenceState seq = positions == null ? SequenceState.start(c.layers(), spans, n)
        : SequenceState.start(c.layers(), spans, positions.length, rowMajor(positions, n));
    try (Tensor ct = embeds.contiguous()) {
      Tensor own = ct.clone();
      try {
        io.fitprune.kernels.Kernels.requireFinite("embeds", "[n,D]", io.fitprune.kernels.TorchData.floats(own), n, c.hidden());
        return new DecoderState(seq, own, decodeReserve);
      } catch (RuntimeException e) {
        own.close();
        throw e;
      }
    }
  }

  /** {@code positions [C][n]} as {@code [n][C]} row-major, checked against this decoder's RoPE. */
  private int[] rowMajor(int[][] positions, int n) {
    int C = positions.length;
    if (C != 1 && C != c.positionComponents())
      throw new IllegalArgumentException("positions: expected [" + c.positionComponents() + "][" + n + "]"
          + (c.mrope() ? " or [1][" + n + "]" : " (this decoder has 1-D RoPE, no mropeSection)") + ", got " + C
          + " components");
    int[] out = new int[n * C];
    for (int k = 0; k < C; k++) {
      int[] p = positions[k];
      if (p == null || p.length != n)
        throw new IllegalArgumentException("positions[" + k + "]: expected " + n + " ids (one per row), got "
            + (p == null ? "null" : p.length));
      for (int i = 0; i < n; i++) {
        // get_rope_index's ids never reach n (an image's h*w rows take max(h, w) ids); larger ones
        // would only grow the cos/sin table
        if (p[i] < 0 || p[i] >= n)
          throw new IllegalArgumentException("positions[" + k + "][" + i + "]: id " + p[i] + " outside [0, " + n
              + ") (a prefill's ids are below its row count)");
        out[i * C + k] = p[i];
      }
    }
    return out;
  }

  public DecoderState start(float[] embeds, Spans spans, int decodeReserve) {
    if (embeds == null) throw new IllegalArgumentException("embeds is null");
    if (embeds.length % c.hidden() != 0 || embeds.length == 0)
      throw new IllegalArgumentException("embeds: length " + embeds.length + " is not a positive multiple of D="
          + c.hidden());
    return start(Tensors.of(embeds, embeds.length / c.hidden(), c.hidden()), spans, decodeReserve);
  }

  // ------------------------------------------------------------------ one layer

  /** Runs the first half of the state's next layer: norm, QKV, RoPE, attention (+ scores), caching K/V. */
  public Attended attend(DecoderState s, boolean withScores) {
    int l = s.seq.layersDone();
    if (s.pending != null) throw new IllegalStateException("attend: layer " + l + " is waiting for finish()");
    if (l >= c.layers()) throw new IllegalStateException("attend: all " + c.layers() + " layers already ran");
    s.pending = PackedLayer.attend(this, List.of(s), s.x, l, new boolean[] {withScores}, s.profile);
    return s.pending;
  }

  /**
   * Completes the layer {@link #attend} started: keeps rows {@code keep} (ascending indices into
   * the current sequence; null keeps all) of the attention output, residual stream and pruning
   * state, then output projection and MLP on the survivors. Only visual rows may be dropped.
   */
  public void finish(DecoderState s, int[] keep) {
    Attended a = s.pending;
    if (a == null) throw new IllegalStateException("finish: attend() was not called for layer " + s.seq.layersDone());
    // checks keep before changing anything; on a bad keep the layer stays pending
    s.x = PackedLayer.finish(this, List.of(s), s.x, a, new int[][] {keep}, s.profile);
    s.pending = null;
  }

  /** Runs one whole layer on the state, pruning as the pruner says: the batched layer on a batch of one. */
  public void layer(DecoderState s, Pruner p) {
    if (s.pending != null) throw new IllegalStateException("layer: layer " + s.seq.layersDone() + " is waiting for finish()");
    s.x = batch.layer(List.of(s), new Pruner[] {p}, s.x, s.seq.layersDone(), s.profile);
  }

  void mlp(Tensor x, DecoderWeights.Layer lw) {
    try (Temps tp = new Temps()) {
      Tensor h = tp.add(rmsNorm(x, lw.postNorm()));
      Tensor g = tp.add(Dense.linear(h, lw.gate(), null)); // in the dense layers' type: bf16 for BF16 weights
      torch.silu_(g);
      g.mul_(tp.add(Dense.linear(h, lw.up(), null)));
      x.add_(tp.add(Dense.linear(g, lw.down(), null))); // the float32 residual stream takes the sum
    }
  }

  /**
   * A K/V cache: zeroed, so that its pages are faulted in here, in the prefill, and not one or two
   * at a time by each decode step's append (a step of the 8-sequence DecodeStepBench spent about 2%
   * of its time in those faults).
   */
  static Tensor cacheOf(torch.ScalarType type, long... shape) {
    return torch.zeros(shape, new TensorOptions(type));
  }

  Tensor rmsNorm(Tensor x, Tensor weight) {
    return RmsNorm.apply(x, weight, c.hidden(), c.rmsEps());
  }

  // ------------------------------------------------------------------ prefill

  /**
   * What a prefill produced: the state, the greedy next token, the last row's final hidden state,
   * the time, and the last row's logits {@code [vocab]} for a {@link Sampler} to choose from.
   */
  public record Prefill(DecoderState state, int nextToken, float[] lastHidden, double seconds, float[] logits)
      implements AutoCloseable {
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

  /**
   * As {@link #prefill(Tensor, Spans, Pruner, int)}, adding per-phase times to {@code profile}
   * when not null. The batched prefill on a batch of one: {@link BatchDecoder} gives each request
   * the same result as this call.
   */
  public Prefill prefill(Tensor embeds, Spans spans, Pruner pruner, int decodeReserve, Profile profile) {
    return batch.prefill(List.of(new BatchDecoder.Request(embeds, spans, pruner)), decodeReserve, profile, false).get(0);
  }

  /**
   * As {@link #prefill(Tensor, Spans, Pruner, int)} at explicit position ids {@code [C][n]} (see
   * {@link #start(Tensor, Spans, int[][], int)}): Qwen2-VL's 3-D positions from
   * {@link io.fitprune.pruning.RopeIndex}.
   */
  public Prefill prefill(Tensor embeds, Spans spans, int[][] positions, Pruner pruner, int decodeReserve) {
    return batch.prefill(List.of(new BatchDecoder.Request(embeds, spans, pruner, positions)), decodeReserve, null, false)
        .get(0);
  }

  public Prefill prefill(float[] embeds, Spans spans, Pruner pruner, int decodeReserve) {
    if (embeds == null || embeds.length % c.hidden() != 0 || embeds.length == 0)
      throw new IllegalArgumentException("embeds: need a positive multiple of D=" + c.hidden() + " floats");
    return prefill(Tensors.of(embeds, embeds.length / c.hidden(), c.hidden()), spans, pruner, decodeReserve);
  }

  // ------------------------------------------------------------------ decoding

  /** The result of one decoding step: the greedy next token, the final hidden state and the logits {@code [vocab]}. */
  public record Step(int nextToken, float[] hidden, float[] logits) {}

  /**
   * Greedy decoding after a prefill: returns {@code count} tokens, the first being the prefill's
   * own prediction; each later one is fed back through every layer's cache.
   */
  public int[] generate(Prefill p, int count) {
    return generation.generate(p, count);
  }

  /**
   * Decoding after a prefill with {@code sampler} choosing each token from the logits (the prefill's
   * for the first), handing each to {@code onToken} as it is chosen; stops after {@code max} tokens
   * or when {@code onToken} returns false (that token is counted, not fed back). With
   * {@link Sampler#greedy()} the tokens are {@link #generate(Prefill, int)}'s.
   */
  public int[] generate(Prefill p, int max, Sampler sampler, java.util.function.IntPredicate onToken) {
    return generation.generate(p, max, sampler, onToken);
  }

  /** Feeds token {@code token} at the next position through every layer's cache; returns the greedy next token. */
  public Step step(DecoderState s, int token) {
    return generation.step(s, token);
  }

  /** Feeds one embedding row {@code [1, D]} at the next position. */
  public Step step(DecoderState s, Tensor x) {
    return generation.step(s, x);
  }

  // ------------------------------------------------------------------ helpers

  static float[] toArray(Tensor t) {
    try (Tensor ct = t.contiguous()) {
      float[] out = new float[(int) ct.numel()];
      ct.data_ptr_float().capacity(ct.numel()).get(out);
      return out;
    }
  }

  /** The index of the largest of {@code count} logits from {@code offset}; refuses NaN and infinity. */
  static int argmax(java.nio.FloatBuffer logits, int offset, int count) {
    int best = 0;
    float top = Float.NEGATIVE_INFINITY;
    for (int i = 0; i < count; i++) {
      float x = logits.get(offset + i);
      if (!Float.isFinite(x)) // a NaN would otherwise decode as token 0
        throw new IllegalStateException("logits [vocab] are not finite at [" + i + "] (" + x
            + "): the final norm or LM head weights hold NaN or infinity");
      if (x > top) {
        top = x;
        best = i;
      }
    }
    return best;
  }

  static String shape(Tensor t) {
    long[] s = new long[(int) t.dim()];
    for (int i = 0; i < s.length; i++) s[i] = t.size(i);
    return Arrays.toString(s);
  }
}
