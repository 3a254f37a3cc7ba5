package io.fitprune.kernels;

import java.nio.FloatBuffer;
import org.bytedeco.javacpp.FloatPointer;

/** float32 memory for the kernels: see {@link NativeData}. */
public final class FloatData extends NativeData<FloatPointer> {
  private final float[] array;

  private FloatData(FloatPointer p, float[] array, long length, long[] shape, Object keepAlive, boolean owned) {
    super(p, length, shape, keepAlive, owned);
    this.array = array;
  }

  /** Copied to native memory for each call (and back for outputs). */
  public static FloatData of(float[] array) {
    if (array == null) throw new NullPointerException("array is null");
    return new FloatData(null, array, array.length, null, null, false);
  }

  /** A direct buffer, zero-copy, from its position to its limit. */
  public static FloatData of(FloatBuffer buffer) {
    if (buffer == null) throw new NullPointerException("buffer is null");
    if (!buffer.isDirect())
      throw new IllegalArgumentException("buffer must be direct (use FloatData.of(float[]) for heap memory)");
    return new FloatData(new FloatPointer(buffer), null, buffer.remaining(), null, buffer, false);
  }

  /** A pointer, zero-copy, from its position to its limit (or capacity). */
  public static FloatData of(FloatPointer pointer) {
    return new FloatData(pointer, null, pointerLength(pointer), null, pointer, false);
  }

  /** A pointer to {@code length} floats, zero-copy. */
  public static FloatData of(FloatPointer pointer, long length) {
    if (pointer == null) throw new NullPointerException("pointer is null");
    if (length < 0) throw new IllegalArgumentException("length must be >= 0, got " + length);
    return new FloatData(pointer, null, length, null, pointer, false);
  }


  /** A view of memory owned by {@code keepAlive} whose exact shape is known (tensors: {@link TorchData}). */
  static FloatData view(FloatPointer pointer, long length, long[] shape, Object keepAlive) {
    return new FloatData(pointer, null, length, shape, keepAlive, false);
  }

  /** Native memory owned by the returned object: close it (try-with-resources). */
  public static FloatData allocate(long length) {
    if (length < 0) throw new IllegalArgumentException("length must be >= 0, got " + length);
    FloatPointer p = new FloatPointer(Math.max(1, length));
    return new FloatData(p, null, length, null, null, true);
  }

  /** A copy of the contents. */
  public float[] toArray() {
    if (array != null) return array.clone();
    float[] out = new float[Math.toIntExact(length())];
    pointer().get(out);
    return out;
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
