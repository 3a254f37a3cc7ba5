package io.fitprune.kernels;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;

/**
 * The host flavour of {@link Data}: a Java array (copied per call), or native memory through a
 * pointer of the element type's width ({@code FloatPointer}, {@code IntPointer},
 * {@code ShortPointer}) that a buffer, tensor or allocation keeps alive.
 */
final class HostData extends Data {
  private final ElementType type;
  private final Pointer pointer;  // null for Java arrays
  private final Object array;     // float[], int[] or short[]; null for native memory
  private final long length;
  private final long[] shape;     // known for tensors, null otherwise
  private final Object keepAlive; // the tensor or buffer the pointer points into; owned: the cleanable
  private final boolean owned;
  private final boolean readOnly;

  private HostData(ElementType type, Pointer pointer, Object array, long length, long[] shape, Object keepAlive,
      boolean owned, boolean readOnly) {
    this.type = type;
    this.pointer = pointer;
    this.array = array;
    this.length = length;
    this.shape = shape;
    this.keepAlive = keepAlive;
    this.owned = owned;
    this.readOnly = readOnly;
  }

  static HostData ofArray(ElementType type, Object array, long length) {
    return new HostData(type, null, array, length, null, null, false, false);
  }

  static HostData ofBuffer(ElementType type, Pointer pointer, long length, Object buffer, boolean readOnly) {
    return new HostData(type, pointer, null, length, null, buffer, false, readOnly);
  }

  static HostData ofPointer(ElementType type, Pointer pointer, long length) {
    return new HostData(type, pointer, null, length, null, pointer, false, false);
  }

  /** A view of memory owned by {@code keepAlive} whose exact shape is known (tensors: {@link TorchData}). */
  static HostData view(ElementType type, Pointer pointer, long length, long[] shape, Object keepAlive) {
    return new HostData(type, pointer, null, length, shape, keepAlive, false, false);
  }

  static HostData allocateZeroed(ElementType type, long length) {
    if (length < 0) throw new IllegalArgumentException("length must be >= 0, got " + length);
    if (length > Long.MAX_VALUE / type.bytes)
      throw new IllegalArgumentException("length " + length + " of " + type.longName() + " exceeds the 64-bit byte range");
    Pointer raw = Pointer.calloc(Math.max(1, length), type.bytes); // checks the product, NULL instead of a throw
    if (raw == null || raw.isNull())
      throw new FitPruneException(FitPruneNative.FP_ERR_NOMEM, "cannot allocate " + length + " " + type.longName()
          + " values (" + length * type.bytes + " bytes)");
    Pointer p = typed(type, raw);
    p.capacity(Math.max(1, length)).limit(Math.max(1, length));
    Cleaner.Cleanable freer = CLEANER.register(p, () -> Pointer.free(raw));
    return new HostData(type, p, null, length, null, freer, true, false);
  }

  private static final Cleaner CLEANER = Cleaner.create();

  /** A pointer of the element type's width over the same address. */
  private static Pointer typed(ElementType type, Pointer raw) {
    return switch (type) {
      case FP32 -> new FloatPointer(raw);
      case INT32 -> new IntPointer(raw);
      case BF16, FP16 -> new ShortPointer(raw);
    };
  }

  @Override
  public ElementType type() {
    return type;
  }

  @Override
  public long length() {
    return length;
  }

  @Override
  public boolean onDevice() {
    return false;
  }

  @Override
  public Pointer pointer() {
    return pointer;
  }

  @Override
  long[] shape() {
    return shape;
  }

  @Override
  boolean writable() {
    return !readOnly;
  }

  @Override
  public Data view(long length) {
    if (length < 0 || (pointer == null && length > this.length))
      throw new IllegalArgumentException("length must be in [0, " + this.length + "], got " + length);
    if (pointer == null) return length == this.length ? this : new HostData(type, null, array, length, null, null, false, false);
    return new HostData(type, pointer, null, checkedLength(pointer, length), null, keepAlive, false, readOnly);
  }

  @Override
  public float[] toFloats() {
    float[] out = new float[Lengths.arrayLength("toFloats", length, Float.BYTES)];
    switch (type) {
      case FP32 -> {
        if (array != null) return java.util.Arrays.copyOf((float[]) array, (int) length);
        ((FloatPointer) pointer).get(out);
      }
      case BF16, FP16 -> {
        short[] bits = toShorts();
        for (int i = 0; i < out.length; i++)
          out[i] = type == ElementType.BF16 ? Bf16.toFloat(bits[i]) : io.fitprune.io.HalfFloats.f16ToFloat(bits[i]);
      }
      case INT32 -> throw new IllegalArgumentException("toFloats(): this handle holds int32, use toInts()");
    }
    Reference.reachabilityFence(keepAlive);
    return out;
  }

