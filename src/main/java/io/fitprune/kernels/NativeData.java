package io.fitprune.kernels;

import java.lang.ref.Cleaner;
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
  private final Object keepAlive; // the tensor or buffer the pointer points into; owned: the cleanable
  private final boolean owned;
  private final boolean readOnly; // a read-only buffer: never an output

  NativeData(P pointer, long length, long[] shape, Object keepAlive, boolean owned, boolean readOnly) {
    this.pointer = pointer;
    this.length = length;
    this.shape = shape;
    this.keepAlive = keepAlive;
    this.owned = owned;
    this.readOnly = readOnly;
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
    long count = Lengths.product(arg + " " + dims, expected);
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

  /** Checks this memory can be written (outputs): read-only buffers, mapped or not, cannot. */
  final void requireWritable(String arg) {
    if (readOnly) throw new IllegalArgumentException(arg + ": a read-only buffer cannot be an output");
  }

  /** Opens the memory for one native call; closing it copies array outputs back. */
  final Access<P> open(boolean input, boolean output) {
    NativeLibrary.ensureAvailability(); // every kernel call passes here first
    if (output) requireWritable("output");
    if (pointer != null && pointer.isNull() && length > 0)
      throw new IllegalStateException("the memory was closed (its pointer is NULL)");
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

    /**
     * The pointer for a {@code void*} parameter of the binding: JavaCPP offsets those by the
     * position in bytes, not elements, so a positioned pointer would reach the wrong memory.
     */
    /** The native address of the first element (the pointer's own address plus its position). */
    long address() {
      return ptr.address() + ptr.position() * ptr.sizeof();
    }

    Pointer untyped() {
      return ptr.position() == 0 ? ptr : new Pointer(ptr).position(ptr.position() * ptr.sizeof());
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
  public synchronized void close() {
    if (owned && pointer != null && !pointer.isNull()) {
      ((Cleaner.Cleanable) keepAlive).clean(); // frees the allocation once
      pointer.setNull();
    }
  }

  private static final Cleaner CLEANER = Cleaner.create();

  /**
   * Zeroed native memory for {@code length} elements of {@code bytes} bytes, through calloc, which
   * checks the size product and returns NULL instead of throwing from native code. {@code view}
   * makes the typed pointer over it; the memory is freed by the allocation's {@code freer} (close),
   * or when the view becomes unreachable.
   */
  static <P extends Pointer> Allocation<P> allocateZeroed(long length, int bytes, String what,
      java.util.function.Function<Pointer, P> view) {
    if (length < 0) throw new IllegalArgumentException("length must be >= 0, got " + length);
    if (length > Long.MAX_VALUE / bytes)
      throw new IllegalArgumentException("length " + length + " of " + what + " exceeds the 64-bit byte range");
    Pointer raw = Pointer.calloc(Math.max(1, length), bytes);
    if (raw == null || raw.isNull())
      throw new FitPruneException(FitPruneNative.FP_ERR_NOMEM, "cannot allocate " + length + " " + what + " values ("
          + length * bytes + " bytes)");
    P p = view.apply(raw);
    p.capacity(Math.max(1, length)).limit(Math.max(1, length));
    return new Allocation<>(p, CLEANER.register(p, () -> Pointer.free(raw)));
  }

  /** Owned native memory: the typed pointer and what frees it. */
  record Allocation<P extends Pointer>(P pointer, Cleaner.Cleanable freer) {}

  static long pointerLength(Pointer p) {
    long n = knownLength(p);
    if (n < 0)
      throw new IllegalArgumentException("pointer has no known size (capacity and limit are 0): pass the length explicitly");
    return n;
  }

  /**
   * A pointer for {@code length} elements from its position: refused past its limit (or capacity)
   * where JavaCPP knows one; a pointer that knows neither is trusted.
   */
  static long checkedLength(Pointer p, long length) {
    if (length < 0) throw new IllegalArgumentException("length must be >= 0, got " + length);
    long known = knownLength(p);
    if (known >= 0 && length > known)
      throw new IllegalArgumentException("length " + length + " exceeds the pointer's " + known
          + " elements from its position " + p.position() + " to its " + (p.limit() > 0 ? "limit " + p.limit() : "capacity " + p.capacity()));
    return length;
  }

  /** Elements from the position to the limit (or capacity); -1 when the pointer knows neither. */
  private static long knownLength(Pointer p) {
    if (p == null) throw new NullPointerException("pointer is null");
    if (p.isNull()) throw new IllegalArgumentException("pointer is NULL");
    long end = p.limit() > 0 ? p.limit() : p.capacity();
    if (end <= 0) return -1;
    return Math.max(0, end - p.position());
  }
}
