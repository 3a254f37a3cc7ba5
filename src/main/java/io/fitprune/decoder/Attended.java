package io.fitprune.decoder;

import org.bytedeco.pytorch.Tensor;

/** The first half of a layer ({@link Decoder#attend}): attention on the current tokens, and the scores when asked for. */
public final class Attended {
  final int layer;
  final Tensor out;            // [rows, H, d]
  final float[] self, cross;   // [visual] or null

  Attended(int layer, Tensor out, float[] self, float[] cross) {
    this.layer = layer;
    this.out = out;
    this.self = self;
    this.cross = cross;
  }

  /** FitPrune's self score of each alive visual token, or null when the scores were not asked for. */
  public float[] self() {
    return self;
  }

  /** FitPrune's cross score of each alive visual token, or null when the scores were not asked for. */
  public float[] cross() {
    return cross;
  }
}
