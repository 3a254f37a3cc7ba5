package io.fitprune.kernels;

import java.lang.ref.Reference;
import java.util.Objects;
import org.bytedeco.javacpp.Pointer;

/**
 * A dense layer's weight matrix {@code [outFeatures, inFeatures]}, row-major, in native memory of
 * FP32, FP16 or BF16, read in place exactly as a checkpoint maps it (nothing is copied or
 * repacked). {@code name} names it in error messages. Holds what keeps the memory alive (a
 * tensor, a mapped file's pointer) for as long as the weight is reachable.
 */
public final class Weight {
  private final String name;
  private final long address;
  private final ElementType type;
  private final long outFeatures, inFeatures;
  private final Object keepAlive;

  private Weight(String name, long address, ElementType type, long outFeatures, long inFeatures, Object keepAlive) {
    this.name = name;
    this.address = address;
    this.type = type;
    this.outFeatures = outFeatures;
    this.inFeatures = inFeatures;
    this.keepAlive = keepAlive;
  }

  /**
   * {@code outFeatures * inFeatures} elements of {@code type} from the pointer's position; refused
   * past its limit (or capacity) where the pointer knows one.
   */
  public static Weight of(String name, Pointer pointer, ElementType type, long outFeatures, long inFeatures) {
    return of(name, pointer, type, outFeatures, inFeatures, pointer);
  }

  static Weight of(String name, Pointer pointer, ElementType type, long outFeatures, long inFeatures, Object keepAlive) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(type, "type");
    if (type != ElementType.FP32 && type != ElementType.FP16 && type != ElementType.BF16)
      throw new IllegalArgumentException(name + ": weights must be fp32, fp16 or bf16, got " + type);
    if (outFeatures < 1 || inFeatures < 1)
      throw new IllegalArgumentException(name + ": expected a matrix [out, in] with both >= 1, got [" + outFeatures + ", "
          + inFeatures + "]");
    long elements = Lengths.product(name + " [out,in]", outFeatures, inFeatures);
    Lengths.product(name + " bytes", elements, type.bytes);
    if (pointer == null) throw new NullPointerException(name + ": pointer is null");
    if (pointer.isNull()) throw new IllegalArgumentException(name + ": pointer is NULL");
    // A typed pointer counts in its own elements; an untyped one in bytes.
    long have = pointer.limit() > 0 ? pointer.limit() : pointer.capacity();
    if (have > 0) {
      long haveBytes = Math.multiplyExact(have - pointer.position(), (long) pointer.sizeof());
      if (haveBytes < elements * type.bytes)
        throw new IllegalArgumentException(name + ": [" + outFeatures + ", " + inFeatures + "] " + type + " needs "
            + elements * type.bytes + " bytes, the pointer holds " + haveBytes);
    }
    long address = pointer.address() + pointer.position() * pointer.sizeof();
    return new Weight(name, address, type, outFeatures, inFeatures, keepAlive);
  }

  public String name() {
    return name;
  }

  public ElementType type() {
    return type;
  }

  public long outFeatures() {
    return outFeatures;
  }

  public long inFeatures() {
    return inFeatures;
  }

  /** Bytes a pass over the matrix reads. */
  public long bytes() {
    return outFeatures * inFeatures * type.bytes;
  }

  long address() {
    return address;
  }

  void keepAlive() {
    Reference.reachabilityFence(keepAlive);
  }

  @Override
  public String toString() {
    return name + " [" + outFeatures + ", " + inFeatures + "] " + type;
  }
}
