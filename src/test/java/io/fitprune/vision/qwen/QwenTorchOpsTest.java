package io.fitprune.vision.qwen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fitprune.decoder.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/**
 * {@link WindowIndex} and {@link VisionRotary} against {@code get_window_index} and {@code rot_pos_emb}
 * of transformers' modeling_qwen2_5_vl.py (commit 00b676f8) replayed op by op in libtorch: arange,
 * reshape, the -100 padding of {@code F.pad}, permute, the mask, cumsum, {@code unique_consecutive};
 * the float32 {@code inv_freq}, {@code outer}, {@code rotary_pos_emb_full[pos_ids].flatten(1)}, the
 * regrouping by {@code window_index} and {@code cat((emb, emb))}. A second reading of the source,
 * independent of the loops in {@link QwenReference64}, on random grids with odd merged sides.
 */
class QwenTorchOpsTest {
  private static Scalar s(double v) {
    return new Scalar(v);
  }

  /** An integer scalar: arange over it gives int64, as the source's index arithmetic has. */
  private static Scalar s(long v) {
    return new Scalar(v);
  }

  private static long[] longs(Tensor t) {
    float[] f = Tensors.toArray(t); // small indices: exact in float32
    long[] out = new long[f.length];
    for (int i = 0; i < f.length; i++) out[i] = (long) f[i];
    return out;
  }

  /** get_window_index as the source writes it: {window_index, cu_window_seqlens after unique_consecutive}. */
  static long[][] windowIndex(List<GridThw> grids, QwenVisionConfig c) {
    int merge = c.spatialMergeSize(), vw = c.windowSize() / merge / c.patchSize();
    List<Long> index = new ArrayList<>(), cu = new ArrayList<>(List.of(0L));
    long id = 0;
    for (GridThw g : grids) {
      int lh = g.h() / merge, lw = g.w() / merge;
      Tensor idx = torch.arange(s(g.t() * lh * lw)).reshape(g.t(), lh, lw);
      int padH = vw - lh % vw, padW = vw - lw % vw, nh = (lh + padH) / vw, nw = (lw + padW) / vw;
      Tensor padded = torch.constant_pad_nd(idx, new long[] {0, padW, 0, padH}, s(-100))
          .reshape(g.t(), nh, vw, nw, vw).permute(0, 1, 3, 2, 4).reshape(g.t(), nh * nw, vw, vw);
      Tensor seqlens = padded.ne(s(-100)).sum(2, 3).reshape(-1);
      Tensor flat = padded.reshape(-1);
      for (long v : longs(torch.masked_select(flat, flat.ne(s(-100))))) index.add(v + id);
      long last = cu.get(cu.size() - 1);
      for (long v : longs(seqlens.cumsum(0))) cu.add(v * merge * merge + last);
      id += (long) g.t() * lh * lw;
    }
    List<Long> unique = new ArrayList<>(); // torch.unique_consecutive
    for (long v : cu) if (unique.isEmpty() || unique.get(unique.size() - 1) != v) unique.add(v);
    return new long[][] {index.stream().mapToLong(Long::longValue).toArray(),
        unique.stream().mapToLong(Long::longValue).toArray()};
  }

