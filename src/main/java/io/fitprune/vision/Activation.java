package io.fitprune.vision;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The activations of transformers' {@code ACT2FN} that the vision towers and LLaVA projectors use,
 * applied in float32 whatever the dense layers' type, so a bf16 run rounds once (on the next
 * layer's input) rather than after each of quick-GELU's three element-wise steps.
 */
public enum Activation {
  /** {@code x * sigmoid(1.702 x)} (CLIP's MLP). */
  QUICK_GELU("quick_gelu"),
  /** Exact GELU, {@code x/2 * (1 + erf(x / sqrt 2))} (LLaVA's projector). */
  GELU("gelu"),
  /** GELU's tanh approximation ({@code gelu_pytorch_tanh}, {@code gelu_new}). */
  GELU_TANH("gelu_pytorch_tanh"),
  /** {@code x * sigmoid(x)} (Qwen2.5-VL's gated MLP). */
  SILU("silu");

  private final String key;

  Activation(String key) {
    this.key = key;
  }

  /** The transformers name ({@code hidden_act}, {@code projector_hidden_act}). */
  public String key() {
    return key;
  }

  /** The activation a config names; {@code field} names the config key in the error. */
  public static Activation of(String field, String name) {
    if ("gelu_new".equals(name)) return GELU_TANH;
    for (Activation a : values()) if (a.key.equals(name)) return a;
    throw new IllegalArgumentException(field + " '" + name + "' is not supported (quick_gelu, gelu, gelu_pytorch_tanh, "
        + "gelu_new or silu)");
  }

  /**
   * The activation of {@code x} (any float type) as float32: a converted copy, or {@code x}'s own
   * storage overwritten when it is float32 already (close the result and x both).
   */
  public Tensor apply(Tensor x) {
    Tensor f = x.to(torch.ScalarType.Float);
    switch (this) {
      case QUICK_GELU -> { // x sigmoid(1.702 x) = silu(1.702 x) / 1.702: one pass of libtorch's SiLU, no temporary
        try (Scalar k = new Scalar(1.702); Scalar inv = new Scalar(1 / 1.702)) {
          f.mul_(k);
          torch.silu_(f);
          f.mul_(inv);
        }
      }
      case GELU -> torch.gelu_(f);
      case GELU_TANH -> torch.gelu_(f, "tanh");
      case SILU -> torch.silu_(f);
    }
    return f;
  }
}
