package io.fitprune.vision;

import io.fitprune.decoder.Temps;
import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.TorchData;
import java.nio.FloatBuffer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Bidirectional (non-causal) multi-head attention, scale {@code 1/sqrt(d)}, from two calls of the
 * library's causal kernel and their log-sum-exps. Row {@code i} of the causal pass covers keys
 * {@code j <= i}. The second pass runs on the sequence reversed with the queries shifted by one
 * (queries {@code n-2 .. 0} against keys {@code n-1 .. 1}), so its row for query {@code i} covers
 * exactly the keys {@code j > i}. The two partial softmaxes cover disjoint key sets and merge
 * exactly: {@code out = a*outA + (1-a)*outB} with {@code a = sigmoid(lseA - lseB)}; the last query
 * has no later keys and keeps {@code outA}. Work: {@code n(n+1)/2 + n(n-1)/2 = n^2} dot products,
 * as bidirectional attention needs, on the kernels' fp32 or bf16 paths (fp32 softmax and output).
 *
 * <p>Why not libtorch: its CPU {@code scaled_dot_product_attention} took 1.1 s for one
 * ViT-L/14-336 layer's attention (1.36 GFLOP) in bf16 on the development VM, against 10.7 ms
 * this way (benchmarks/RESULTS.md, "Vision tower").
 */
public final class BidirectionalAttention {
  private BidirectionalAttention() {}

  /**
   * q, k, v {@code [n, H*d]} contiguous CPU tensors, all float32 or all bf16, into {@code out [n, H*d]}
   * float32 contiguous; n >= 1.
   */
  public static void apply(Tensor q, Tensor k, Tensor v, int heads, Tensor out) {
    check(q, k, v, heads, out);
    long n = q.size(0), width = q.size(1);
    int d = Math.toIntExact(width / heads);
    try (Temps tp = new Temps()) {
      Tensor lseA = tp.add(torch.empty(heads, n));
      causal(tp, q, k, v, out, lseA, n, heads, d);
      if (n == 1) return;
      long m = n - 1;
      // reversed order, queries shifted by one: row t holds query n-2-t against keys n-1 .. n-1-t
      Tensor qb = tp.add(tp.add(tp.add(torch.flip(q, 0)).narrow(0, 1, m)).contiguous());
      Tensor kb = tp.add(tp.add(tp.add(torch.flip(k, 0)).narrow(0, 0, m)).contiguous());
      Tensor vb = tp.add(tp.add(tp.add(torch.flip(v, 0)).narrow(0, 0, m)).contiguous());
      Tensor outB = tp.add(torch.empty(m, width)), lseB = tp.add(torch.empty(heads, m));
      causal(tp, qb, kb, vb, outB, lseB, m, heads, d);
      merge(buf(out), buf(lseA), buf(outB), buf(lseB), (int) n, heads, d);
    }
  }

  private static void check(Tensor q, Tensor k, Tensor v, int heads, Tensor out) {
    String[] names = {"q", "k", "v", "out"};
    Tensor[] ts = {q, k, v, out};
    for (int i = 0; i < 4; i++) {
      if (ts[i] == null) throw new IllegalArgumentException(names[i] + " is null");
      if (ts[i].dim() != 2 || !ts[i].is_contiguous() || !ts[i].device().is_cpu())
        throw new IllegalArgumentException(names[i] + ": expected a contiguous CPU tensor [n, H*d], got " + ts[i].dim()
            + " dimensions");
      if (ts[i].size(0) != q.size(0) || ts[i].size(1) != q.size(1))
        throw new IllegalArgumentException(names[i] + ": expected shape [" + q.size(0) + ", " + q.size(1) + "] as q, got ["
            + ts[i].size(0) + ", " + ts[i].size(1) + "]");
    }
    if (q.size(0) < 1) throw new IllegalArgumentException("q: expected n >= 1 rows, got 0");
    if (heads < 1 || q.size(1) % heads != 0)
      throw new IllegalArgumentException("heads: " + heads + " does not divide the width " + q.size(1));
    if (q.size(0) * q.size(1) >= Integer.MAX_VALUE)
      throw new IllegalArgumentException("q: [" + q.size(0) + ", " + q.size(1) + "] has 2^31 or more elements");
    if (q.scalar_type().value != k.scalar_type().value || q.scalar_type().value != v.scalar_type().value)
      throw new IllegalArgumentException("q, k, v: expected one element type, got " + q.scalar_type() + ", "
          + k.scalar_type() + ", " + v.scalar_type());
    if (out.scalar_type().value != torch.ScalarType.Float.value)
      throw new IllegalArgumentException("out: expected float32, got " + out.scalar_type());
  }

  private static void causal(Temps tp, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, long n, int heads, int d) {
    AttentionShape s = new AttentionShape(n, heads, heads, d);
    Kernels.attention(s, TorchData.of(tp.add(q.view(n, heads, d))), TorchData.of(tp.add(k.view(n, heads, d))),
        TorchData.of(tp.add(v.view(n, heads, d))), TorchData.floats(tp.add(out.view(n, heads, d))), TorchData.floats(lse));
  }

  private static FloatBuffer buf(Tensor t) {
    return t.data_ptr_float().capacity(t.numel()).asBuffer();
  }

  /** Rows 0..n-2 of {@code a} (in place) merged with the reversed rows of {@code b}: a single thread, memory-bound. */
  static void merge(FloatBuffer a, FloatBuffer lseA, FloatBuffer b, FloatBuffer lseB, int n, int heads, int d) {
    int m = n - 1, width = heads * d;
    for (int i = 0; i < m; i++) {
      int t = m - 1 - i; // row of the second pass holding query i
      for (int h = 0; h < heads; h++) {
        double la = lseA.get(h * n + i), lb = lseB.get(h * m + t);
        float wa = (float) (1 / (1 + Math.exp(lb - la))), wb = 1 - wa;
        int oa = i * width + h * d, ob = t * width + h * d;
        for (int j = 0; j < d; j++) a.put(oa + j, wa * a.get(oa + j) + wb * b.get(ob + j));
      }
    }
  }
}
