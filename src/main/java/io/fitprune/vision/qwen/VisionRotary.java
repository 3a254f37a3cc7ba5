package io.fitprune.vision.qwen;

import java.nio.FloatBuffer;
import java.util.List;

/**
 * The Qwen vision towers' 2-D rotary embedding ({@code VisionRotaryEmbedding}, {@code rot_pos_emb},
 * {@code apply_rotary_pos_emb_vision}): the pairs are {@code (j, j + d/2)} ({@code rotate_half}),
 * pair {@code j < d/4} rotating by the patch's row and pair {@code d/4 <= j < d/2} by its column
 * ({@code rot_pos_emb}'s {@code [row freqs, column freqs]}, then {@code cat((emb, emb))}), with
 * {@code inv_freq[i] = 1 / 10000^(2i / (d/2))} over {@code d/4} frequencies. Angles, cosines and
 * the rotation are float32 as transformers computes them (which rotates in float32 whatever q's type).
 *
 * @param cos {@code [rows, d/2]} cosines of each row's angles
 * @param sin {@code [rows, d/2]} sines
 */
record VisionRotary(float[] cos, float[] sin, int half) {

  /**
   * The tables for {@code grids}' rows in the processor's merge-window order, regrouped by
   * {@code order} (merge group of each windowed position; null keeps the order).
   */
  static VisionRotary of(List<GridThw> grids, QwenVisionConfig c, int[] order) {
    int m = c.spatialMergeSize(), unit = c.mergeUnit(), quarter = c.headDim() / 4, half = 2 * quarter;
    int rows = (int) GridThw.totalPatches(grids, m), dim = half;
    float[] inv = new float[quarter];
    for (int i = 0; i < quarter; i++) inv[i] = 1f / (float) Math.pow(10000.0, (float) (2 * i) / dim);
    float[] angle = new float[rows * half];
    int r = 0;
    for (GridThw g : grids)
      for (int t = 0; t < g.t(); t++)
        for (int bh = 0; bh < g.h() / m; bh++)
          for (int bw = 0; bw < g.w() / m; bw++)
            for (int ih = 0; ih < m; ih++)
              for (int iw = 0; iw < m; iw++, r++) {
                float hp = bh * m + ih, wp = bw * m + iw;
                for (int i = 0; i < quarter; i++) {
                  angle[r * half + i] = hp * inv[i];
                  angle[r * half + quarter + i] = wp * inv[i];
                }
              }
    float[] cos = new float[rows * half], sin = new float[rows * half];
    for (int p = 0; p < rows; p++) {
      int src = order == null ? p : order[p / unit] * unit + p % unit; // windowed position p holds this row
      for (int j = 0; j < half; j++) {
        double a = angle[src * half + j];
        cos[p * half + j] = (float) Math.cos(a);
        sin[p * half + j] = (float) Math.sin(a);
      }
    }
    return new VisionRotary(cos, sin, half);
  }

  /** Rotates {@code x [rows, heads, 2*half]} float32 in place. */
  void apply(FloatBuffer x, int rows, int heads) {
    int d = 2 * half;
    for (int r = 0; r < rows; r++)
      for (int h = 0; h < heads; h++) {
        int o = (r * heads + h) * d;
        for (int j = 0; j < half; j++) {
          float c = cos[r * half + j], s = sin[r * half + j], a = x.get(o + j), b = x.get(o + half + j);
          x.put(o + j, a * c + -b * s);
          x.put(o + half + j, b * c + a * s);
        }
      }
  }
}
