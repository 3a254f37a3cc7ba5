package io.fitprune.vision;

import io.fitprune.decoder.Tensors;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * A float64 CLIP vision tower and LLaVA projector in plain loops, written from transformers'
 * modeling_clip.py and modeling_llava.py (CLIPVisionEmbeddings as a strided convolution,
 * pre_layrnorm, CLIPEncoderLayer, hidden_states[0] = the first layer's input, select strategy,
 * LlavaMultiModalProjector) and activations.py. With {@link #bf16} it rounds to bfloat16 wherever
 * a bf16 run holds a value in bf16: the pixels and every dense layer's input and output, q/k/v,
 * the attention probabilities and output; sums into the residual stream stay exact.
 */
public final class ClipReference64 {
  final int d, heads, f, ch, p, s, layers, text;
  final double eps;
  final String act, projAct;
  final double[] patch, cls, pos, preW, preB;
  final List<double[][]> layer = new ArrayList<>(); // ln1w, ln1b, q, qb, k, kb, v, vb, o, ob, ln2w, ln2b, fc1, fc1b, fc2, fc2b
  final double[] l1, b1, l2, b2;
  boolean bf16;

  ClipReference64(VisionWeights w) {
    ClipVisionConfig c = w.towerConfig();
    d = c.hiddenSize();
    heads = c.heads();
    f = c.intermediateSize();
    ch = c.channels();
    p = c.patchSize();
    s = c.imageSize();
    layers = c.layers();
    eps = c.layerNormEps();
    act = c.hiddenAct();
    text = w.projectorConfig().textHidden();
    projAct = w.projectorConfig().act();
    patch = vec(w.embeddings.patch());
    cls = vec(w.embeddings.cls());
    pos = vec(w.embeddings.pos());
    preW = vec(w.preNorm.weight());
    preB = vec(w.preNorm.bias());
    for (ClipEncoderLayer l : w.layers)
      layer.add(new double[][] {vec(l.norm1().weight()), vec(l.norm1().bias()), vec(l.q()), vec(l.qBias()), vec(l.k()),
          vec(l.kBias()), vec(l.v()), vec(l.vBias()), vec(l.out()), vec(l.outBias()), vec(l.norm2().weight()),
          vec(l.norm2().bias()), vec(l.fc1()), vec(l.fc1Bias()), vec(l.fc2()), vec(l.fc2Bias())});
    l1 = vec(w.proj.linear1());
    b1 = vec(w.proj.bias1());
    l2 = vec(w.proj.linear2());
    b2 = vec(w.proj.bias2());
  }

  /** A tensor's values as float64 (null stays null). */
  public static double[] vec(Tensor t) {
    if (t == null) return null;
    float[] a = Tensors.toArray(t);
    double[] out = new double[a.length];
    for (int i = 0; i < a.length; i++) out[i] = a[i];
    return out;
  }

  /** bfloat16 rounding (to nearest, ties to even) of a value first rounded to float32. */
  public static double bf16(double x) {
    int bits = Float.floatToRawIntBits((float) x);
    bits += 0x7FFF + ((bits >>> 16) & 1);
    return Float.intBitsToFloat(bits & 0xFFFF0000);
  }

  private double r(double x) {
    return bf16 ? bf16(x) : x;
  }

  /** Every hidden state of one image {@code pixels [C, S, S]} (flat): states.get(i) is [positions][D]. */
  List<double[][]> hiddenStates(float[] pixels, int offset) {
    int g = s / p, n = g * g + 1;
    double[][] x = new double[n][d];
    for (int j = 0; j < d; j++) x[0][j] = cls[j] + pos[j];
    for (int py = 0; py < g; py++)
      for (int px = 0; px < g; px++)
        for (int o = 0; o < d; o++) {
          double acc = 0;
          for (int c = 0; c < ch; c++)
            for (int ky = 0; ky < p; ky++)
              for (int kx = 0; kx < p; kx++) {
                double pix = r(pixels[offset + (c * s + py * p + ky) * s + px * p + kx]);
                acc += patch[((o * ch + c) * p + ky) * p + kx] * pix;
              }
          int row = 1 + py * g + px;
          x[row][o] = r(acc) + pos[row * d + o];
        }
    x = layerNorm(x, preW, preB, false);
    List<double[][]> states = new ArrayList<>();
    states.add(copy(x));
    for (double[][] w : layer) {
      double[][] h = layerNorm(x, w[0], w[1], true);
      double[][] q = dense(h, w[2], w[3], d), k = dense(h, w[4], w[5], d), v = dense(h, w[6], w[7], d);
      double[][] o = attention(q, k, v);
      add(x, dense(o, w[8], w[9], d));
      double[][] h2 = layerNorm(x, w[10], w[11], true);
      double[][] a = dense(h2, w[12], w[13], f);
      for (double[] row : a) for (int j = 0; j < f; j++) row[j] = r(activation(act, row[j]));
      add(x, dense(a, w[14], w[15], d));
      states.add(copy(x));
    }
    return states;
  }

  /** LLaVA's image features of one image: state {@code index}, the CLS row dropped when {@code dropCls}, projected. */
  double[][] features(float[] pixels, int offset, int index, boolean dropCls) {
    double[][] h = hiddenStates(pixels, offset).get(index);
    int from = dropCls ? 1 : 0;
    double[][] sel = new double[h.length - from][];
    for (int i = from; i < h.length; i++) sel[i - from] = h[i].clone();
    if (bf16) for (double[] row : sel) for (int j = 0; j < d; j++) row[j] = bf16(row[j]);
    double[][] a = dense(sel, l1, b1, text);
    for (double[] row : a) for (int j = 0; j < text; j++) row[j] = r(activation(projAct, row[j]));
    return dense(a, l2, b2, text);
  }

  /** {@code nn.LayerNorm}: biased variance; the output rounded when it feeds a dense layer in bf16. */
  private double[][] layerNorm(double[][] x, double[] w, double[] b, boolean feedsDense) {
    double[][] y = new double[x.length][d];
    for (int i = 0; i < x.length; i++) {
      double mean = 0, var = 0;
      for (double v : x[i]) mean += v;
      mean /= d;
      for (double v : x[i]) var += (v - mean) * (v - mean);
      var /= d;
      double inv = 1 / Math.sqrt(var + eps);
      for (int j = 0; j < d; j++) {
        double v = (x[i][j] - mean) * inv * w[j] + b[j];
        y[i][j] = feedsDense ? r(v) : v;
      }
    }
    return y;
  }

  /** {@code nn.Linear}: {@code x W^T + b}, W [out][in] flat; the output rounded in bf16 mode. */
  private double[][] dense(double[][] x, double[] w, double[] b, int out) {
    int in = x.length == 0 ? 0 : x[0].length;
    double[][] y = new double[x.length][out];
    for (int i = 0; i < x.length; i++)
      for (int o = 0; o < out; o++) {
        double acc = b == null ? 0 : b[o];
        for (int j = 0; j < in; j++) acc += w[o * in + j] * x[i][j];
        y[i][o] = r(acc);
      }
    return y;
  }

  /** Bidirectional multi-head attention, scale head_dim^-0.5, softmax over every key. */
  private double[][] attention(double[][] q, double[][] k, double[][] v) {
    int n = q.length, hd = d / heads;
    double scale = 1 / Math.sqrt(hd);
    double[][] o = new double[n][d];
    double[] sc = new double[n];
    for (int h = 0; h < heads; h++)
      for (int i = 0; i < n; i++) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int j = 0; j < n; j++) {
          double dot = 0;
          for (int t = 0; t < hd; t++) dot += q[i][h * hd + t] * k[j][h * hd + t];
          sc[j] = dot * scale;
          max = Math.max(max, sc[j]);
        }
        for (int j = 0; j < n; j++) sum += sc[j] = Math.exp(sc[j] - max);
        for (int t = 0; t < hd; t++) {
          double acc = 0;
          for (int j = 0; j < n; j++) acc += r(sc[j] / sum) * v[j][h * hd + t];
          o[i][h * hd + t] = r(acc);
        }
      }
    return o;
  }

  public static double activation(String name, double x) {
    return switch (name) {
      case "quick_gelu" -> x / (1 + Math.exp(-1.702 * x));
      case "silu" -> x / (1 + Math.exp(-x));
      case "gelu" -> 0.5 * x * (1 + erf(x / Math.sqrt(2)));
      case "gelu_pytorch_tanh", "gelu_new" -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
      default -> throw new IllegalArgumentException(name);
    };
  }

  /** erf to about 1e-15: its Maclaurin series below 2.5, the continued fraction of erfc above. */
  public static double erf(double x) {
    double a = Math.abs(x);
    double y;
    if (a < 2.5) {
      double term = a, sum = a, x2 = a * a;
      for (int k = 1; k < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); k++) {
        term *= -x2 / k;
        sum += term / (2 * k + 1);
      }
      y = 2 / Math.sqrt(Math.PI) * sum;
    } else {
      double cf = 0; // erfc(a) = exp(-a^2)/sqrt(pi) / (a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))
      for (int k = 120; k >= 1; k--) cf = (k / 2.0) / (a + cf);
      y = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + cf);
    }
    return x < 0 ? -y : y;
  }

  private static void add(double[][] x, double[][] y) {
    for (int i = 0; i < x.length; i++) for (int j = 0; j < x[i].length; j++) x[i][j] += y[i][j];
  }

  private static double[][] copy(double[][] x) {
    double[][] c = new double[x.length][];
    for (int i = 0; i < x.length; i++) c[i] = x[i].clone();
    return c;
  }
}
