package io.fitprune.kernels;

import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.Objects;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;

/**
 * The one handle the kernels take: {@link #length()} elements of an {@link ElementType}, in host
 * memory (Java arrays, direct buffers, JavaCPP pointers, tensors through {@link TorchData}) or on
 * the GPU ({@link DeviceBuffer}). {@link Kernels} runs each call where its arguments live. Host
 * pointers, buffers and tensors are used zero-copy; Java arrays are copied into native memory for
 * the call and, for outputs, back. Memory this library allocates is owned and freed by
 * {@link #close()} (closing a view of someone else's memory frees nothing).
 *
 * <p>bfloat16 and float16 values are {@code short} bit patterns; {@link Bf16} converts.
 */
public abstract sealed class Data implements AutoCloseable permits HostData, DeviceBuffer {
  Data() {}

  public abstract ElementType type();

  /** Number of elements. */
  public abstract long length();

  /** True for GPU memory ({@link DeviceBuffer}), false for host memory. */
  public abstract boolean onDevice();

  /**
   * The native pointer: a host pointer (null for a Java array, which is copied per call), or a
   * device pointer, never to be dereferenced on the host.
   */
  public abstract Pointer pointer();

  /** A copy of the contents as float32 (float16 and bfloat16 converted exactly). */
  public abstract float[] toFloats();

  /** A copy of an int32 handle's contents. */
  public abstract int[] toInts();

  /** A copy of a 2-byte handle's (bfloat16, float16) contents as bit patterns. */
  public abstract short[] toShorts();

  /** Fills a float32 (host or device: also fp16 and bf16, rounded on the device) handle from {@code values}, complete on return. */
  public abstract void copyFrom(float[] values);

  /** Fills an int32 handle from {@code values}, complete on return. */
  public abstract void copyFrom(int[] values);

  /** Fills a bfloat16 or float16 handle from bit patterns, complete on return. */
  public abstract void copyFrom(short[] bits);

  /** Frees memory this handle owns; for a view, nothing. */
  @Override
  public abstract void close();

  /** The exact shape where known (tensors), else null. */
  long[] shape() {
    return null;
  }

  /** False for read-only memory (read-only buffers), which is never an output. */
  boolean writable() {
    return true;
  }

  // ---- host memory ----

  /** float32 in a Java array: copied to native memory for each call (and back for outputs). */
  public static Data of(float[] array) {
    return HostData.ofArray(ElementType.FP32, Objects.requireNonNull(array, "array is null"), array.length);
  }

  /** int32 in a Java array (indices, position ids). */
  public static Data of(int[] array) {
    return HostData.ofArray(ElementType.INT32, Objects.requireNonNull(array, "array is null"), array.length);
  }

  /** bfloat16 or float16 bit patterns in a Java array. */
  public static Data of(short[] array, ElementType type) {
    requireHalf(type);
    return HostData.ofArray(type, Objects.requireNonNull(array, "array is null"), array.length);
  }

  /** bfloat16 bit patterns in a Java array. */
  public static Data bf16(short[] array) {
    return of(array, ElementType.BF16);
  }

  /** float32 values rounded to bfloat16 (nearest, ties to even; NaN stays NaN), in a new Java array. */
  public static Data roundBf16(float[] values) {
    Objects.requireNonNull(values, "values is null");
    short[] out = new short[values.length];
    for (int i = 0; i < out.length; i++) out[i] = Bf16.fromFloat(values[i]);
    return bf16(out);
  }

  /** A direct buffer, zero-copy, from its position to its limit. */
  public static Data of(FloatBuffer buffer) {
    requireDirect(buffer, "float[]");
    return HostData.ofBuffer(ElementType.FP32, new FloatPointer(buffer), buffer.remaining(), buffer, buffer.isReadOnly());
  }

  public static Data of(IntBuffer buffer) {
    requireDirect(buffer, "int[]");
    return HostData.ofBuffer(ElementType.INT32, new IntPointer(buffer), buffer.remaining(), buffer, buffer.isReadOnly());
  }

  /** A direct buffer (native byte order, e.g. a memory-mapped tensor) of bfloat16 or float16 bit patterns. */
  public static Data of(ShortBuffer buffer, ElementType type) {
    requireHalf(type);
    requireDirect(buffer, "short[]");
    return HostData.ofBuffer(type, new ShortPointer(buffer), buffer.remaining(), buffer, buffer.isReadOnly());
  }

