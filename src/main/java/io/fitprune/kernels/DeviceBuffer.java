package io.fitprune.kernels;

import java.lang.ref.Cleaner;
import java.util.Objects;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * GPU memory, the device flavour of {@link Data}: owned by this object, allocated and freed through our own C API
 * ({@code fp_cuda_malloc}/{@code fp_cuda_free}, so only the CUDA driver is needed at run time),
 * or the caller's memory used in place ({@link #wrap}). Close an owned buffer (try-with-resources);
 * one that is never closed is freed when it becomes unreachable. Float buffers of FP16/BF16 are
 * filled from and read back to {@code float[]} through a conversion on the device (round to
 * nearest even).
 */
public final class DeviceBuffer extends Data {
  private static final Cleaner CLEANER = Cleaner.create();

  private final ElementType type;
  private final long length;
  private final Pointer pointer;
  private final Cleaner.Cleanable cleanable; // null for wrapped memory
  private volatile boolean closed;

  private DeviceBuffer(ElementType type, long length, Pointer pointer, boolean owned) {
    this.type = type;
    this.length = length;
    this.pointer = pointer;
    Pointer p = pointer; // the cleaning action must not capture this object
    this.cleanable = owned ? CLEANER.register(this, () -> FitPruneNative.fp_cuda_free(p)) : null;
  }

  /**
   * The caller's device memory, used in place: {@code length} elements of {@code type} at
   * {@code address} (for example a torch CUDA tensor's {@code data_ptr()}). No copy and no
   * ownership: {@link #close()} does not free it, and the caller keeps it alive while work that
   * uses it is in flight. Needs no device to create (nothing is called); fp16/bf16 attention
   * inputs must be 16-byte aligned, which the kernels check.
   */
  public static DeviceBuffer wrap(long address, ElementType type, long length) {
    Objects.requireNonNull(type, "type");
    if (address == 0) throw new IllegalArgumentException("address: null device pointer");
    if (length < 0) throw new IllegalArgumentException("length must be >= 0, got " + length);
    if (length > Long.MAX_VALUE / type.bytes)
      throw new IllegalArgumentException("length: " + length + " " + type + " values overflow a byte count");
    if (address % type.bytes != 0)
      throw new IllegalArgumentException("address: 0x" + Long.toHexString(address) + " is not aligned to " + type
          + " (" + type.bytes + " bytes)");
    return new DeviceBuffer(type, length, new RawPointer(address), false);
  }

