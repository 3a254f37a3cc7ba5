package io.fitprune.kernels;

import java.lang.ref.Cleaner;
import java.util.Objects;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * GPU memory owned by this object, allocated and freed through our own C API
 * ({@code fp_cuda_malloc}/{@code fp_cuda_free}), so only the CUDA driver is needed at run time.
 * Close it (try-with-resources); a buffer that is never closed is freed when it becomes
 * unreachable. Float buffers of FP16/BF16 are filled from and read back to {@code float[]}
 * through a conversion on the device (round to nearest even).
 */
public final class DeviceBuffer implements AutoCloseable {
  private static final Cleaner CLEANER = Cleaner.create();

  private final ElementType type;
  private final long length;
  private final Pointer pointer;
  private final Cleaner.Cleanable cleanable;
  private volatile boolean closed;

  private DeviceBuffer(ElementType type, long length, Pointer pointer) {
    this.type = type;
    this.length = length;
    this.pointer = pointer;
    Pointer p = pointer; // the cleaning action must not capture this object
    this.cleanable = CLEANER.register(this, () -> FitPruneNative.fp_cuda_free(p));
  }

  /** Uninitialised device memory for {@code length} elements of {@code type}. */
  public static DeviceBuffer allocate(ElementType type, long length) {
    Objects.requireNonNull(type, "type");
    if (length < 0) throw new IllegalArgumentException("length must be >= 0, got " + length);
    CudaKernels.requireDevice();
    long bytes = Lengths.product("device buffer bytes", Math.max(1, length), type.bytes);
    Pointer p = FitPruneNative.fp_cuda_malloc(bytes);
    if (p == null || p.isNull())
      throw new FitPruneException(FitPruneNative.FP_ERR_CUDA, "cannot allocate " + bytes + " bytes on the GPU: "
          + FitPruneNative.fp_last_error());
    return new DeviceBuffer(type, length, p);
  }

  /** A device copy of {@code host} stored as {@code type} (FP32, FP16 or BF16). */
  public static DeviceBuffer of(float[] host, ElementType type) {
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(type, "type");
    if (!type.isFloat()) throw new IllegalArgumentException("type must be fp32, fp16 or bf16 for float data, got " + type);
    DeviceBuffer b = allocate(type, host.length);
    try {
      b.copyFrom(host);
      return b;
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
  }

  /** A device copy of {@code host} as INT32. */
  public static DeviceBuffer of(int[] host) {
    Objects.requireNonNull(host, "host");
    DeviceBuffer b = allocate(ElementType.INT32, host.length);
    try {
      b.copyFrom(host);
      return b;
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
  }

  public ElementType type() {
    return type;
  }

  /** Number of elements. */
  public long length() {
    return length;
  }

  public long bytes() {
    return length * type.bytes;
  }

  /** The device pointer (never dereference it on the host); fails once closed. */
  public Pointer pointer() {
    if (closed) throw new IllegalStateException("device buffer is closed");
    return pointer;
  }

  /** Fills from host floats, converting to this buffer's type on the device. */
  public void copyFrom(float[] host) {
    Objects.requireNonNull(host, "host");
    if (!type.isFloat()) throw new IllegalArgumentException("copyFrom(float[]) needs a float buffer, this one is " + type);
    requireLength(host.length);
    if (host.length == 0) return;
    try (FloatPointer h = new FloatPointer(host)) {
      if (type == ElementType.FP32) {
        Kernels.check(FitPruneNative.fp_cuda_memcpy(pointer(), h, 4L * host.length, FitPruneNative.FP_COPY_H2D));
        return;
      }
      try (DeviceBuffer staging = allocate(ElementType.FP32, host.length)) {
        Kernels.check(FitPruneNative.fp_cuda_memcpy(staging.pointer(), h, 4L * host.length, FitPruneNative.FP_COPY_H2D));
        Kernels.check(FitPruneNative.fp_cuda_convert(staging.pointer(), ElementType.FP32.code, pointer(), type.code,
            host.length, null));
        Kernels.check(FitPruneNative.fp_cuda_stream_synchronize(null));
      }
    }
  }

  /** Fills an INT32 buffer from host ints. */
  public void copyFrom(int[] host) {
    Objects.requireNonNull(host, "host");
    if (type != ElementType.INT32) throw new IllegalArgumentException("copyFrom(int[]) needs an int32 buffer, this one is " + type);
    requireLength(host.length);
    if (host.length == 0) return;
    try (IntPointer h = new IntPointer(host)) {
      Kernels.check(FitPruneNative.fp_cuda_memcpy(pointer(), h, 4L * host.length, FitPruneNative.FP_COPY_H2D));
    }
  }

  /** The contents as floats (converted from FP16/BF16 on the device). */
  public float[] toFloats() {
    if (!type.isFloat()) throw new IllegalArgumentException("toFloats() needs a float buffer, this one is " + type);
    float[] out = new float[Lengths.arrayLength("toFloats", length)];
    if (length == 0) return out;
    try (FloatPointer h = new FloatPointer(length)) {
      if (type == ElementType.FP32) {
        Kernels.check(FitPruneNative.fp_cuda_memcpy(h, pointer(), 4L * length, FitPruneNative.FP_COPY_D2H));
      } else {
        try (DeviceBuffer staging = allocate(ElementType.FP32, length)) {
          Kernels.check(FitPruneNative.fp_cuda_convert(pointer(), type.code, staging.pointer(), ElementType.FP32.code,
              length, null));
          Kernels.check(FitPruneNative.fp_cuda_memcpy(h, staging.pointer(), 4L * length, FitPruneNative.FP_COPY_D2H));
        }
      }
      h.get(out);
    }
    return out;
  }

  /** The contents of an INT32 buffer. */
  public int[] toInts() {
    if (type != ElementType.INT32) throw new IllegalArgumentException("toInts() needs an int32 buffer, this one is " + type);
    int[] out = new int[Lengths.arrayLength("toInts", length)];
    if (length == 0) return out;
    try (IntPointer h = new IntPointer(length)) {
      Kernels.check(FitPruneNative.fp_cuda_memcpy(h, pointer(), 4L * length, FitPruneNative.FP_COPY_D2H));
      h.get(out);
    }
    return out;
  }

  /** Sets every byte to {@code value} (0xFF poisons floats with NaN). */
  public void fill(int value) {
    Kernels.check(FitPruneNative.fp_cuda_memset(pointer(), value, bytes()));
  }

  private void requireLength(long n) {
    if (n != length) throw new IllegalArgumentException("host array has " + n + " elements, device buffer " + length);
  }

  @Override
  public void close() {
    if (closed) return;
    closed = true;
    cleanable.clean();
  }

  @Override
  public String toString() {
    return "DeviceBuffer[" + type + " x " + length + (closed ? ", closed]" : "]");
  }
}
