package io.fitprune.eval;

import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.kernels.Spans;
import java.nio.FloatBuffer;
import java.util.Random;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * A model and data whose answer is known: random LLaMA weights plus, in every layer, a planted
 * rank-one term in the query and key projections, so that text tokens (which carry a "question"
 * direction {@code uq} in their embeddings) attend strongly to a known subset of visual tokens
 * (which carry an "answer" direction {@code uk}). The other visual tokens are plain noise, so a
 * pruning policy that keeps what the text attends to keeps the planted tokens; one that does not
 * keeps about its survival fraction of them.
 *
 * <p>The planted query/key components live in the lowest-frequency RoPE pairs of every head (the
 * last {@code pairs} of each half), where rotation over a few hundred positions is a few degrees,
 * so the match survives the position encoding.
 *
 * @param config  the decoder
 * @param prefix  prompt tokens before the image (noise)
 * @param visual  visual tokens
 * @param text    text tokens after the image (noise + beta * sqrt(D) * uq)
 * @param planted visual tokens per sample carrying beta * sqrt(D) * uk (a fresh random subset per sample)
 * @param beta    strength of the planted directions in the embeddings, relative to the noise
 * @param gamma   strength of the planted rank-one terms in W_q and W_k
 * @param pairs   RoPE pairs per head used by the planted terms
 * @param seed    model seed (weights and directions); samples have their own seeds
 */
public record Synthetic(DecoderConfig config, int prefix, int visual, int text, int planted, double beta, double gamma,
    int pairs, long seed) {

  public Synthetic {
    if (config == null) throw new IllegalArgumentException("config is null");
    if (prefix < 0) throw new IllegalArgumentException("prefix must be >= 0, got " + prefix);
    if (visual < 1) throw new IllegalArgumentException("visual must be >= 1, got " + visual);
    if (text < 1) throw new IllegalArgumentException("text must be >= 1 (the text rows are what attends), got " + text);
    if (planted < 1 || planted > visual)
      throw new IllegalArgumentException("planted must be in [1, visual=" + visual + "], got " + planted);
    if (pairs < 1 || pairs > config.headDim() / 2)
      throw new IllegalArgumentException("pairs must be in [1, d/2=" + config.headDim() / 2 + "], got " + pairs);
  }

  /**
   * A default: 8% of the visual tokens planted, beta 0.5, and gamma chosen so the planted
   * query-key logit is about {@code +6} whatever the width ({@link #gammaFor}).
   */
  public static Synthetic of(DecoderConfig c, int prefix, int visual, int text, long seed) {
    double beta = 0.5;
    return new Synthetic(c, prefix, visual, text, Math.max(1, Math.round(visual * 0.08f)), beta, gammaFor(c, beta, 6.0),
        4, seed);
  }

  /**
   * The gamma at which a text query meets a planted key with a logit of about {@code boost}: after
   * RMSNorm an embedding's component along its planted direction is {@code beta*sqrt(D/(1+beta^2))},
   * and the planted terms multiply the two components by gamma each, over a unit vector per head,
   * scaled by {@code 1/sqrt(d)}.
   */
  public static double gammaFor(DecoderConfig c, double beta, double boost) {
    double comp2 = beta * beta * c.hidden() / (1 + beta * beta);
    return Math.sqrt(boost * Math.sqrt(c.headDim()) / comp2);
  }

  public int tokens() {
    return prefix + visual + text;
  }

  public Spans spans() {
    return new Spans(prefix, visual);
  }

  /** The planted "question" (index 0) and "answer" (index 1) directions: orthonormal, length D. */
  public float[][] directions() {
    int D = config.hidden();
    Random r = new Random(seed ^ 0x5EED_D1F5L);
    double[] a = new double[D], b = new double[D];
    for (int i = 0; i < D; i++) {
      a[i] = r.nextGaussian();
      b[i] = r.nextGaussian();
    }
    normalize(a);
    double dot = 0;
    for (int i = 0; i < D; i++) dot += a[i] * b[i];
    for (int i = 0; i < D; i++) b[i] -= dot * a[i];
    normalize(b);
    float[][] out = new float[2][D];
    for (int i = 0; i < D; i++) {
      out[0][i] = (float) a[i];
      out[1][i] = (float) b[i];
    }
    return out;
  }

  private static void normalize(double[] v) {
    double n = 0;
    for (double x : v) n += x * x;
    n = Math.sqrt(n);
    for (int i = 0; i < v.length; i++) v[i] /= n;
  }

  /** Random weights (seed) with the planted terms added to every layer's W_q and W_k. */
  public DecoderWeights weights() {
    DecoderWeights w = DecoderWeights.random(config, seed);
    float[][] dir = directions();
    for (int l = 0; l < config.layers(); l++) {
      plant(w.layer(l).q(), config.heads(), dir[0]);
      plant(w.layer(l).k(), config.kvHeads(), dir[1]);
    }
    return w;
  }

  /** W[r,:] += gamma * s[r] * u for the planted rows r of every head; |s_head| = 1. */
  private void plant(Tensor weight, int heads, float[] u) {
    int d = config.headDim(), half = d / 2, D = config.hidden();
    FloatBuffer b = weight.data_ptr_float().capacity(weight.numel()).asBuffer();
    float s = (float) (gamma / Math.sqrt(2.0 * pairs));
    for (int h = 0; h < heads; h++)
      for (int p = 0; p < pairs; p++)
        for (int row : new int[] {h * d + half - 1 - p, h * d + d - 1 - p}) {
          int off = row * D;
          for (int j = 0; j < D; j++) b.put(off + j, b.get(off + j) + s * u[j]);
        }
  }

  /** One sample: its embeddings {@code [n, D]} and the original indices of its planted visual tokens, ascending. */
  public record Sample(Tensor embeds, Spans spans, int[] planted) {}

  public Sample sample(long sampleSeed) {
    int D = config.hidden(), n = tokens();
    float[][] dir = directions();
    SplittableRandom r = new SplittableRandom(sampleSeed * 0x2545F4914F6CDD1DL + seed);
    int[] perm = new int[visual];
    for (int i = 0; i < visual; i++) perm[i] = i;
    for (int i = 0; i < planted; i++) {
      int j = i + r.nextInt(visual - i);
      int t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    int[] ids = new int[planted];
    for (int i = 0; i < planted; i++) ids[i] = prefix + perm[i];
    java.util.Arrays.sort(ids);
    Tensor e = torch.empty(n, D);
    FloatBuffer b = e.data_ptr_float().capacity((long) n * D).asBuffer();
    Random g = new Random(r.nextLong());
    for (int i = 0; i < n * D; i++) b.put(i, (float) g.nextGaussian());
    float amp = (float) (beta * Math.sqrt(D));
    for (int id : ids) addRow(b, id, D, amp, dir[1]);
    for (int t = prefix + visual; t < n; t++) addRow(b, t, D, amp, dir[0]);
    return new Sample(e, spans(), ids);
  }

  private static void addRow(FloatBuffer b, int row, int D, float amp, float[] u) {
    for (int j = 0; j < D; j++) b.put(row * D + j, b.get(row * D + j) + amp * u[j]);
  }
}
