package io.fitprune.decoder;

import io.fitprune.kernels.Bf16;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A plain float64 LLaMA forward pass, written from the definitions with no shared code: RMSNorm,
 * rotate-half RoPE at explicit positions, causal GQA softmax attention, SwiGLU, optional dropping
 * of given original token ids after a layer's attention. The oracle for {@link Decoder}.
 */
final class Reference64 {
  final DecoderConfig c;
  final List<double[][][]> layers = new ArrayList<>(); // per layer: ln1, q, k, v, o, ln2, gate, up, down as [rows][cols]
  final List<double[][]> biases = new ArrayList<>();   // per layer: q, k, v biases (entries null when absent)
  final double[] finalNorm;
  final double[][] lmHead;
  /** Round every dense layer's input and output to bfloat16, as the decoder does with BF16 weights. */
  boolean bf16Dense;
  /** Also keep the residual stream in bfloat16 (rounded after every addition): the alternative the decoder does not take. */
  boolean bf16Residual;

  Reference64(DecoderWeights w) {
    c = w.config();
    for (int l = 0; l < c.layers(); l++) {
      DecoderWeights.Layer lw = w.layer(l);
      layers.add(new double[][][] {
          mat(lw.inputNorm(), 1, c.hidden()), mat(lw.q(), c.hidden(), c.hidden()), mat(lw.k(), c.kvWidth(), c.hidden()),
          mat(lw.v(), c.kvWidth(), c.hidden()), mat(lw.o(), c.hidden(), c.hidden()), mat(lw.postNorm(), 1, c.hidden()),
          mat(lw.gate(), c.mlp(), c.hidden()), mat(lw.up(), c.mlp(), c.hidden()), mat(lw.down(), c.hidden(), c.mlp())});
      biases.add(new double[][] {vec(lw.qBias()), vec(lw.kBias()), vec(lw.vBias())});
    }
    finalNorm = mat(w.finalNorm(), 1, c.hidden())[0];
    lmHead = mat(w.lmHead(), c.vocab(), c.hidden());
  }

  static double[][] mat(org.bytedeco.pytorch.Tensor t, int rows, int cols) {
    float[] f = Tensors.toArray(t);
    double[][] m = new double[rows][cols];
    for (int r = 0; r < rows; r++) for (int j = 0; j < cols; j++) m[r][j] = f[r * cols + j];
    return m;
  }

  static double[] vec(org.bytedeco.pytorch.Tensor t) {
    if (t == null) return null;
    float[] f = Tensors.toArray(t);
    double[] v = new double[f.length];
    for (int i = 0; i < f.length; i++) v[i] = f[i];
    return v;
  }

  static double[][] plus(double[][] x, double[] b) {
    if (b != null) for (double[] row : x) for (int j = 0; j < row.length; j++) row[j] += b[j];
    return x;
  }

  /** Result: final residual rows, their original ids, last row after the final norm, greedy next token. */
  record Out(double[][] x, int[] ids, double[] last, int next) {}

