package io.fitprune.vision.qwen;

import io.fitprune.decoder.Dense;
import io.fitprune.decoder.Temps;
import io.fitprune.decoder.Tensors;
import io.fitprune.vision.BidirectionalAttention;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * transformers' {@code Qwen2VLVisionBlock} / {@code Qwen2_5_VLVisionBlock}: pre-norm attention with a
 * fused {@code qkv} projection (q, k, v in that order of its rows, heads inside each), the 2-D
 * rotary embedding on q and k, non-causal attention within each {@code cu_seqlens} sequence,
 * scale {@code head_dim^-0.5}, the output projection; then the MLP. The residual stream is
 * float32; dense layers run in the weights' precision, q and k rotate in float32 and return to
 * that precision for the attention kernel, as {@code apply_rotary_pos_emb_vision} casts back.
 */
record VisionBlock(VisionNorm norm1, Tensor qkv, Tensor qkvBias, Tensor proj, Tensor projBias, VisionNorm norm2,
    VisionMlp mlp) {

  /** Runs the block on {@code x [rows, D]} float32 contiguous, in place. */
  void apply(Tensor x, long[] cuSeqlens, VisionRotary rotary, int heads) {
    long rows = x.size(0), d = x.size(1);
    try (Temps tp = new Temps()) {
      Tensor h = tp.add(norm1.apply(x));
      Tensor all = tp.add(Dense.linear(h, qkv, qkvBias));
      torch.ScalarType type = all.scalar_type();
      Tensor q = tp.add(rotated(tp, all, 0, rows, d, rotary, heads, type));
      Tensor k = tp.add(rotated(tp, all, d, rows, d, rotary, heads, type));
      Tensor v = tp.add(tp.add(all.narrow(1, 2 * d, d)).contiguous());
      Tensor o = tp.add(torch.empty(rows, d));
      BidirectionalAttention.apply(q, k, v, heads, cuSeqlens, o);
      x.add_(tp.add(Dense.linear(o, proj, projBias)));
      x.add_(tp.add(mlp.apply(tp.add(norm2.apply(x)))));
    }
  }

  /** Columns {@code [from, from + d)} of {@code all}, rotated in float32, as a contiguous tensor of {@code type}. */
  private static Tensor rotated(Temps tp, Tensor all, long from, long rows, long d, VisionRotary rotary, int heads,
      torch.ScalarType type) {
    Tensor f = tp.add(tp.add(tp.add(all.narrow(1, from, d)).to(torch.ScalarType.Float)).contiguous());
    rotary.apply(f.data_ptr_float().capacity(f.numel()).asBuffer(), (int) rows, heads);
    return Tensors.is(f, type) ? f.contiguous() : f.to(type);
  }
}
