package io.fitprune.decoder;

import java.nio.FloatBuffer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * RMSNorm into a new tensor: {@code y = x / sqrt(mean(x^2) + eps) * w}, sums in double. A
 * single-threaded loop: it is memory-bound and about 1 ms at n = 624, D = 1024, while libtorch's
 * two-thread {@code rms_norm} took anywhere from 0.3 to 15 ms on the shared 2-core machine (a
 * parallel region waits for its slowest thread, and a thread that loses its core waits a time slice).
 */
public final class RmsNorm {
  private RmsNorm() {}

  /** Rows of {@code width} floats of {@code x}, normalised and scaled by {@code weight [width]}. */
  public static Tensor apply(Tensor x, Tensor weight, int width, double eps) {
    int rows = (int) (x.numel() / width);
    Tensor y = torch.empty(rows, width);
    FloatBuffer xb = x.data_ptr_float().capacity(x.numel()).asBuffer();
    FloatBuffer yb = y.data_ptr_float().capacity(y.numel()).asBuffer();
    float[] wv = new float[width];
    weight.data_ptr_float().capacity(width).asBuffer().get(0, wv);
    apply(xb, yb, rows, width, wv, eps, new float[width]);
    return y;
  }

  /** {@code rows} rows of {@code width} floats from x into y (both from element 0); {@code row}: scratch of width floats. */
  static void apply(FloatBuffer x, FloatBuffer y, int rows, int width, float[] weight, double eps, float[] row) {
    for (int i = 0; i < rows; i++) {
      x.get(i * width, row, 0, width);
      double ss = 0;
      for (int j = 0; j < width; j++) ss += row[j] * row[j];
      float inv = (float) (1 / Math.sqrt(ss / width + eps));
      for (int j = 0; j < width; j++) row[j] = row[j] * inv * weight[j];
      y.put(i * width, row, 0, width);
    }
  }
}
