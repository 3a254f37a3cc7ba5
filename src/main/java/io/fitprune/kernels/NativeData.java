package io.fitprune.kernels;

import java.lang.ref.Reference;
import java.util.Arrays;
import org.bytedeco.javacpp.Pointer;

/**
 * Memory the kernels read or write, whatever the caller holds it in. Pointers, direct buffers and
 * tensors ({@link TorchData}) are passed zero-copy; Java arrays are copied into native memory for the call and, for
 * outputs, back. Memory allocated by {@code allocate} is owned and freed by {@link #close()}.
 *
 * @param <P> the JavaCPP pointer type handed to the native call
 */
public abstract sealed class NativeData<P extends Pointer> implements AutoCloseable
    permits FloatData, Bf16Data, IntData {
  private final P pointer;      // null for Java arrays
  private final long length;
  private final long[] shape;   // known for tensors, null otherwise
  private final Object keepAlive; // the tensor or buffer the pointer points into
  private final boolean owned;

  NativeData(P pointer, long length, long[] shape, Object keepAlive, boolean owned) {
    this.pointer = pointer;
    this.length = length;
    this.shape = shape;
    this.keepAlive = keepAlive;
    this.owned = owned;
  }

  /** Number of elements. */
  public long length() {
    return length;
  }

  /** The zero-copy pointer; null when this wraps a Java array. */
  public P pointer() {
    return pointer;
  }

  /** Element-type name for messages ("float32", "bfloat16", "int32"). */
  abstract String elementName();

  /** For arrays: a temporary native copy of the contents (or uninitialised for outputs). */
  abstract P copyIn(boolean withContents);

  /** For arrays: copies a temporary native copy back into the array. */
  abstract void copyOut(P temp);

  /**
   * Checks this holds exactly the elements of {@code shape}: the length for flat memory, and
   * every dimension for tensors. {@code dims} names the dimensions for the message, e.g. "[n,H,d]".
   */
  final void requireShape(String arg, String dims, long... expected) {
    long count = 1;
    for (long e : expected) count = Math.multiplyExact(count, e);
    if (shape != null) {
      if (!Arrays.equals(shape, expected))
        throw new IllegalArgumentException(arg + ": expected a tensor of shape " + dims + " = "
            + Arrays.toString(expected) + ", got " + Arrays.toString(shape));
    } else if (length != count) {
      throw new IllegalArgumentException(arg + ": expected " + count + " " + elementName()
          + " values for shape " + dims + " = " + Arrays.toString(expected) + ", got " + length);
    }
  }

  /** Checks this holds at least {@code count} elements (outputs whose size depends on a count). */
  final void requireAtLeast(String arg, long count, String what) {
    if (length < count)
      throw new IllegalArgumentException(arg + ": expected at least " + count + " " + elementName()
          + " values (" + what + "), got " + length);
  }

  /** Opens the memory for one native call; closing it copies array outputs back. */
  final Access<P> open(boolean input, boolean output) {
    NativeLibrary.ensureAvailability(); // every kernel call passes here first
    if (pointer != null) return new Access<>(pointer, null, this);
    P temp = copyIn(input);
    return new Access<>(temp, output ? this : null, this);
  }

  /** The pointer of one native call, valid until closed. */
  static final class Access<P extends Pointer> implements AutoCloseable {
    final P ptr;
    private final NativeData<P> copyBackTo;
    private final NativeData<P> source;

    Access(P ptr, NativeData<P> copyBackTo, NativeData<P> source) {
      this.ptr = ptr;
      this.copyBackTo = copyBackTo;
      this.source = source;
    }

    @Override
    public void close() {
      if (source.pointer != null) {
        Reference.reachabilityFence(source.keepAlive); // the tensor or buffer outlives the call
        return;
      }
      try {
        if (copyBackTo != null) copyBackTo.copyOut(ptr);
      } finally {
        ptr.deallocate();
      }
    }
  }

  @Override
  public void close() {
    if (owned && pointer != null && !pointer.isNull()) pointer.deallocate();
  }

  static long pointerLength(Pointer p) {
    if (p == null) throw new NullPointerException("pointer is null");
    if (p.isNull()) throw new IllegalArgumentException("pointer is NULL");
    long n = p.limit() > 0 ? p.limit() - p.position() : p.capacity() - p.position();
    if (n <= 0)
      throw new IllegalArgumentException("pointer has no known size (capacity and limit are 0): pass the length explicitly");
    return n;
  }
}
