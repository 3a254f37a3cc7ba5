package io.fitprune.kernels;

import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;

/** float32 memory for the kernels: see {@link NativeData}. */
public final class FloatData extends NativeData<FloatPointer> {
  private final float[] array;

  private FloatData(FloatPointer p, float[] array, long length, long[] shape, Object keepAlive, boolean owned,
      boolean readOnly) {
    super(p, length, shape, keepAlive, owned, readOnly);
    this.array = array;
  }

  /** Copied to native memory for each call (and back for outputs). */
  public static FloatData of(float[] array) {
    if (array == null) throw new NullPointerException("array is null");
    return new FloatData(null, array, array.length, null, null, false, false);
  }

  /** A direct buffer, zero-copy, from its position to its limit. */
  public static FloatData of(FloatBuffer buffer) {
    if (buffer == null) throw new NullPointerException("buffer is null");
    if (!buffer.isDirect())
      throw new IllegalArgumentException("buffer must be direct (use FloatData.of(float[]) for heap memory)");
    return new FloatData(new FloatPointer(buffer), null, buffer.remaining(), null, buffer, false,
        buffer.isReadOnly());
  }

  /** A pointer, zero-copy, from its position to its limit (or capacity). */
  public static FloatData of(FloatPointer pointer) {
    return new FloatData(pointer, null, pointerLength(pointer), null, pointer, false, false);
  }

  /** A pointer to {@code length} floats, zero-copy. */
  public static FloatData of(FloatPointer pointer, long length) {
    return new FloatData(pointer, null, checkedLength(pointer, length), null, pointer, false, false);
  }


  /** A view of memory owned by {@code keepAlive} whose exact shape is known (tensors: {@link TorchData}). */
  static FloatData view(FloatPointer pointer, long length, long[] shape, Object keepAlive) {
    return new FloatData(pointer, null, length, shape, keepAlive, false, false);
  }

  /** Native memory owned by the returned object: close it (try-with-resources). */
  public static FloatData allocate(long length) {
    var a = allocateZeroed(length, Float.BYTES, "float32", FloatPointer::new);
    return new FloatData(a.pointer(), null, length, null, a.freer(), true, false);
  }

  /** A copy of the contents. */
  public float[] toArray() {
    if (array != null) return array.clone();
    float[] out = new float[Lengths.arrayLength("toArray", length(), Float.BYTES)];
    pointer().get(out);
    return out;
  }

  /** Element {@code i} of an array-backed instance (messages). */
  float get(long i) {
    return array[(int) i];
  }

  @Override
  String elementName() {
    return "float32";
  }

  @Override
  FloatPointer copyIn(boolean withContents) {
    FloatPointer p = new FloatPointer(Math.max(1, array.length));
    if (withContents) p.put(array);
    return p;
  }

  @Override
  void copyOut(FloatPointer temp) {
    temp.get(array);
  }
}
