package io.fitprune.kernels;

import java.util.Objects;
import org.bytedeco.javacpp.Pointer;

/**
 * A status word on the device: the device calls of {@link Kernels} given a stream record bad data
 * here (a NaN score, a gather index out of range) instead of reading a flag back after each call,
 * and {@link #check(CudaStream)} reports it when the caller chooses, typically where it
 * synchronises anyway. Owned: close() frees it.
 */
public final class DeviceStatus implements AutoCloseable {
  private final DeviceBuffer word;

  private DeviceStatus(DeviceBuffer word) {
    this.word = word;
  }

  /** A cleared status word. */
  public static DeviceStatus allocate() {
    DeviceBuffer b = DeviceBuffer.allocate(ElementType.INT32, 1);
    try {
      b.fill(0);
      return new DeviceStatus(b);
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
  }

  Pointer pointer() {
    return word.pointer();
  }

  /**
   * Waits for {@code stream} (only it), then throws a {@link FitPruneException} naming the first
   * position when work recorded bad data since the last check ({@code FP_ERR_VALUE},
   * {@code FP_ERR_INDEX}), or when work on the stream failed ({@code FP_ERR_CUDA}); clears the word.
   */
  public void check(CudaStream stream) {
    Objects.requireNonNull(stream, "stream");
    Kernels.check(FitPruneNative.fp_cuda_status_check(word.pointer(), stream.pointer()));
  }

  @Override
  public void close() {
    word.close();
  }
}
