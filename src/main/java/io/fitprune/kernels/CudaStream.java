package io.fitprune.kernels;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * The CUDA stream that calls of {@link Kernels} on device data are enqueued on: the caller's
 * ({@link #wrap}: for example the handle of a torch stream, {@code torch.cuda.current_stream().cuda_stream}),
 * the legacy default stream ({@link #DEFAULT}), or one created here ({@link #create}, destroyed by
 * {@link #close()}). A wrapped stream stays the caller's: close() leaves it alone.
 */
public final class CudaStream implements AutoCloseable {
  /** The legacy default stream (handle 0). */
  public static final CudaStream DEFAULT = new CudaStream(0, false);

  private final long handle;
  private final boolean owned;
  private final Pointer pointer; // null for the default stream
  private volatile boolean closed;

  private CudaStream(long handle, boolean owned) {
    this.handle = handle;
    this.owned = owned;
    this.pointer = handle == 0 ? null : new RawPointer(handle);
  }

  /** The caller's {@code cudaStream_t}, used as is (0: the legacy default stream). */
  public static CudaStream wrap(long handle) {
    return handle == 0 ? DEFAULT : new CudaStream(handle, false);
  }

  /** A new non-blocking stream owned by the returned object. */
  public static CudaStream create() {
    CudaBackend.requireDevice();
    PointerPointer<?> out = new PointerPointer<>(1);
    try {
      Kernels.check(FitPruneNative.fp_cuda_stream_create(out));
      return new CudaStream(out.get(0).address(), true);
    } finally {
      out.deallocate();
    }
  }

  public long handle() {
    return handle;
  }

  /** The handle for a native call; fails once an owned stream is closed. */
  Pointer pointer() {
    if (closed) throw new IllegalStateException("stream is closed");
    return pointer;
  }

  /** Waits for the work enqueued on this stream (only this stream). */
  public void synchronize() {
    CudaBackend.requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_stream_synchronize(pointer()));
  }

  /** Destroys a stream made by {@link #create()}; does nothing for a wrapped one. */
  @Override
  public void close() {
    if (!owned || closed) return;
    closed = true;
    Kernels.check(FitPruneNative.fp_cuda_stream_destroy(pointer));
  }

  @Override
  public String toString() {
    return "CudaStream[0x" + Long.toHexString(handle) + (owned ? ", owned" : "") + (closed ? ", closed]" : "]");
  }
}
