package io.fitprune.vision;

import io.fitprune.decoder.Temps;
import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
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
 * Packed sequences ({@code cu_seqlens}) run as one packed call per pass, each sequence on its own.
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
    if (q == null) throw new IllegalArgumentException("q is null");
    apply(q, k, v, heads, new long[] {0, q.size(0)}, out);
  }

  /**
   * Packed sequences, as FlashAttention's varlen call with {@code causal=False}: rows
   * {@code [cuSeqlens[b], cuSeqlens[b+1])} attend among themselves only. q, k, v, out as in
   * {@link #apply(Tensor, Tensor, Tensor, int, Tensor)}; {@code cuSeqlens} from 0, never
   * decreasing, ending at n (a sequence may be empty).
   */
  public static void apply(Tensor q, Tensor k, Tensor v, int heads, long[] cuSeqlens, Tensor out) {
    check(q, k, v, heads, out);
    long n = q.size(0), width = q.size(1);
    if (cuSeqlens == null) throw new IllegalArgumentException("cuSeqlens is null");
    Batch all = Batch.ofOffsets(cuSeqlens);
    if (all.tokens() != n)
      throw new IllegalArgumentException("cuSeqlens: expected to end at q's " + n + " rows, got " + all.tokens());
    int d = Math.toIntExact(width / heads), segs = all.size();
    // the second pass, per sequence: its rows reversed, queries shifted by one (row t holds query e-2-t
    // against keys e-1 .. e-1-t), so it covers exactly the keys after each query
    long[] lengths = new long[segs];
    long m = 0;
    for (int b = 0; b < segs; b++) m += lengths[b] = Math.max(0, all.length(b) - 1);
    long[] qRows = new long[(int) m], kRows = new long[(int) m];
    for (int b = 0, r = 0; b < segs; b++) {
      long e = all.start(b) + all.length(b);
      for (long t = 0; t < lengths[b]; t++, r++) {
        qRows[r] = e - 2 - t;
        kRows[r] = e - 1 - t;
      }
    }
    try (Temps tp = new Temps()) {
      Tensor lseA = tp.add(torch.empty(heads, n));
      causal(tp, all, q, k, v, out, lseA, n, heads, d);
      if (m == 0) return;
      Tensor qi = tp.add(torch.tensor(qRows)), ki = tp.add(torch.tensor(kRows));
      Tensor qb = tp.add(torch.index_select(q, 0, qi)), kb = tp.add(torch.index_select(k, 0, ki));
      Tensor vb = tp.add(torch.index_select(v, 0, ki));
      Tensor outB = tp.add(torch.empty(m, width)), lseB = tp.add(torch.empty(heads, m));
      causal(tp, Batch.ofLengths(lengths), qb, kb, vb, outB, lseB, m, heads, d);
      merge(buf(out), buf(lseA), buf(outB), buf(lseB), all, (int) m, heads, d);
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

  private static void causal(Temps tp, Batch batch, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, long n,
      int heads, int d) {
    BatchShape s = new BatchShape(batch, heads, heads, d);
    Kernels.attention(s, TorchData.of(tp.add(q.view(n, heads, d))), TorchData.of(tp.add(k.view(n, heads, d))),
        TorchData.of(tp.add(v.view(n, heads, d))), TorchData.floats(tp.add(out.view(n, heads, d))), TorchData.floats(lse));
  }

  private static FloatBuffer buf(Tensor t) {
    return t.data_ptr_float().capacity(t.numel()).asBuffer();
  }

  /**
   * Each sequence's rows but its last, of {@code a} (in place, {@code [n, H*d]}), merged with the
   * second pass's rows for them in {@code b} ({@code [m, H*d]}, each sequence's rows reversed): a
   * single thread, memory-bound.
   */
  static void merge(FloatBuffer a, FloatBuffer lseA, FloatBuffer b, FloatBuffer lseB, Batch all, int m, int heads, int d) {
    int n = (int) all.tokens(), width = heads * d;
    float[] ra = new float[width], rb = new float[width]; // whole rows: bulk copies, loops the JIT vectorises
    for (int s = 0, base = 0; s < all.size(); s++) {
      int len = (int) all.length(s), start = (int) all.start(s);
      for (int i = 0; i < len - 1; i++) {
        int t = base + len - 2 - i, row = start + i; // the second pass's row holding query row
        a.get(row * width, ra, 0, width);
        b.get(t * width, rb, 0, width);
        for (int h = 0; h < heads; h++) {
          double la = lseA.get(h * n + row), lb = lseB.get(h * m + t);
          float wa = (float) (1 / (1 + Math.exp(lb - la))), wb = 1 - wa;
          for (int j = h * d; j < (h + 1) * d; j++) ra[j] = wa * ra[j] + wb * rb[j];
        }
        a.put(row * width, ra, 0, width);
      }
      base += Math.max(0, len - 1);
    }
  }
}
