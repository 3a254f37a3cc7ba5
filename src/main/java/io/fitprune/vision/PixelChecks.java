package io.fitprune.vision;

import java.nio.FloatBuffer;
import java.util.Arrays;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** Checks of a tower's input, {@code pixel_values [B, C, S, S]} float32, before anything runs on it. */
final class PixelChecks {
  private PixelChecks() {}

  /** A contiguous float32 tensor over the same values (a new reference: close it), after every check. */
  static Tensor checked(Tensor pixels, ClipVisionConfig c) {
    if (pixels == null) throw new IllegalArgumentException("pixel_values is null");
    long[] want = {-1, c.channels(), c.imageSize(), c.imageSize()};
    String expected = "[B, " + c.channels() + ", " + c.imageSize() + ", " + c.imageSize() + "]";
    long[] got = new long[(int) pixels.dim()];
    for (int i = 0; i < got.length; i++) got[i] = pixels.size(i);
    boolean ok = got.length == 4;
    for (int i = 1; ok && i < 4; i++) ok = got[i] == want[i];
    if (!ok)
      throw new IllegalArgumentException("pixel_values: expected shape " + expected + ", got "
          + Arrays.toString(got));
    if (pixels.scalar_type().value != torch.ScalarType.Float.value)
      throw new IllegalArgumentException("pixel_values: expected float32, got " + pixels.scalar_type());
    if (!pixels.device().is_cpu()) throw new IllegalArgumentException("pixel_values: expected a CPU tensor");
    if (pixels.numel() > Integer.MAX_VALUE)
      throw new IllegalArgumentException("pixel_values: " + got[0] + " images are too many for one call (at most "
          + Integer.MAX_VALUE / (c.channels() * (long) c.imageSize() * c.imageSize()) + ")");
    Tensor ct = pixels.contiguous();
    try {
      if (ct.numel() > 0) requireFinite(ct.data_ptr_float().capacity(ct.numel()).asBuffer(), got);
      return ct;
    } catch (RuntimeException e) {
      ct.close();
      throw e;
    }
  }

  /** Refuses NaN or infinity, naming the first position as [image, channel, y, x]. */
  static void requireFinite(FloatBuffer b, long[] shape) {
    int n = b.limit();
    for (int i = 0; i < n; i++) {
      float x = b.get(i);
      if (!Float.isFinite(x)) {
        long s = shape[2], rest = i;
        long xx = rest % s, y = (rest /= s) % s, ch = (rest /= s) % shape[1], img = rest / shape[1];
        throw new IllegalArgumentException("pixel_values: not finite at [" + img + ", " + ch + ", " + y + ", " + xx + "] ("
            + x + ")");
      }
    }
  }
}