  @Override
  public int[] toInts() {
    if (type != ElementType.INT32) throw new IllegalArgumentException("toInts(): this handle holds " + elementName());
    if (array != null) return java.util.Arrays.copyOf((int[]) array, (int) length);
    int[] out = new int[Lengths.arrayLength("toInts", length, Integer.BYTES)];
    ((IntPointer) pointer).get(out);
    Reference.reachabilityFence(keepAlive);
    return out;
  }

  @Override
  public short[] toShorts() {
    if (type.bytes != 2) throw new IllegalArgumentException("toShorts(): this handle holds " + elementName());
    if (array != null) return java.util.Arrays.copyOf((short[]) array, (int) length);
    short[] out = new short[Lengths.arrayLength("toShorts", length, Short.BYTES)];
    ((ShortPointer) pointer).get(out);
    Reference.reachabilityFence(keepAlive);
    return out;
  }

  @Override
  public void copyFrom(float[] values) {
    fill(ElementType.FP32, values, values.length);
  }

  @Override
  public void copyFrom(int[] values) {
    fill(ElementType.INT32, values, values.length);
  }

  @Override
  public void copyFrom(short[] bits) {
    if (type.bytes != 2) throw new IllegalArgumentException("copyFrom(short[]) needs bf16 or fp16 data, this is " + elementName());
    fill(type, bits, bits.length);
  }

  private void fill(ElementType expected, Object values, int n) {
    java.util.Objects.requireNonNull(values, "values");
    if (type != expected) throw new IllegalArgumentException("copyFrom: this handle holds " + elementName() + ", not " + expected.longName());
    if (n != length) throw new IllegalArgumentException("copyFrom: " + n + " values for a handle of " + length);
    requireWritable("copyFrom");
    if (array != null) System.arraycopy(values, 0, array, 0, n);
    else if (values instanceof float[] a) ((FloatPointer) pointer).put(a);
    else if (values instanceof int[] a) ((IntPointer) pointer).put(a);
    else ((ShortPointer) pointer).put((short[]) values);
    Reference.reachabilityFence(keepAlive);
  }

  /** Element {@code i} as a float (messages). */
  float floatAt(long i) {
    if (array != null) return ((float[]) array)[(int) i];
    return ((FloatPointer) pointer).get(i);
  }

  /** Opens host memory that the caller checked is a {@link HostData} for one native call. */
  static Access access(Data d, boolean input, boolean output) {
    return ((HostData) d).open(input, output);
  }

  /** Opens the memory for one native call; closing it copies array outputs back. */
  Access open(boolean input, boolean output) {
    NativeLibrary.ensureAvailability(); // every kernel call passes here first
    if (output) requireWritable("output");
    if (pointer != null && pointer.isNull() && length > 0)
      throw new IllegalStateException("the memory was closed (its pointer is NULL)");
    if (pointer != null) return new Access(pointer, null, this);
    return new Access(copyIn(input), output ? this : null, this);
  }

  private Pointer copyIn(boolean withContents) {
    int n = Math.max(1, (int) length);
    int len = (int) length; // the array's first length elements (a view may be shorter than its array)
    if (array instanceof float[] a) {
      FloatPointer p = new FloatPointer(n);
      if (withContents) p.put(a, 0, len);
      return p;
    }
    if (array instanceof int[] a) {
      IntPointer p = new IntPointer(n);
      if (withContents) p.put(a, 0, len);
      return p;
    }
    ShortPointer p = new ShortPointer(n);
    if (withContents) p.put((short[]) array, 0, len);
    return p;
  }

  private void copyOut(Pointer temp) {
    int len = (int) length;
    if (array instanceof float[] a) ((FloatPointer) temp).get(a, 0, len);
    else if (array instanceof int[] a) ((IntPointer) temp).get(a, 0, len);
    else ((ShortPointer) temp).get((short[]) array, 0, len);
  }

  /** The pointer of one native call, valid until closed. */
  static final class Access implements AutoCloseable {
    final Pointer ptr;
    private final HostData copyBackTo;
    private final HostData source;

    Access(Pointer ptr, HostData copyBackTo, HostData source) {
      this.ptr = ptr;
      this.copyBackTo = copyBackTo;
      this.source = source;
    }

    FloatPointer floats() {
      return (FloatPointer) ptr;
    }

    IntPointer ints() {
      return (IntPointer) ptr;
    }

    /** The native address of the first element (the pointer's own address plus its position). */
    long address() {
      return ptr.address() + ptr.position() * ptr.sizeof();
    }

    /**
     * The pointer for a {@code void*} parameter of the binding: JavaCPP offsets those by the
     * position in bytes, not elements, so a positioned pointer would reach the wrong memory.
     */
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

  @Override
  public String toString() {
    return "Data[" + type + " x " + length + (array != null ? ", array" : "") + "]";
  }
}
