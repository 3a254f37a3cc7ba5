package io.fitprune.vision.qwen;

import io.fitprune.vision.ClipReference64;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * A float64 Qwen2-VL / Qwen2.5-VL vision tower in plain loops, written from transformers'
 * modeling_qwen2_vl.py and modeling_qwen2_5_vl.py (commit 00b676f8): PatchEmbed's Conv3d,
 * rot_pos_emb, get_window_index with its -100 padding and unique_consecutive, the hidden states
 * and rotary table indexed by window_index, VisionAttention over cu_seqlens, the blocks (LayerNorm
 * or Qwen2RMSNorm, VisionMlp or Qwen2_5_VLMLP), the merger and argsort(window_index). With
 * {@link #bf16} it rounds to bfloat16 where a bf16 run holds a value in bf16: the pixels, every
 * dense layer's input and output, q and k after the rotation, v, the attention probabilities.
 */
final class QwenReference64 {
  final QwenVisionConfig c;
  final int d, heads, hd, f, m, unit;
  final double[] patch;
  final List<double[][]> blocks = new ArrayList<>(); // n1w, n1b, qkv, qkvb, proj, projb, n2w, n2b, in, inb, up, upb, out, outb
  final double[] lnW, lnB, fc1, fc1b, fc2, fc2b;
  boolean bf16;

  QwenReference64(QwenVisionWeights w) {
    c = w.config();
    d = c.hiddenSize();
    heads = c.heads();
    hd = d / heads;
    f = c.intermediateSize();
    m = c.spatialMergeSize();
    unit = m * m;
    patch = vec(w.patch);
    for (VisionBlock b : w.blocks)
      blocks.add(new double[][] {vec(b.norm1().weight()), vec(b.norm1().bias()), vec(b.qkv()), vec(b.qkvBias()),
          vec(b.proj()), vec(b.projBias()), vec(b.norm2().weight()), vec(b.norm2().bias()), vec(b.mlp().in()),
          vec(b.mlp().inBias()), vec(b.mlp().up()), vec(b.mlp().upBias()), vec(b.mlp().out()), vec(b.mlp().outBias())});
    lnW = vec(w.merger.norm().weight());
    lnB = vec(w.merger.norm().bias());
    fc1 = vec(w.merger.fc1());
    fc1b = vec(w.merger.fc1Bias());
    fc2 = vec(w.merger.fc2());
    fc2b = vec(w.merger.fc2Bias());
  }

  static double[] vec(Tensor t) {
    return ClipReference64.vec(t);
  }

  private double r(double x) {
    return bf16 ? ClipReference64.bf16(x) : x;
  }

  /** rot_pos_emb's (h, w) position of every row, in the processor's order: [rows][2]. */
  static int[][] positions(int[][] grids, int m) {
    List<int[]> out = new ArrayList<>();
    for (int[] g : grids) {
      int t = g[0], h = g[1], w = g[2];
      // hpos = arange(h)[:, None].expand(h, w).reshape(h/m, m, w/m, m).permute(0, 2, 1, 3).flatten(), wpos alike
      int[] hpos = new int[h * w], wpos = new int[h * w];
      int k = 0;
      for (int a = 0; a < h / m; a++)
        for (int cc = 0; cc < w / m; cc++)
          for (int b = 0; b < m; b++)
            for (int dd = 0; dd < m; dd++) {
              hpos[k] = a * m + b; // the element (a, b, cc, dd) of the reshaped [h, w] grid is row a*m+b ...
              wpos[k] = cc * m + dd; // ... column cc*m+dd
              k++;
            }
      for (int rep = 0; rep < t; rep++) for (int i = 0; i < h * w; i++) out.add(new int[] {hpos[i], wpos[i]});
    }
    return out.toArray(new int[0][]);
  }

  /** get_window_index: {window_index as long[], cu_window_seqlens after unique_consecutive}. */
  static long[][] windowIndex(int[][] grids, int m, int windowSize, int patchSize) {
    int vw = windowSize / m / patchSize, unitSize = m * m;
    List<Long> index = new ArrayList<>(), cu = new ArrayList<>(List.of(0L));
    long id = 0;
    for (int[] g : grids) {
      int t = g[0], lh = g[1] / m, lw = g[2] / m;
      int padH = vw - lh % vw, padW = vw - lw % vw, nh = (lh + padH) / vw, nw = (lw + padW) / vw;
      int ph = lh + padH, pw = lw + padW;
      long[][][] padded = new long[t][ph][pw];
      for (int a = 0; a < t; a++)
        for (int y = 0; y < ph; y++)
          for (int x = 0; x < pw; x++) padded[a][y][x] = y < lh && x < lw ? (long) (a * lh + y) * lw + x : -100;
      // reshape(t, nh, vw, nw, vw).permute(0, 1, 3, 2, 4): window (i, j), inner (p, q) is padded[i*vw+p][j*vw+q]
      for (int a = 0; a < t; a++)
        for (int i = 0; i < nh; i++)
          for (int j = 0; j < nw; j++) {
            long count = 0;
            for (int p = 0; p < vw; p++)
              for (int q = 0; q < vw; q++) {
                long v = padded[a][i * vw + p][j * vw + q];
                if (v != -100) {
                  index.add(v + id);
                  count++;
                }
              }
            cu.add(cu.get(cu.size() - 1) + count * unitSize); // seqlens.cumsum * unit + previous last
          }
      id += (long) t * lh * lw;
    }
    List<Long> unique = new ArrayList<>();
    for (long v : cu) if (unique.isEmpty() || unique.get(unique.size() - 1) != v) unique.add(v);
    return new long[][] {index.stream().mapToLong(Long::longValue).toArray(), unique.stream().mapToLong(Long::longValue).toArray()};
  }

  /** The tower's output for pixel rows {@code px [rows][C*T*P*P]} (flat) and grids {@code [n][3]}: [merged rows][out]. */
  double[][] forward(float[] px, int[][] grids) {
    int vals = c.patchValues(), rows = px.length / vals;
    double[][] x = new double[rows][d];
    for (int i = 0; i < rows; i++)
      for (int o = 0; o < d; o++) {
        double acc = 0; // Conv3d, stride = kernel: the patch viewed [C, T, P, P] against weight[o] of the same shape
        for (int j = 0; j < vals; j++) acc += patch[o * vals + j] * r(px[i * vals + j]);
        x[i][o] = r(acc);
      }
    int[][] pos = positions(grids, m);
    double[][] freq = new double[rows][hd / 2]; // rotary_pos_emb: [h freqs, w freqs], then cat((emb, emb))
    int dim = hd / 2;
    for (int i = 0; i < rows; i++)
      for (int j = 0; j < dim / 2; j++) {
        double inv = 1 / Math.pow(10000, 2.0 * j / dim);
        freq[i][j] = pos[i][0] * inv;
        freq[i][dim / 2 + j] = pos[i][1] * inv;
      }
    long[] cuFull = new long[1];
    for (int[] g : grids)
      for (int t = 0; t < g[0]; t++) {
        cuFull = java.util.Arrays.copyOf(cuFull, cuFull.length + 1);
        cuFull[cuFull.length - 1] = cuFull[cuFull.length - 2] + (long) g[1] * g[2];
      }
    boolean windowed = c.family().windowed();
    long[] windowIdx = null, cuWin = null;
    if (windowed) {
      long[][] wi = windowIndex(grids, m, c.windowSize(), c.patchSize());
      windowIdx = wi[0];
      cuWin = wi[1];
      x = regroup(x, windowIdx, unit);
      freq = regroup(freq, windowIdx, unit);
    }
    for (int l = 0; l < blocks.size(); l++) {
      double[][] b = blocks.get(l);
      boolean full = !windowed || c.fullattBlockIndexes().contains(l);
      double[][] h = norm(x, b[0], b[1]);
      double[][] qkv = dense(h, b[2], b[3], 3 * d);
      double[][] o = attention(qkv, freq, full ? cuFull : cuWin);
      add(x, dense(o, b[4], b[5], d));
      double[][] h2 = norm(x, b[6], b[7]);
      double[][] a = dense(h2, b[8], b[9], f);
      double[][] up = b[10] == null ? null : dense(h2, b[10], b[11], f);
      for (int i = 0; i < rows; i++)
        for (int j = 0; j < f; j++) {
          double v = activation(c.hiddenAct(), a[i][j]);
          a[i][j] = r(up == null ? v : v * up[i][j]);
        }
      add(x, dense(a, b[12], b[13], d));
    }
    // merger: ln_q, view(-1, D * unit), Linear, GELU, Linear
    double[][] ln = norm(x, lnW, lnB);
    double[][] merged = new double[rows / unit][d * unit];
    for (int i = 0; i < rows; i++) System.arraycopy(ln[i], 0, merged[i / unit], (i % unit) * d, d);
    double[][] a = dense(merged, fc1, fc1b, d * unit);
    for (double[] row : a) for (int j = 0; j < row.length; j++) row[j] = r(activation("gelu", row[j]));
    double[][] out = dense(a, fc2, fc2b, c.outHiddenSize());
    if (!windowed) return out;
    double[][] back = new double[out.length][]; // hidden_states[argsort(window_index)]
    for (int i = 0; i < windowIdx.length; i++) back[(int) windowIdx[i]] = out[i];
    return back;
  }

  /** x.reshape(rows/unit, unit, -1)[index].reshape(rows, -1). */
  static double[][] regroup(double[][] x, long[] index, int unit) {
    double[][] y = new double[x.length][];
    for (int i = 0; i < index.length; i++)
      for (int u = 0; u < unit; u++) y[i * unit + u] = x[(int) index[i] * unit + u].clone();
    return y;
  }

  /** LayerNorm (bias present) or Qwen2RMSNorm, eps 1e-6; the output feeds a dense layer. */
  private double[][] norm(double[][] x, double[] w, double[] b) {
    double[][] y = new double[x.length][d];
    for (int i = 0; i < x.length; i++) {
      double mean = 0, var = 0;
      if (b != null) {
        for (double v : x[i]) mean += v;
        mean /= d;
      }
      for (double v : x[i]) var += (v - mean) * (v - mean);
      var /= d;
      double inv = 1 / Math.sqrt(var + 1e-6);
      for (int j = 0; j < d; j++) y[i][j] = r((x[i][j] - mean) * inv * w[j] + (b == null ? 0 : b[j]));
    }
    return y;
  }

  private double[][] dense(double[][] x, double[] w, double[] b, int out) {
    int in = x[0].length;
    double[][] y = new double[x.length][out];
    for (int i = 0; i < x.length; i++)
      for (int o = 0; o < out; o++) {
        double acc = b == null ? 0 : r(b[o]);
        for (int j = 0; j < in; j++) acc += w[o * in + j] * x[i][j];
        y[i][o] = r(acc);
      }
    return y;
  }

  /** VisionAttention: qkv.reshape(rows, 3, heads, hd); q, k rotated; softmax(q k^T / sqrt(hd)) v within each sequence. */
  private double[][] attention(double[][] qkv, double[][] freq, long[] cu) {
    int rows = qkv.length, half = hd / 2;
    double[][] q = new double[rows][d], k = new double[rows][d], v = new double[rows][d];
    for (int i = 0; i < rows; i++)
      for (int h = 0; h < heads; h++)
        for (int j = 0; j < hd; j++) {
          double ang = freq[i][j % half], cs = Math.cos(ang), sn = Math.sin(ang);
          double q1 = qkv[i][h * hd + j], k1 = qkv[i][d + h * hd + j];
          // rotate_half(x)[j] = -x[j + half] for j < half, x[j - half] above
          double qr = j < half ? -qkv[i][h * hd + j + half] : qkv[i][h * hd + j - half];
          double kr = j < half ? -qkv[i][d + h * hd + j + half] : qkv[i][d + h * hd + j - half];
          q[i][h * hd + j] = r(q1 * cs + qr * sn);
          k[i][h * hd + j] = r(k1 * cs + kr * sn);
          v[i][h * hd + j] = qkv[i][2 * d + h * hd + j];
        }
    double[][] o = new double[rows][d];
    double scale = 1 / Math.sqrt(hd);
    for (int s = 0; s + 1 < cu.length; s++) {
      int from = (int) cu[s], to = (int) cu[s + 1];
      double[] sc = new double[to - from];
      for (int h = 0; h < heads; h++)
        for (int i = from; i < to; i++) {
          double max = Double.NEGATIVE_INFINITY, sum = 0;
          for (int j = from; j < to; j++) {
            double dot = 0;
            for (int t = 0; t < hd; t++) dot += q[i][h * hd + t] * k[j][h * hd + t];
            sc[j - from] = dot * scale;
            max = Math.max(max, sc[j - from]);
          }
          for (int j = 0; j < sc.length; j++) sum += sc[j] = Math.exp(sc[j] - max);
          for (int t = 0; t < hd; t++) {
            double acc = 0;
            for (int j = from; j < to; j++) acc += r(sc[j - from] / sum) * v[j][h * hd + t];
            o[i][h * hd + t] = r(acc);
          }
        }
    }
    return o;
  }

  private static void add(double[][] x, double[][] y) {
    for (int i = 0; i < x.length; i++) for (int j = 0; j < x[i].length; j++) x[i][j] += y[i][j];
  }

  static double activation(String name, double x) {
    return ClipReference64.activation(name, x);
  }
}
