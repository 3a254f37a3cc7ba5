package io.fitprune.decoder;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The decoder's dense layers: libtorch {@code linear} in the weights' own precision. F32 weights
 * run in float32; BF16 weights in bfloat16 (the activations are rounded to bf16 on the way in,
 * accumulation is float32 inside oneDNN, which uses {@code avx512_bf16} where the CPU has it).
 * F16 weights also run in bf16, each matrix converted for the one call: libtorch's CPU float16
 * GEMM was 7-10 times slower than its bf16 GEMM on the development machine (Zen 4 has no
 * avx512_fp16), and float32 2-4 times. Nothing is converted for good.
 */
public final class Dense {
  private Dense() {}

  /** The element type the dense layers compute in for weights of this type. */
  public static torch.ScalarType computeType(Tensor weight) {
    return Tensors.is(weight, torch.ScalarType.Float) ? torch.ScalarType.Float : torch.ScalarType.BFloat16;
  }

  /** {@code x w^T + b} (b may be null) as a new tensor of {@link #computeType}; x of any float type. */
  public static Tensor linear(Tensor x, Tensor w, Tensor b) {
    return linear(x, w, b, computeType(w));
  }

  /** {@code x w^T + b} computed in and returned as {@code ct}, whatever the weight's own type. */
  public static Tensor linear(Tensor x, Tensor w, Tensor b, torch.ScalarType ct) {
    Tensor xc = Tensors.is(x, ct) ? null : x.to(ct);
    Tensor wc = Tensors.is(w, ct) ? null : w.to(ct);
    Tensor bc = b == null || Tensors.is(b, ct) ? null : b.to(ct);
    try {
      Tensor xi = xc != null ? xc : x, wi = wc != null ? wc : w, bi = bc != null ? bc : b;
      return bi == null ? torch.linear(xi, wi) : torch.linear(xi, wi, bi);
    } finally {
      if (xc != null) xc.close();
      if (wc != null) wc.close();
      if (bc != null) bc.close();
    }
  }

  /** {@code x w^T + b} computed in and written into {@code out}'s type (float32 or bf16 K/V cache rows). */
  public static void linearInto(Tensor out, Tensor x, Tensor w, Tensor b) {
    torch.ScalarType f = torch.ScalarType.Float;
    if (Tensors.is(out, f) && Tensors.is(w, f) && Tensors.is(x, f) && (b == null || Tensors.is(b, f))) {
      if (b == null) torch.linear_out(out, x, w);
      else torch.linear_out(out, x, w, new org.bytedeco.pytorch.TensorOptional(b));
      return;
    }
    try (Tensor r = linear(x, w, b, Tensors.is(out, f) ? f : torch.ScalarType.BFloat16)) {
      out.copy_(r);
    }
  }

  /** {@code x w^T + b} as a new float32 tensor (q/k/v for the fp32 attention kernels, logits). */
  public static Tensor linearFloat(Tensor x, Tensor w, Tensor b) {
    Tensor r = linear(x, w, b);
    if (Tensors.is(r, torch.ScalarType.Float)) return r;
    try {
      return r.to(torch.ScalarType.Float);
    } finally {
      r.close();
    }
  }
}
