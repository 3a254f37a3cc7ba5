package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.model.Geometry;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Rope} with an M-RoPE section against a float64 transliteration of transformers'
 * {@code Qwen2VLRotaryEmbedding} and {@code apply_multimodal_rotary_pos_emb}
 * (models/qwen2_vl/modeling_qwen2_vl.py at commit 00b676f8): cos/sin of {@code cat(freqs, freqs)}
 * per component, split into chunks {@code mrope_section * 2}, chunk m taken from component m % 3.
 */
class MropeTest {

  /** q (rows [n, heads*d]) rotated at pos [3][n], in float64, as the source computes it. */
  static double[] reference(float[] x, int[][] pos, int heads, int d, double theta, int[] section) {
    int n = pos[0].length, half = d / 2;
    double[] out = new double[x.length];
    int[] chunks = {section[0], section[1], section[2], section[0], section[1], section[2]};
    for (int i = 0; i < n; i++) {
      double[][] cos = new double[3][d], sin = new double[3][d];
      for (int c = 0; c < 3; c++)
        for (int e = 0; e < d; e++) {
          double ang = pos[c][i] * Math.pow(theta, -2.0 * (e % half) / d); // emb = cat(freqs, freqs)
          cos[c][e] = Math.cos(ang);
          sin[c][e] = Math.sin(ang);
        }
      double[] cs = new double[d], sn = new double[d];
      for (int m = 0, e = 0; m < 6; m++)
        for (int k = 0; k < chunks[m]; k++, e++) {
          cs[e] = cos[m % 3][e];
          sn[e] = sin[m % 3][e];
        }
      for (int h = 0; h < heads; h++) {
        int o = i * heads * d + h * d;
        for (int e = 0; e < d; e++) {
          double rot = e < half ? -x[o + e + half] : x[o + e - half]; // rotate_half
          out[o + e] = x[o + e] * cs[e] + rot * sn[e];
        }
      }
    }
    return out;
  }

  static float[] random(SplittableRandom r, int n) {
    float[] f = new float[n];
    for (int i = 0; i < n; i++) f[i] = (float) (2 * r.nextDouble() - 1);
    return f;
  }

  @Test
  void rotatesEachFrequencyByItsSectionsComponent() {
    SplittableRandom r = new SplittableRandom(7);
    int[][] shapes = {{16, 2, 3, 3}, {16, 0, 4, 4}, {128, 16, 24, 24}, {10, 1, 1, 3}}; // d, then the section
    for (int[] s : shapes) {
      int d = s[0];
      int[] section = {s[1], s[2], s[3]};
      Rope rope = new Rope(d, 1e6, List.of(s[1], s[2], s[3]));
      for (int heads : new int[] {3, 1}) { // query heads and a single key/value head (GQA)
        int n = 11;
        int[][] pos = new int[3][n];
        for (int c = 0; c < 3; c++) for (int i = 0; i < n; i++) pos[c][i] = r.nextInt(700);
        int[] rowMajor = new int[3 * n];
        for (int i = 0; i < n; i++) for (int c = 0; c < 3; c++) rowMajor[3 * i + c] = pos[c][i];
        float[] x = random(r, n * heads * d);
        float[] got = x.clone();
        rope.apply(FloatBuffer.wrap(got), rowMajor, 3, heads);
        double[] want = reference(x, pos, heads, d, 1e6, section);
        for (int i = 0; i < n; i++)
          for (int h = 0; h < heads; h++)
            for (int e = 0; e < d; e++) {
              int o = i * heads * d + h * d + e, pair = e < d / 2 ? o + d / 2 : o - d / 2;
              int maxPos = Math.max(pos[0][i], Math.max(pos[1][i], pos[2][i]));
              // the float32 angle (inv_freq and the product rounded, as the source) and the rotation's roundings
              double tol = (Math.abs(x[o]) + Math.abs(x[pair])) * 0x1p-24 * (4 * (maxPos + 1) + 8);
              assertTrue(Math.abs(got[o] - want[o]) <= tol, "d " + d + " row " + i + " head " + h + " elem " + e + ": "
                  + got[o] + " vs " + want[o] + " (tol " + tol + ")");
            }
      }
    }
  }

  @Test
  void equalComponentsAreOneDimensionalRopeBitForBit() {
    SplittableRandom r = new SplittableRandom(11);
    int d = 16, heads = 3, n = 9;
    int[] pos = new int[n], triple = new int[3 * n];
    for (int i = 0; i < n; i++) {
      pos[i] = r.nextInt(5000);
      triple[3 * i] = triple[3 * i + 1] = triple[3 * i + 2] = pos[i];
    }
    float[] x = random(r, n * heads * d);
    float[] plain = x.clone(), one = x.clone(), three = x.clone();
    new Rope(d, 1e6).apply(FloatBuffer.wrap(plain), pos, heads);
    Rope m = new Rope(d, 1e6, List.of(2, 3, 3));
    m.apply(FloatBuffer.wrap(one), pos, 1, heads);
    m.apply(FloatBuffer.wrap(three), triple, 3, heads);
    assertArrayEquals(plain, one);
    assertArrayEquals(plain, three);
  }

  @Test
  void aSectionThatDoesNotSumToHalfTheHeadIsRefused() {
    Geometry g = new Geometry("t", 1, 32, 2, 1, 16, 40, 4, 1, 1);
    String m = assertThrows(IllegalArgumentException.class, () -> DecoderConfig.of(g, 50, 1e6, 1e-6, List.of(2, 3, 4)))
        .getMessage();
    assertTrue(m.contains("headDim / 2 = 8") && m.contains("[2, 3, 4]"), m);
    assertThrows(IllegalArgumentException.class, () -> DecoderConfig.of(g, 50, 1e6, 1e-6, List.of(8)));
    assertThrows(IllegalArgumentException.class, () -> DecoderConfig.of(g, 50, 1e6, 1e-6, List.of(-1, 4, 5)));
    Rope oneD = new Rope(16, 1e4);
    m = assertThrows(IllegalArgumentException.class,
        () -> oneD.apply(FloatBuffer.wrap(new float[16]), new int[] {0, 0, 0}, 3, 1)).getMessage();
    assertTrue(m.contains("1-D RoPE"), m);
  }
}
