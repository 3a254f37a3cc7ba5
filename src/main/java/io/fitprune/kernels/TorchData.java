package io.fitprune.kernels;

import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * Zero-copy {@link Data} views of ByteDeco PyTorch CPU tensors for the kernels. The only kernels class that links
 * libtorch: a program that uses it adds {@code org.bytedeco:pytorch} (and its platform classifier)
 * to its own dependencies, since the library declares them optional.
 */
public final class TorchData {
  private TorchData() {}

  /** A contiguous float32 CPU tensor, zero-copy through its data pointer; shapes are checked exactly. */
  public static Data floats(Tensor tensor) {
    long[] shape = shapeOf("float", tensor, torch.ScalarType.Float);
    return HostData.view(ElementType.FP32, tensor.data_ptr_float(), tensor.numel(), shape, tensor);
  }

  /** A contiguous int32 CPU tensor, zero-copy. */
  public static Data ints(Tensor tensor) {
    long[] shape = shapeOf("int", tensor, torch.ScalarType.Int);
    return HostData.view(ElementType.INT32, tensor.data_ptr_int(), tensor.numel(), shape, tensor);
  }

  /** A contiguous bfloat16 CPU tensor, zero-copy. */
  public static Data bf16(Tensor tensor) {
    long[] shape = shapeOf("bfloat16", tensor, torch.ScalarType.BFloat16);
    return HostData.view(ElementType.BF16, new ShortPointer(tensor.data_ptr()), tensor.numel(), shape, tensor);
  }

  /**
   * A contiguous float32, bfloat16 or int32 CPU tensor as the kernels' memory of its own type, for
   * callers whose element type is chosen at run time.
   */
  public static Data of(Tensor tensor) {
    if (tensor != null && tensor.defined()) {
      if (tensor.scalar_type().value == torch.ScalarType.BFloat16.value) return bf16(tensor);
      if (tensor.scalar_type().value == torch.ScalarType.Int.value) return ints(tensor);
    }
    return floats(tensor); // float32, or the error naming what the tensor is instead
  }

  /**
   * A 2-D contiguous CPU tensor of float32, float16 or bfloat16 as a dense layer's weight
   * {@code [out, in]}, read in place ({@link Kernels#linear}); {@code name} names it in errors.
   */
  public static Weight weight(String name, Tensor tensor) {
    if (tensor == null) throw new NullPointerException(name + " tensor is null");
    if (!tensor.defined()) throw new IllegalArgumentException(name + ": tensor is undefined");
    if (!tensor.is_cpu()) throw new IllegalArgumentException(name + ": tensor must be on the CPU");
    if (!tensor.is_contiguous()) throw new IllegalArgumentException(name + ": tensor must be contiguous");
    if (tensor.dim() != 2)
      throw new IllegalArgumentException(name + ": expected a matrix [out, in], got " + tensor.dim() + " dimensions");
    int st = tensor.scalar_type().value;
    ElementType type = st == torch.ScalarType.Float.value ? ElementType.FP32
        : st == torch.ScalarType.BFloat16.value ? ElementType.BF16
        : st == torch.ScalarType.Half.value ? ElementType.FP16 : null;
    if (type == null)
      throw new IllegalArgumentException(name + ": weights must be float32, float16 or bfloat16, got " + tensor.scalar_type());
    return Weight.of(name, new org.bytedeco.javacpp.BytePointer(tensor.data_ptr()).capacity(tensor.nbytes()), type,
        tensor.size(0), tensor.size(1), tensor);
  }

  private static long[] shapeOf(String what, Tensor t, torch.ScalarType dtype) {
    if (t == null) throw new NullPointerException(what + " tensor is null");
    if (!t.defined()) throw new IllegalArgumentException(what + ": tensor is undefined");
    if (t.scalar_type().value != dtype.value) // JavaCPP enums from native calls are not always the same instance
      throw new IllegalArgumentException(what + ": tensor must be " + dtype + ", got " + t.scalar_type());
    if (!t.is_cpu()) throw new IllegalArgumentException(what + ": tensor must be on the CPU");
    if (!t.is_contiguous()) throw new IllegalArgumentException(what + ": tensor must be contiguous (call contiguous())");
    long[] shape = new long[(int) t.dim()];
    for (int i = 0; i < shape.length; i++) shape[i] = t.size(i);
    return shape;
  }
}
