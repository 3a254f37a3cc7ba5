package io.fitprune.decoder;

import io.fitprune.kernels.Data;
import io.fitprune.kernels.Spans;
import io.fitprune.kernels.TorchData;
import io.fitprune.pruning.SequenceState;
import org.bytedeco.pytorch.Tensor;

/**
 * One sequence's progress through the reference decoder: its {@link SequenceState} (surviving
 * tokens, position ids, per-layer K/V lengths) plus the tensors the decoder keeps for it: the
 * residual stream, compacted in place as layers prune, and, when decoding follows, each layer's
 * K/V cache. Not thread-safe; close it to free the native memory now.
 */
public final class DecoderState implements AutoCloseable {
  final SequenceState seq;
  Tensor x;                       // residual stream [rows, D], contiguous
  final Tensor[] kCache, vCache;  // per layer [capacity, G, d]; null when not caching
  final Data[] kData, vData;      // the same caches as the kernels take them, made once: a decode step reads them per layer
  final int reserve;              // extra cache rows for decoding; < 0: no caches
  Attended pending;               // a layer between attend() and finish()
  Profile profile;                // null: not profiling

  DecoderState(int layers, Tensor x, Spans spans, int reserve) {
    this(SequenceState.start(layers, spans, Math.toIntExact(x.size(0))), x, reserve);
  }

  /** A state over {@code seq}'s rows (its position ids, 1 or 3 components) with residual stream {@code x}. */
  DecoderState(SequenceState seq, Tensor x, int reserve) {
    if (reserve > Integer.MAX_VALUE - x.size(0)) // each layer's cache holds the tokens and the reserve in one tensor
      throw new IllegalArgumentException("decodeReserve: " + x.size(0) + " tokens + " + reserve + " = "
          + (x.size(0) + reserve) + " cache rows, more than the 2^31 - 1 a cache holds");
    this.x = x;
    this.seq = seq;
    this.kCache = new Tensor[seq.layers()];
    this.vCache = new Tensor[seq.layers()];
    this.kData = new Data[seq.layers()];
    this.vData = new Data[seq.layers()];
    this.reserve = reserve;
  }

  /**
   * Refuses a decode step unless the prefill has run all {@code layers} layers and kept K/V caches
   * with a free row in each layer for the new token.
   */
  void requireRoomForToken(int layers) {
    if (reserve < 0) throw new IllegalStateException("decode: the prefill kept no K/V caches (decodeReserve < 0)");
    if (seq.layersDone() != layers) throw new IllegalStateException("decode: prefill has not finished");
    for (int l = 0; l < layers; l++)
      if (seq.kvLength(l) + 1 > kCache[l].size(0))
        throw new IllegalStateException("decode: K/V cache of layer " + l + " is full (" + seq.kvLength(l)
            + " rows): prefill with a larger reserve");
  }

  /** Replaces layer l's K/V caches (freeing the old ones) with {@code k} and {@code v}, which this state now owns. */
  void setCaches(int l, Tensor k, Tensor v) {
    closeCaches(l);
    kCache[l] = k;
    vCache[l] = v;
    kData[l] = TorchData.of(k);
    vData[l] = TorchData.of(v);
  }

  private void closeCaches(int l) {
    if (kCache[l] != null) kCache[l].close();
    if (vCache[l] != null) vCache[l].close();
    kCache[l] = vCache[l] = null;
    kData[l] = vData[l] = null;
  }

  /** Turns per-phase timing on for this state (off by default). */
  public Profile profile() {
    if (profile == null) profile = new Profile();
    return profile;
  }

  /** A copy of the pruning bookkeeping (the decoder owns the live one). */
  public SequenceState sequence() {
    return seq.copy();
  }

  public int tokens() {
    return seq.rows();
  }

  public int visual() {
    return seq.visual();
  }

  public int text() {
    return seq.text();
  }

  public Spans spans() {
    return seq.spans();
  }

  /** Original position ids of the alive rows, {@code [rows][components]} row-major (3 components with M-RoPE positions). */
  public int[] positions() {
    return seq.positions();
  }

  /** Original indices of the alive visual tokens, ascending. */
  public int[] visualIds() {
    return seq.visualIds();
  }

  /** Visual tokens alive after each layer run so far. */
  public int[] visualAfter() {
    return seq.visualAfter();
  }

  /** K/V length of each layer (0 for layers not run). */
  public long[] kvLengths() {
    return seq.kvLengths();
  }

  /** Layers run so far. */
  public int layersDone() {
    return seq.layersDone();
  }

  /** The keep list dropping the alive visual tokens at positions {@code drop[0..count)}: {@link SequenceState#keepDropping}. */
  public int[] keepDropping(int[] drop, int count) {
    return seq.keepDropping(drop, count);
  }

  /** A copy of the residual stream {@code [rows, D]}. */
  public float[] hidden() {
    float[] out = new float[(int) x.numel()];
    x.data_ptr_float().capacity(x.numel()).get(out);
    return out;
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
    for (int l = 0; l < kCache.length; l++) closeCaches(l);
  }
}
