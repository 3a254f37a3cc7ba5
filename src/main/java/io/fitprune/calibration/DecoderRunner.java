package io.fitprune.calibration;

import io.fitprune.decoder.Attended;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderState;
import io.fitprune.fitting.LayerRunner;
import io.fitprune.kernels.Spans;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * The reference decoder driven layer by layer over a set of calibration samples, all in lock
 * step: the {@link LayerRunner} of exact-mode fitting and statistics recording. Each sample's
 * state (residual stream, position ids, alive visual tokens) lives between calls; no K/V caches
 * are kept. It lives here, not in the decoder, so the decoder knows nothing of fitting.
 */
public final class DecoderRunner implements LayerRunner {
  private final Decoder decoder;
  private final List<Tensor> embeds;
  private final List<Spans> spans;
  private final List<int[][]> positions; // per sample: [C][n] position ids, or null for 0, 1, ...
  private DecoderState[] states;

  /**
   * Samples may have different visual counts (images of different sizes): each is recorded and
   * fitted at its own ({@link #visualTokens}).
   */
  public DecoderRunner(Decoder decoder, List<Tensor> embeds, List<Spans> spans) {
    this(decoder, embeds, spans, null);
  }

  /**
   * As {@link #DecoderRunner(Decoder, List, List)}, each sample starting at its own position ids
   * ({@code positions.get(s)}: {@code [C][n]} as {@link Decoder#start(Tensor, Spans, int[][], int)}
   * takes them, e.g. Qwen2-VL's 3-D ids, or null for 0, 1, ...); {@code positions} null: all 1-D.
   */
  public DecoderRunner(Decoder decoder, List<Tensor> embeds, List<Spans> spans, List<int[][]> positions) {
    if (decoder == null) throw new IllegalArgumentException("decoder is null");
    if (embeds == null || spans == null || embeds.size() != spans.size() || embeds.isEmpty())
      throw new IllegalArgumentException("samples: need one spans per embeddings tensor, and at least one sample");
    for (int s = 0; s < spans.size(); s++)
      if (spans.get(s) == null || spans.get(s).visual() > Integer.MAX_VALUE)
        throw new IllegalArgumentException("samples: spans of sample " + s + " must be non-null with at most "
            + Integer.MAX_VALUE + " visual tokens");
    if (positions != null && positions.size() != embeds.size())
      throw new IllegalArgumentException("positions: need one entry (or null) per sample, got " + positions.size()
          + " for " + embeds.size() + " samples");
    this.decoder = decoder;
    this.embeds = List.copyOf(embeds);
    this.spans = List.copyOf(spans);
    this.positions = positions == null ? null : java.util.Collections.unmodifiableList(new java.util.ArrayList<>(positions));
  }

  @Override
  public int samples() {
    return embeds.size();
  }

  @Override
  public int visualTokens(int sample) {
    if (sample < 0 || sample >= spans.size())
      throw new IllegalArgumentException("sample must be in [0, " + spans.size() + "), got " + sample);
    return (int) spans.get(sample).visual();
  }

  public Decoder decoder() {
    return decoder;
  }

  @Override
  public void beginPass() {
    endPass();
    states = new DecoderState[embeds.size()];
    for (int s = 0; s < states.length; s++) states[s] = decoder.start(embeds.get(s), spans.get(s), positions == null ? null : positions.get(s), -1);
  }

  @Override
  public void attend(int sample, int layer, int alive, float[] self, float[] cross) {
    DecoderState st = state(sample, layer);
    if (st.visual() != alive)
      throw new IllegalStateException("runner: sample " + sample + " has " + st.visual() + " visual tokens alive at layer "
          + layer + ", the fitter expects " + alive);
    Attended a = decoder.attend(st, true);
    if (alive > 0) {
      System.arraycopy(a.self(), 0, self, 0, alive);
      System.arraycopy(a.cross(), 0, cross, 0, alive);
    }
  }

  @Override
  public void finish(int sample, int layer, int[] drop, int count) {
    DecoderState st = state(sample, layer);
    decoder.finish(st, count == 0 ? null : st.keepDropping(drop, count));
  }

  @Override
  public void endPass() {
    if (states != null) for (DecoderState st : states) if (st != null) st.close();
    states = null;
  }

  private DecoderState state(int sample, int layer) {
    if (states == null) throw new IllegalStateException("runner: beginPass() was not called");
    if (sample < 0 || sample >= states.length)
      throw new IllegalArgumentException("sample must be in [0, " + states.length + "), got " + sample);
    DecoderState st = states[sample];
    if (st.layersDone() != layer)
      throw new IllegalStateException("runner: sample " + sample + " is at layer " + st.layersDone() + ", asked for " + layer);
    return st;
  }
}
