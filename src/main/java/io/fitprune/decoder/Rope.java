package io.fitprune.decoder;

import java.nio.FloatBuffer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Rotary position embedding (rotate-half convention, as Hugging Face's LLaMA) at explicit
 * position ids, with a cos/sin table that grows on demand and is shared by all threads.
 *
 * <p>With an M-RoPE section (Qwen2-VL's {@code apply_multimodal_rotary_pos_emb}) a row has three
 * position ids (t, h, w) and rotary frequency j takes its angle from the component whose section
 * holds j: the first {@code section[0]} frequencies from t, the next {@code section[1]} from h, the
 * rest from w; the frequency's two rotated halves use the same angle. A row of one component is a
 * row whose three ids are equal, which is exactly 1-D RoPE.
 */
final class Rope {
  private final int headDim;
  private final float[] invFreq;
  private final int[] component; // per frequency: which of the 3 position ids gives its angle; null: 1-D
  private volatile float[][] table = {new float[0], new float[0]}; // cos, sin: [pos][d/2]

  Rope(int headDim, double theta) {
    this(headDim, theta, java.util.List.of());
  }

  /** {@code mropeSection}: empty for 1-D RoPE, else (t, h, w) counts summing to headDim / 2 (checked by DecoderConfig). */
  Rope(int headDim, double theta, java.util.List<Integer> mropeSection) {
    this.headDim = headDim;
    int half = headDim / 2;
    invFreq = new float[half];
    for (int i = 0; i < half; i++) invFreq[i] = (float) (1.0 / Math.pow(theta, (2.0 * i) / headDim));
    if (mropeSection.isEmpty()) {
      component = null;
    } else {
      component = new int[half];
      for (int c = 0, j = 0; c < 3; c++)
        for (int s = 0; s < mropeSection.get(c); s++) component[j++] = c;
    }
  }

  /** Rotates rows {@code [n, heads*d]} in place, row i at position {@code pos[i]}; bf16 rows in float32, rounded back. */
  void apply(Tensor t, int[] pos, int heads) {
    apply(t, pos, 1, heads);
  }

  /**
   * Rotates rows {@code [n, heads*d]} in place, row i at position ids
   * {@code pos[i*components .. (i+1)*components)} (1, or 3 with M-RoPE); bf16 rows in float32, rounded back.
   */
  void apply(Tensor t, int[] pos, int components, int heads) {
    if (!Tensors.is(t, torch.ScalarType.Float)) {
      try (Tensor f = t.to(torch.ScalarType.Float)) {
        apply(f, pos, components, heads);
        t.copy_(f);
      }
      return;
    }
    FloatBuffer b = t.data_ptr_float().capacity(t.numel()).asBuffer();
    apply(b, pos, components, heads);
  }

  /** Rotates rows {@code [n, heads*d]} of b (from element 0) in place, row i at position {@code pos[i]}. */
  void apply(FloatBuffer b, int[] pos, int heads) {
    apply(b, pos, 1, heads);
  }

  /** As {@link #apply(Tensor, int[], int, int)} on rows of b from element 0. */
  void apply(FloatBuffer b, int[] pos, int components, int heads) {
    if (components == 3 && component == null)
      throw new IllegalArgumentException("positions: 3 components per row, but this decoder has 1-D RoPE (no mropeSection)");
    if (components != 1 && components != 3)
      throw new IllegalArgumentException("positions: components must be 1 or 3, got " + components);
    int d = headDim, half = d / 2, n = pos.length / components;
    int maxPos = 0;
    for (int p : pos) maxPos = Math.max(maxPos, p);
    float[][] tb = table(maxPos + 1);
    float[] cos = tb[0], sin = tb[1];
    int width = heads * d;
    // A row at a time in arrays (a direct buffer's get and put per element cost more than the
    // arithmetic), with the row's cos and sin gathered first, so the loop over a head is plain.
    float[] row = scratch(0, width), cr = scratch(1, half), sr = scratch(2, half);
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < half; j++) {
        int at = pos[i * components + (components == 1 ? 0 : component[j])] * half + j;
        cr[j] = cos[at];
        sr[j] = sin[at];
      }
      b.get(i * width, row, 0, width);
      for (int o = 0; o < width; o += d)
        for (int j = 0; j < half; j++) {
          float x1 = row[o + j], x2 = row[o + j + half], cs = cr[j], sn = sr[j];
          row[o + j] = x1 * cs - x2 * sn;
          row[o + j + half] = x2 * cs + x1 * sn;
        }
      b.put(i * width, row, 0, width);
    }
  }

  private final ThreadLocal<float[][]> scratch = ThreadLocal.withInitial(() -> new float[3][0]);

  /** This thread's scratch array {@code which}, at least {@code length} long (kept between calls: no garbage per step). */
  private float[] scratch(int which, int length) {
    float[][] s = scratch.get();
    if (s[which].length < length) s[which] = new float[length];
    return s[which];
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
