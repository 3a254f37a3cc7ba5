package io.fitprune.decoder;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** Small helpers between Java arrays and libtorch float32 tensors (copies; the tensor owns its memory). */
public final class Tensors {
  private Tensors() {}

  /** A new contiguous float32 tensor holding a copy of {@code data}. */
  public static Tensor of(float[] data, long... shape) {
    Tensor t = torch.empty(shape);
    if (t.numel() != data.length)
      throw new IllegalArgumentException("data has " + data.length + " floats, shape needs " + t.numel());
    t.data_ptr_float().capacity(data.length).put(data);
    return t;
  }

  /** A copy of a tensor's contents as float32 (converted and made contiguous first). */
  public static float[] toArray(Tensor t) {
    if (is(t, torch.ScalarType.Float)) return Decoder.toArray(t);
    try (Tensor f = t.to(torch.ScalarType.Float)) {
      return Decoder.toArray(f);
    }
  }

  /** Whether a tensor has the given element type (JavaCPP's enum values are not unique objects: compare values). */
  public static boolean is(Tensor t, torch.ScalarType type) {
    return t.scalar_type().value == type.value;
  }
}