  /** drops.get(l): original ids removed after layer l's attention (may be null or shorter than L). */
  Out forward(float[] embeds, int n, List<int[]> drops) {
    int D = c.hidden();
    double[][] x = new double[n][D];
    for (int i = 0; i < n; i++) for (int j = 0; j < D; j++) x[i][j] = embeds[i * D + j];
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) ids[i] = i;
    for (int l = 0; l < c.layers(); l++) {
      double[][][] w = layers.get(l);
      double[][] h = norm(x, w[0][0]);
      double[][] bs = biases.get(l);
      double[][] q = plus(dense(h, w[1]), bs[0]), k = plus(dense(h, w[2]), bs[1]), v = plus(dense(h, w[3]), bs[2]);
      rope(q, ids, c.heads());
      rope(k, ids, c.kvHeads());
      double[][] o = attention(q, k, v);
      Set<Integer> drop = new HashSet<>();
      if (drops != null && l < drops.size() && drops.get(l) != null) for (int id : drops.get(l)) drop.add(id);
      if (!drop.isEmpty()) {
        int m = 0;
        for (int id : ids) if (!drop.contains(id)) m++;
        double[][] x2 = new double[m][], o2 = new double[m][];
        int[] ids2 = new int[m];
        int wr = 0;
        for (int i = 0; i < ids.length; i++) {
          if (drop.contains(ids[i])) continue;
          x2[wr] = x[i];
          o2[wr] = o[i];
          ids2[wr++] = ids[i];
        }
        x = x2;
        o = o2;
        ids = ids2;
      }
      addResidual(x, dense(o, w[4]));
      double[][] h2 = norm(x, w[5][0]);
      double[][] g = dense(h2, w[6]), u = dense(h2, w[7]);
      for (int i = 0; i < g.length; i++)
        for (int j = 0; j < g[i].length; j++) g[i][j] = g[i][j] / (1 + Math.exp(-g[i][j])) * u[i][j];
      addResidual(x, dense(g, w[8]));
    }
    double[] last = norm(new double[][] {x[x.length - 1]}, finalNorm)[0];
    double[] logits = dense(new double[][] {last}, lmHead)[0];
    int best = 0;
    for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return new Out(x, ids, last, best);
  }

  double[][] norm(double[][] x, double[] w) {
    double[][] out = new double[x.length][];
    for (int i = 0; i < x.length; i++) {
      double ss = 0;
      for (double a : x[i]) ss += a * a;
      double r = 1 / Math.sqrt(ss / x[i].length + c.rmsEps());
      out[i] = new double[x[i].length];
      for (int j = 0; j < x[i].length; j++) out[i][j] = x[i][j] * r * w[j];
    }
    return out;
  }

  double[][] dense(double[][] x, double[][] w) {
    if (!bf16Dense) return lin(x, w);
    double[][] xr = new double[x.length][];
    for (int i = 0; i < x.length; i++) xr[i] = bf16(x[i]);
    double[][] y = lin(xr, w);
    for (int i = 0; i < y.length; i++) y[i] = bf16(y[i]);
    return y;
  }

  static double[] bf16(double[] v) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) out[i] = io.fitprune.kernels.Bf16.toFloat(io.fitprune.kernels.Bf16.fromFloat((float) v[i]));
    return out;
  }

  static double[][] lin(double[][] x, double[][] w) { // x W^T
    double[][] out = new double[x.length][w.length];
    for (int i = 0; i < x.length; i++)
      for (int r = 0; r < w.length; r++) {
        double s = 0;
        for (int j = 0; j < w[r].length; j++) s += x[i][j] * w[r][j];
        out[i][r] = s;
      }
    return out;
  }

  void addResidual(double[][] x, double[][] y) {
    add(x, y);
    if (bf16Residual) for (int i = 0; i < x.length; i++) x[i] = bf16(x[i]);
  }

  static void add(double[][] x, double[][] y) {
    for (int i = 0; i < x.length; i++) for (int j = 0; j < x[i].length; j++) x[i][j] += y[i][j];
  }

  void rope(double[][] t, int[] pos, int heads) {
    int d = c.headDim(), half = d / 2;
    for (int i = 0; i < t.length; i++)
      for (int h = 0; h < heads; h++)
        for (int j = 0; j < half; j++) {
          double ang = pos[i] * Math.pow(c.ropeTheta(), -2.0 * j / d);
          double a = t[i][h * d + j], b = t[i][h * d + j + half];
          t[i][h * d + j] = a * Math.cos(ang) - b * Math.sin(ang);
          t[i][h * d + j + half] = b * Math.cos(ang) + a * Math.sin(ang);
        }
  }

  double[][] attention(double[][] q, double[][] k, double[][] v) {
    int n = q.length, H = c.heads(), d = c.headDim(), grp = H / c.kvHeads();
    double[][] out = new double[n][H * d];
    for (int h = 0; h < H; h++) {
      int g = h / grp;
      for (int i = 0; i < n; i++) {
        double[] s = new double[i + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j <= i; j++) {
          double dot = 0;
          for (int e = 0; e < d; e++) dot += q[i][h * d + e] * k[j][g * d + e];
          s[j] = dot / Math.sqrt(d);
          max = Math.max(max, s[j]);
        }
        double z = 0;
        for (int j = 0; j <= i; j++) z += s[j] = Math.exp(s[j] - max);
        for (int j = 0; j <= i; j++)
          for (int e = 0; e < d; e++) out[i][h * d + e] += s[j] / z * v[j][g * d + e];
      }
    }
    return out;
  }
}
