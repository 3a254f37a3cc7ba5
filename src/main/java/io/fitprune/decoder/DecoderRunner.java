package io.fitprune.decoder;

import io.fitprune.fitting.LayerRunner;
import io.fitprune.kernels.Spans;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * The reference decoder driven layer by layer over a set of calibration samples, all in lock
 * step: the controller's {@link LayerRunner} for exact-mode fitting and statistics recording.
 * Each sample's state (residual stream, position ids, alive visual tokens) lives between calls;
 * no K/V caches are kept.
 */
public final class DecoderRunner implements LayerRunner {
  private final Decoder decoder;
  private final List<Tensor> embeds;
  private final List<Spans> spans;
  private Decoder.State[] states;

  /** All samples must have the same number of visual tokens (the statistics are [S, L, V]). */
  public DecoderRunner(Decoder decoder, List<Tensor> embeds, List<Spans> spans) {
    if (decoder == null) throw new IllegalArgumentException("decoder is null");
    if (embeds == null || spans == null || embeds.size() != spans.size() || embeds.isEmpty())
      throw new IllegalArgumentException("samples: need one spans per embeddings tensor, and at least one sample");
    long v = spans.get(0).visual();
    for (Spans s : spans)
      if (s.visual() != v)
        throw new IllegalArgumentException("samples: all must have the same visual token count (" + v + "), got " + s.visual());
    this.decoder = decoder;
    this.embeds = List.copyOf(embeds);
    this.spans = List.copyOf(spans);
  }

  @Override
  public int samples() {
    return embeds.size();
  }

  public Decoder decoder() {
    return decoder;
  }

  @Override
  public void beginPass() {
    endPass();
    states = new Decoder.State[embeds.size()];
    for (int s = 0; s < states.length; s++) states[s] = decoder.start(embeds.get(s), spans.get(s), -1);
  }

  @Override
  public void attend(int sample, int layer, int alive, float[] self, float[] cross) {
    Decoder.State st = state(sample, layer);
    if (st.visual != alive)
      throw new IllegalStateException("runner: sample " + sample + " has " + st.visual + " visual tokens alive at layer "
          + layer + ", the fitter expects " + alive);
    Decoder.Attended a = decoder.attend(st, true);
    if (alive > 0) {
      System.arraycopy(a.self, 0, self, 0, alive);
      System.arraycopy(a.cross, 0, cross, 0, alive);
    }
  }

  @Override
  public void finish(int sample, int layer, int[] drop, int count) {
    Decoder.State st = state(sample, layer);
    if (count == 0) {
      decoder.finish(st, null);
      return;
    }
    boolean[] dropped = new boolean[st.visual];
    for (int i = 0; i < count; i++) {
      int p = drop[i];
      if (p < 0 || p >= st.visual || dropped[p])
        throw new IllegalArgumentException("drop: position " + p + " is not a distinct alive visual token (0.." + (st.visual - 1) + ")");
      dropped[p] = true;
    }
    decoder.finish(st, Pruner.keepRows(st.n, st.prefix, dropped));
  }

  @Override
  public void endPass() {
    if (states != null) for (Decoder.State st : states) if (st != null) st.close();
    states = null;
  }

  private Decoder.State state(int sample, int layer) {
    if (states == null) throw new IllegalStateException("runner: beginPass() was not called");
    if (sample < 0 || sample >= states.length)
      throw new IllegalArgumentException("sample must be in [0, " + states.length + "), got " + sample);
    Decoder.State st = states[sample];
    if (st.layer != layer)
      throw new IllegalStateException("runner: sample " + sample + " is at layer " + st.layer + ", asked for " + layer);
    return st;
  }
}
