package io.fitprune.decoder;

import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.TorchData;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * RMSNorm into a new tensor: {@code y = x / sqrt(mean(x^2) + eps) * w}, sums in double, through
 * {@link Kernels#rmsNorm} (one thread, as the decode step's norms). A single-threaded loop: it is
 * memory-bound and about 1 ms at n = 624, D = 1024, while libtorch's two-thread {@code rms_norm}
 * took anywhere from 0.3 to 15 ms on the shared 2-core machine (a parallel region waits for its
 * slowest thread, and a thread that loses its core waits a time slice).
 */
public final class RmsNorm {
  private RmsNorm() {}

  /** Rows of {@code width} floats of {@code x} (float32, contiguous), normalised and scaled by {@code weight [width]}. */
  public static Tensor apply(Tensor x, Tensor weight, int width, double eps) {
    long rows = x.numel() / width;
    Tensor y = torch.empty(rows, width);
    Kernels.rmsNorm(TorchData.of(x).view(rows * width), TorchData.of(y), rows, width, TorchData.of(weight), eps);
    return y;
  }
}