  /** Uninitialised device memory for {@code length} elements of {@code type}. */
  public static DeviceBuffer allocate(ElementType type, long length) {
    Objects.requireNonNull(type, "type");
    if (length < 0) throw new IllegalArgumentException("length must be >= 0, got " + length);
    CudaBackend.requireDevice();
    long bytes = Lengths.product("device buffer bytes", Math.max(1, length), type.bytes);
    Pointer p = FitPruneNative.fp_cuda_malloc(bytes);
    if (p == null || p.isNull())
      throw new FitPruneException(FitPruneNative.FP_ERR_CUDA, "cannot allocate " + bytes + " bytes on the GPU: "
          + FitPruneNative.fp_last_error());
    return new DeviceBuffer(type, length, p, true);
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

  @Override
  public ElementType type() {
    return type;
  }

  /** Number of elements. */
  @Override
  public long length() {
    return length;
  }

  @Override
  public boolean onDevice() {
    return true;
  }

  /** The first {@code length} elements of this memory, used in place (closing the view frees nothing). */
  @Override
  public DeviceBuffer view(long length) {
    if (length < 0 || length > this.length)
      throw new IllegalArgumentException("length must be in [0, " + this.length + "], got " + length);
    return new DeviceBuffer(type, length, new RawPointer(pointer().address()), false);
  }

  /** Elements {@code [from, from + length)} of this memory, used in place (closing the view frees nothing). */
  DeviceBuffer slice(long from, long length) {
    if (from < 0 || length < 0 || from > this.length - length)
      throw new IllegalArgumentException("slice [" + from + ", +" + length + ") outside " + this.length + " elements");
    return new DeviceBuffer(type, length, new RawPointer(pointer().address() + from * type.bytes), false);
  }

  public long bytes() {
    return length * type.bytes;
  }

  /** The device pointer (never dereference it on the host); fails once closed. */
  @Override
  public Pointer pointer() {
    if (closed) throw new IllegalStateException("device buffer is closed");
    return pointer;
  }

  /** Fills from host floats, converting to this buffer's type on the device; complete on return. */
  @Override
  public void copyFrom(float[] host) {
    Objects.requireNonNull(host, "host");
    if (!type.isFloat()) throw new IllegalArgumentException("copyFrom(float[]) needs a float buffer, this one is " + type);
    requireLength(host.length);
    if (host.length == 0) return;
    try (FloatPointer h = new FloatPointer(host)) {
      if (type == ElementType.FP32) {
        Kernels.check(FitPruneNative.fp_cuda_memcpy(pointer(), h, 4L * host.length, FitPruneNative.FP_COPY_H2D));
        Kernels.check(FitPruneNative.fp_cuda_stream_synchronize(null)); // see copyFrom(int[])
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

  /** Fills from host bit patterns of this buffer's type (FP16 or BF16); complete on return. */
  @Override
  public void copyFrom(short[] host) {
    Objects.requireNonNull(host, "host");
    if (type.bytes != 2) throw new IllegalArgumentException("copyFrom(short[]) needs an fp16 or bf16 buffer, this one is " + type);
    requireLength(host.length);
    if (host.length == 0) return;
    try (org.bytedeco.javacpp.ShortPointer h = new org.bytedeco.javacpp.ShortPointer(host)) {
      Kernels.check(FitPruneNative.fp_cuda_memcpy(pointer(), h, 2L * host.length, FitPruneNative.FP_COPY_H2D));
      Kernels.check(FitPruneNative.fp_cuda_stream_synchronize(null)); // see copyFrom(int[])
    }
  }

  /** Fills an INT32 buffer from host ints; complete on return. */
  @Override
  public void copyFrom(int[] host) {
    Objects.requireNonNull(host, "host");
    if (type != ElementType.INT32) throw new IllegalArgumentException("copyFrom(int[]) needs an int32 buffer, this one is " + type);
    requireLength(host.length);
    if (host.length == 0) return;
    try (IntPointer h = new IntPointer(host)) {
      Kernels.check(FitPruneNative.fp_cuda_memcpy(pointer(), h, 4L * host.length, FitPruneNative.FP_COPY_H2D));
      // A pageable copy may return before its DMA lands: wait, so a non-blocking stream sees the data.
      Kernels.check(FitPruneNative.fp_cuda_stream_synchronize(null));
    }
  }

  /** The contents as floats (converted from FP16/BF16 on the device). */
  @Override
  public float[] toFloats() {
    if (!type.isFloat()) throw new IllegalArgumentException("toFloats() needs a float buffer, this one is " + type);
    float[] out = new float[Lengths.arrayLength("toFloats", length, Float.BYTES)];
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
  @Override
  public int[] toInts() {
    if (type != ElementType.INT32) throw new IllegalArgumentException("toInts() needs an int32 buffer, this one is " + type);
    int[] out = new int[Lengths.arrayLength("toInts", length, Integer.BYTES)];
    if (length == 0) return out;
    try (IntPointer h = new IntPointer(length)) {
      Kernels.check(FitPruneNative.fp_cuda_memcpy(h, pointer(), 4L * length, FitPruneNative.FP_COPY_D2H));
      h.get(out);
    }
    return out;
  }

  /** The bit patterns of an FP16 or BF16 buffer. */
  @Override
  public short[] toShorts() {
    if (type.bytes != 2) throw new IllegalArgumentException("toShorts() needs an fp16 or bf16 buffer, this one is " + type);
    short[] out = new short[Lengths.arrayLength("toShorts", length, Short.BYTES)];
    if (length == 0) return out;
    try (org.bytedeco.javacpp.ShortPointer h = new org.bytedeco.javacpp.ShortPointer(length)) {
      Kernels.check(FitPruneNative.fp_cuda_memcpy(h, pointer(), 2L * length, FitPruneNative.FP_COPY_D2H));
      h.get(out);
    }
    return out;
  }

  /**
   * Sets every byte to {@code value} (0xFF poisons floats with NaN), complete on return (so work
   * on any stream, including a non-blocking one, sees it).
   */
  public void fill(int value) {
    Kernels.check(FitPruneNative.fp_cuda_memset(pointer(), value, bytes()));
    Kernels.check(FitPruneNative.fp_cuda_stream_synchronize(null));
  }

  private void requireLength(long n) {
    if (n != length) throw new IllegalArgumentException("host array has " + n + " elements, device buffer " + length);
  }

  /** Frees owned memory; for wrapped memory only marks this object closed. */
  @Override
  public void close() {
    if (closed) return;
    closed = true;
    if (cleanable != null) cleanable.clean();
  }

  @Override
  public String toString() {
    return "DeviceBuffer[" + type + " x " + length + (cleanable == null ? ", wrapped" : "") + (closed ? ", closed]" : "]");
  }
}
