package io.fitprune.kernels;

import java.util.ArrayList;
import java.util.List;

/**
 * The memory of one array call of {@link Kernels} on a chosen backend: Java arrays rounded to the
 * call's element type on the CPU, device copies on CUDA (freed by {@link #close()}). Outputs on
 * the CPU are float32 (its bf16 attention output is not rounded) or int32.
 */
final class ArrayCall implements AutoCloseable {
  private final boolean device;
  private final ElementType type;
  private final List<DeviceBuffer> owned = new ArrayList<>();

  private ArrayCall(boolean device, ElementType type) {
    this.device = device;
    this.type = type;
  }

  static ArrayCall of(Backend chosen, ElementType type) {
    return new ArrayCall(chosen == Backend.CUDA, type);
  }

  /** An input rounded to the call's type. */
  Data input(float[] values) {
    if (device) return own(DeviceBuffer.of(values, type));
    return type == ElementType.FP32 ? Data.of(values) : Data.roundBf16(values);
  }

  /** A float32 input taken exactly (an LSE). */
  Data exact(float[] values) {
    return device ? own(DeviceBuffer.of(values, ElementType.FP32)) : Data.of(values);
  }

  /** Room for an output of {@code length} elements of {@code outType}. */
  Data output(ElementType outType, long length, String name) {
    if (device) return own(DeviceBuffer.allocate(outType, length));
    if (outType == ElementType.INT32) return Data.of(new int[Lengths.arrayLength(name, length, Integer.BYTES)]);
    return Data.of(new float[Lengths.arrayLength(name, length, Float.BYTES)]);
  }

  private DeviceBuffer own(DeviceBuffer b) {
    owned.add(b);
    return b;
  }

  @Override
  public void close() {
    for (DeviceBuffer b : owned) b.close();
  }
}
