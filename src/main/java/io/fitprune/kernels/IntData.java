package io.fitprune.kernels;

import java.nio.IntBuffer;
import org.bytedeco.javacpp.IntPointer;

/** int32 memory for the kernels (indices, position ids): see {@link NativeData}. */
public final class IntData extends NativeData<IntPointer> {
  private final int[] array;

  private IntData(IntPointer p, int[] array, long length, long[] shape, Object keepAlive, boolean owned,
      boolean readOnly) {
    super(p, length, shape, keepAlive, owned, readOnly);
    this.array = array;
  }

  public static IntData of(int[] array) {
    if (array == null) throw new NullPointerException("array is null");
    return new IntData(null, array, array.length, null, null, false, false);
  }

  public static IntData of(IntBuffer buffer) {
    if (buffer == null) throw new NullPointerException("buffer is null");
    if (!buffer.isDirect())
      throw new IllegalArgumentException("buffer must be direct (use IntData.of(int[]) for heap memory)");
    return new IntData(new IntPointer(buffer), null, buffer.remaining(), null, buffer, false,
        buffer.isReadOnly());
  }

  public static IntData of(IntPointer pointer) {
    return new IntData(pointer, null, pointerLength(pointer), null, pointer, false, false);
  }

  public static IntData of(IntPointer pointer, long length) {
    return new IntData(pointer, null, checkedLength(pointer, length), null, pointer, false, false);
  }


  /** A view of memory owned by {@code keepAlive} whose exact shape is known (tensors: {@link TorchData}). */
  static IntData view(IntPointer pointer, long length, long[] shape, Object keepAlive) {
    return new IntData(pointer, null, length, shape, keepAlive, false, false);
  }

  public static IntData allocate(long length) {
    var a = allocateZeroed(length, Integer.BYTES, "int32", IntPointer::new);
    return new IntData(a.pointer(), null, length, null, a.freer(), true, false);
  }

  public int[] toArray() {
    if (array != null) return array.clone();
    int[] out = new int[Lengths.arrayLength("toArray", length(), Integer.BYTES)];
    pointer().get(out);
    return out;
  }

  @Override
  String elementName() {
    return "int32";
  }

  @Override
  IntPointer copyIn(boolean withContents) {
    IntPointer p = new IntPointer(Math.max(1, array.length));
    if (withContents) p.put(array);
    return p;
  }

  @Override
  void copyOut(IntPointer temp) {
    temp.get(array);
  }
}