  public static Data bf16(ShortBuffer buffer) {
    return of(buffer, ElementType.BF16);
  }

  /** A pointer, zero-copy, from its position to its limit (or capacity). */
  public static Data of(FloatPointer pointer) {
    return HostData.ofPointer(ElementType.FP32, pointer, HostData.pointerLength(pointer));
  }

  /** A pointer to {@code length} floats, zero-copy; refused past a limit or capacity the pointer knows. */
  public static Data of(FloatPointer pointer, long length) {
    return HostData.ofPointer(ElementType.FP32, pointer, HostData.checkedLength(pointer, length));
  }

  public static Data of(IntPointer pointer) {
    return HostData.ofPointer(ElementType.INT32, pointer, HostData.pointerLength(pointer));
  }

  public static Data of(IntPointer pointer, long length) {
    return HostData.ofPointer(ElementType.INT32, pointer, HostData.checkedLength(pointer, length));
  }

  /** bfloat16 or float16 bit patterns at a pointer, from its position to its limit (or capacity). */
  public static Data of(ShortPointer pointer, ElementType type) {
    requireHalf(type);
    return HostData.ofPointer(type, pointer, HostData.pointerLength(pointer));
  }

  public static Data of(ShortPointer pointer, long length, ElementType type) {
    requireHalf(type);
    return HostData.ofPointer(type, pointer, HostData.checkedLength(pointer, length));
  }

  public static Data bf16(ShortPointer pointer) {
    return of(pointer, ElementType.BF16);
  }

  public static Data bf16(ShortPointer pointer, long length) {
    return of(pointer, length, ElementType.BF16);
  }

  /** Zeroed host memory owned by the returned handle: close it (try-with-resources). */
  public static Data allocate(ElementType type, long length) {
    return HostData.allocateZeroed(Objects.requireNonNull(type, "type"), length);
  }

  /**
   * The first {@code length} elements of the same memory (a Java array's view still copies only
   * those for a call); closing a view frees nothing.
   */
  public abstract Data view(long length);

  // ---- the checks every kernel entry point makes ----

  /** Element-type name for messages ("float32", "bfloat16", "int32", "float16"). */
  final String elementName() {
    return type().longName();
  }

  /**
   * Checks this holds exactly the elements of {@code shape}: the length for flat memory, and
   * every dimension for tensors. {@code dims} names the dimensions for the message, e.g. "[n,H,d]".
   */
  final void requireShape(String arg, String dims, long... expected) {
    long count = Lengths.product(arg + " " + dims, expected);
    long[] shape = shape();
    if (shape != null) {
      if (!Arrays.equals(shape, expected))
        throw new IllegalArgumentException(arg + ": expected a tensor of shape " + dims + " = "
            + Arrays.toString(expected) + ", got " + Arrays.toString(shape));
    } else if (length() != count) {
      throw new IllegalArgumentException(arg + ": expected " + count + " " + elementName()
          + " values for shape " + dims + " = " + Arrays.toString(expected) + ", got " + length());
    }
  }

  /** Checks this holds at least {@code count} elements (outputs whose size depends on a count). */
  final void requireAtLeast(String arg, long count, String what) {
    if (length() < count)
      throw new IllegalArgumentException(arg + ": expected at least " + count + " " + elementName()
          + " values (" + what + "), got " + length());
  }

  /** Checks this memory can be written (outputs): read-only buffers, mapped or not, cannot. */
  final void requireWritable(String arg) {
    if (!writable()) throw new IllegalArgumentException(arg + ": a read-only buffer cannot be an output");
  }

  /** Checks the element type. */
  final Data requireType(String arg, ElementType expected) {
    if (type() != expected)
      throw new IllegalArgumentException(arg + ": expected " + expected.longName() + ", got " + elementName());
    return this;
  }

  private static void requireHalf(ElementType type) {
    Objects.requireNonNull(type, "type");
    if (type.bytes != 2) throw new IllegalArgumentException("type: expected bf16 or fp16 for short data, got " + type);
  }

  private static void requireDirect(java.nio.Buffer buffer, String array) {
    if (buffer == null) throw new NullPointerException("buffer is null");
    if (!buffer.isDirect())
      throw new IllegalArgumentException("buffer must be direct (use Data.of(" + array + ") for heap memory)");
  }
}
