package io.fitprune.decoder;

import org.bytedeco.pytorch.Tensor;

/** The first half of a layer ({@link Decoder#attend}): attention on the current tokens, and the scores when asked for. */
public final class Attended {
  final int layer;
  final Tensor out;            // [rows, H, d]
  final float[] self, cross;   // [sum of the sequences' visual] or null
  final int[] visual0;         // sequence b's scores are [visual0[b], visual0[b+1]) of self and cross

  Attended(int layer, Tensor out, float[] self, float[] cross, int[] visual0) {
    this.layer = layer;
    this.out = out;
    this.self = self;
    this.cross = cross;
    this.visual0 = visual0;
  }

  /** Sequence b's self scores (a batch's are concatenated), or null when they were not asked for. */
  float[] self(int b) {
    return self == null ? null : java.util.Arrays.copyOfRange(self, visual0[b], visual0[b + 1]);
  }

  float[] cross(int b) {
    return cross == null ? null : java.util.Arrays.copyOfRange(cross, visual0[b], visual0[b + 1]);
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
