package io.fitprune.decoder;

import java.nio.FloatBuffer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Rotary position embedding (rotate-half convention, as Hugging Face's LLaMA) at explicit
 * position ids, with a cos/sin table that grows on demand and is shared by all threads.
 */
final class Rope {
  private final int headDim;
  private final float[] invFreq;
  private volatile float[][] table = {new float[0], new float[0]}; // cos, sin: [pos][d/2]

  Rope(int headDim, double theta) {
    this.headDim = headDim;
    int half = headDim / 2;
    invFreq = new float[half];
    for (int i = 0; i < half; i++) invFreq[i] = (float) (1.0 / Math.pow(theta, (2.0 * i) / headDim));
  }

  /** Rotates rows {@code [n, heads*d]} in place, row i at position {@code pos[i]}; bf16 rows in float32, rounded back. */
  void apply(Tensor t, int[] pos, int heads) {
    if (!Tensors.is(t, torch.ScalarType.Float)) {
      try (Tensor f = t.to(torch.ScalarType.Float)) {
        apply(f, pos, heads);
        t.copy_(f);
      }
      return;
    }
    FloatBuffer b = t.data_ptr_float().capacity(t.numel()).asBuffer();
    apply(b, pos, heads);
  }

  /** Rotates rows {@code [n, heads*d]} of b (from element 0) in place, row i at position {@code pos[i]}. */
  void apply(FloatBuffer b, int[] pos, int heads) {
    int d = headDim, half = d / 2, n = pos.length;
    int maxPos = 0;
    for (int p : pos) maxPos = Math.max(maxPos, p);
    float[][] tb = table(maxPos + 1);
    float[] cos = tb[0], sin = tb[1];
    int width = heads * d;
    for (int i = 0; i < n; i++) {
      int at = pos[i] * half, row = i * width;
      for (int hh = 0; hh < heads; hh++) {
        int o = row + hh * d;
        for (int j = 0; j < half; j++) {
          float x1 = b.get(o + j), x2 = b.get(o + j + half), cs = cos[at + j], sn = sin[at + j];
          b.put(o + j, x1 * cs - x2 * sn);
          b.put(o + j + half, x2 * cs + x1 * sn);
        }
      }
    }
  }

  private float[][] table(int positions) {
    float[][] t = table;
    int half = headDim / 2;
    if (t[0].length >= positions * half) return t;
    synchronized (this) {
      t = table;
      if (t[0].length >= positions * half) return t;
      int cap = Math.max(positions, 2 * t[0].length / half);
      float[] cos = new float[cap * half], sin = new float[cap * half];
      for (int p = 0; p < cap; p++)
        for (int j = 0; j < half; j++) {
          float angle = (float) p * invFreq[j]; // float32 like the reference implementation
          cos[p * half + j] = (float) Math.cos(angle);
          sin[p * half + j] = (float) Math.sin(angle);
        }
      table = t = new float[][] {cos, sin};
      return t;
    }
  }
}