  /** rot_pos_emb, regrouped by window_index when given, as emb = cat((rotary, rotary)): [rows, head_dim] float32. */
  static Tensor rotaryEmb(List<GridThw> grids, QwenVisionConfig c, long[] windowIndex) {
    int m = c.spatialMergeSize(), dim = c.headDim() / 2, maxSide = 0;
    Tensor inv = torch.pow(s(10000.0), torch.arange(s(0), s(dim), s(2)).to(torch.ScalarType.Float).div(s(dim)))
        .reciprocal();
    TensorVector pos = new TensorVector();
    for (GridThw g : grids) {
      int h = g.h(), w = g.w();
      maxSide = Math.max(maxSide, Math.max(h, w));
      Tensor hpos = torch.arange(s(h)).unsqueeze(1).expand(h, w).reshape(h / m, m, w / m, m).permute(0, 2, 1, 3).flatten();
      Tensor wpos = torch.arange(s(w)).unsqueeze(0).expand(h, w).reshape(h / m, m, w / m, m).permute(0, 2, 1, 3).flatten();
      pos.push_back(torch.stack(new TensorVector(hpos, wpos), -1).repeat(g.t(), 1));
    }
    Tensor ids = torch.cat(pos, 0);
    long rows = ids.size(0);
    Tensor full = torch.outer(torch.arange(s(maxSide)).to(torch.ScalarType.Float), inv);
    Tensor rot = torch.index_select(full, 0, ids.reshape(-1)).reshape(rows, -1); // full[pos_ids].flatten(1)
    if (windowIndex != null) {
      int unit = c.mergeUnit();
      rot = torch.index_select(rot.reshape(rows / unit, unit, -1), 0, torch.tensor(windowIndex)).reshape(rows, -1);
    }
    return torch.cat(new TensorVector(rot, rot), -1);
  }

  static List<GridThw> randomGrids(SplittableRandom r, int m) {
    List<GridThw> g = new ArrayList<>();
    for (int n = 1 + r.nextInt(3); n > 0; n--)
      g.add(new GridThw(1 + r.nextInt(2), m * (1 + r.nextInt(9)), m * (1 + r.nextInt(9))));
    return g;
  }

  /** Windows of 2, 3 and 4 merged tokens a side (the last Qwen2.5-VL's 112 / 2 / 14), merge sizes 2 and 3. */
  static final List<QwenVisionConfig> CONFIGS = List.of(QwenVisionTowerTest.QWEN25,
      new QwenVisionConfig(QwenVisionFamily.QWEN2_5_VL, 1, 24, 8, 8, 2, 3, 3, 2, 3, "silu", 27, List.of()),
      new QwenVisionConfig(QwenVisionFamily.QWEN2_5_VL, 1, 32, 8, 8, 2, 3, 14, 2, 2, "silu", 112, List.of()));

  @Test
  void windowIndexIsTheSourcesTensorOps() {
    SplittableRandom r = new SplittableRandom(11);
    for (QwenVisionConfig c : CONFIGS)
      for (int trial = 0; trial < 12; trial++) {
        List<GridThw> grids = randomGrids(r, c.spatialMergeSize());
        long[][] want = windowIndex(grids, c);
        WindowIndex got = WindowIndex.of(grids, c);
        long[] order = new long[got.order().length];
        for (int i = 0; i < order.length; i++) order[i] = got.order()[i];
        assertArrayEquals(want[0], order, grids.toString());
        assertArrayEquals(want[1], got.cuSeqlens(), grids.toString());
      }
  }

  @Test
  void rotaryTablesAreRotPosEmbInEitherOrder() {
    SplittableRandom r = new SplittableRandom(12);
    for (QwenVisionConfig c : CONFIGS)
      for (int trial = 0; trial < 6; trial++) {
        List<GridThw> grids = randomGrids(r, c.spatialMergeSize());
        long[] window = windowIndex(grids, c)[0];
        int[] order = WindowIndex.of(grids, c).order();
        for (boolean windowed : new boolean[] {false, true}) {
          Tensor emb = rotaryEmb(grids, c, windowed ? window : null);
          float[] cos = Tensors.toArray(emb.cos()), sin = Tensors.toArray(emb.sin());
          VisionRotary got = VisionRotary.of(grids, c, windowed ? order : null);
          int half = got.half(), hd = c.headDim();
          assertEquals(hd, 2 * half);
          assertEquals(cos.length / hd * half, got.cos().length);
          // the table keeps one half: pair (j, j + half) of rotate_half shares emb[j] = emb[j + half]
          for (int row = 0; row < cos.length / hd; row++)
            for (int j = 0; j < hd; j++) {
              String at = grids + (windowed ? " windowed" : "") + " row " + row + " column " + j;
              assertEquals(cos[row * hd + j], got.cos()[row * half + j % half], 1e-6, at);
              assertEquals(sin[row * hd + j], got.sin()[row * half + j % half], 1e-6, at);
            }
        }
      }
  }
}
