package io.fitprune.kernels;

import java.nio.ShortBuffer;
import org.bytedeco.javacpp.ShortPointer;

/**
 * bfloat16 memory for the kernels, each value a {@code short} holding the bf16 bit pattern (the top
 * half of the float32): see {@link NativeData}. {@link #round(float[])} and {@link #toFloats()}
 * convert.
 */
public final class Bf16Data extends NativeData<ShortPointer> {
  private final short[] array;

  private Bf16Data(ShortPointer p, short[] array, long length, long[] shape, Object keepAlive, boolean owned,
      boolean readOnly) {
    super(p, length, shape, keepAlive, owned, readOnly);
    this.array = array;
  }

  /** bf16 bit patterns in a Java array: copied to native memory for each call (and back for outputs). */
  public static Bf16Data of(short[] array) {
    if (array == null) throw new NullPointerException("array is null");
    return new Bf16Data(null, array, array.length, null, null, false, false);
  }

  /** A direct buffer (native byte order, e.g. a memory-mapped BF16 tensor), zero-copy, position to limit. */
  public static Bf16Data of(ShortBuffer buffer) {
    if (buffer == null) throw new NullPointerException("buffer is null");
    if (!buffer.isDirect())
      throw new IllegalArgumentException("buffer must be direct (use Bf16Data.of(short[]) for heap memory)");
    return new Bf16Data(new ShortPointer(buffer), null, buffer.remaining(), null, buffer, false, buffer.isReadOnly());
  }

  /** A pointer, zero-copy, from its position to its limit (or capacity). */
  public static Bf16Data of(ShortPointer pointer) {
    return new Bf16Data(pointer, null, pointerLength(pointer), null, pointer, false, false);
  }

  /** A pointer to {@code length} bf16 values, zero-copy. */
  public static Bf16Data of(ShortPointer pointer, long length) {
    return new Bf16Data(pointer, null, checkedLength(pointer, length), null, pointer, false, false);
  }

  /** A view of memory owned by {@code keepAlive} whose exact shape is known (tensors: {@link TorchData}). */
  static Bf16Data view(ShortPointer pointer, long length, long[] shape, Object keepAlive) {
    return new Bf16Data(pointer, null, length, shape, keepAlive, false, false);
  }

  /** Native memory owned by the returned object: close it (try-with-resources). */
  public static Bf16Data allocate(long length) {
    var a = allocateZeroed(length, Short.BYTES, "bfloat16", ShortPointer::new);
    return new Bf16Data(a.pointer(), null, length, null, a.freer(), true, false);
  }

  /** float32 values rounded to bf16 (nearest, ties to even; NaN stays NaN), in a Java array. */
  public static Bf16Data round(float[] values) {
    if (values == null) throw new NullPointerException("values is null");
    short[] out = new short[values.length];
    for (int i = 0; i < out.length; i++) out[i] = fromFloat(values[i]);
    return of(out);
  }

  /** The bf16 nearest to {@code f} (ties to even), as its bit pattern. */
  public static short fromFloat(float f) {
    int b = Float.floatToRawIntBits(f);
    if ((b & 0x7fffffff) > 0x7f800000) return (short) ((b >>> 16) | 0x40); // NaN stays a (quiet) NaN
    return (short) ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
  }

  /** The float32 value of a bf16 bit pattern (exact). */
  public static float toFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /** A copy of the contents as bit patterns. */
  public short[] toArray() {
    if (array != null) return array.clone();
    short[] out = new short[Lengths.arrayLength("toArray", length(), Short.BYTES)];
    pointer().get(out);
    return out;
  }

  /** The contents as float32 (exact). */
  public float[] toFloats() {
    short[] bits = toArray();
    float[] out = new float[bits.length];
    for (int i = 0; i < out.length; i++) out[i] = toFloat(bits[i]);
    return out;
  }

  @Override
  String elementName() {
    return "bfloat16";
  }

  @Override
  ShortPointer copyIn(boolean withContents) {
    ShortPointer p = new ShortPointer(Math.max(1, array.length));
    if (withContents) p.put(array);
    return p;
  }

  @Override
  void copyOut(ShortPointer temp) {
    temp.get(array);
  }
}
