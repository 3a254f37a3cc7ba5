package io.fitprune.cli;

import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.TensorInfo;
import java.io.IOException;
import java.nio.file.Path;

/**
 * An embeddings file's optional {@code position_ids} I64 {@code [C, n]} (what {@code embed} writes for
 * an M-RoPE model: C = 3, t, h, w), so {@code fit --calibration} and {@code prefill} start the
 * sequence where {@code ask} does; without it the rows are at 0, 1, ...
 */
final class PositionIds {
  static final String NAME = "position_ids";

  private PositionIds() {}

  /** The ids {@code [C][n]} of a file holding one sequence of {@code n} rows, or null when it has none. */
  static int[][] read(SafetensorsFile f, Path file, String option, long n) throws IOException {
    TensorInfo t = f.tensors().get(NAME);
    if (t == null) return null;
    long[] sh = t.shape();
    if (t.dtype() != DType.I64 || sh.length != 2 || (sh[0] != 1 && sh[0] != 3) || sh[1] != n)
      throw new IllegalArgumentException(option + " " + file + ": '" + NAME + "' must be I64 [3, " + n + "] (or [1, " + n
          + "]), one id per row and component, got " + t.dtype() + " " + t.shapeString());
    long[] v = f.readLongs(NAME);
    int C = (int) sh[0], len = (int) n;
    int[][] out = new int[C][len];
    for (int c = 0; c < C; c++)
      for (int i = 0; i < len; i++) {
        long id = v[c * len + i];
        if (id < 0 || id >= n)
          throw new IllegalArgumentException(option + " " + file + ": '" + NAME + "'[" + c + ", " + i + "] = " + id
              + " is outside [0, " + n + ")");
        out[c][i] = (int) id;
      }
    return out;
  }

  /** Refuses ids in a file of several sequences, whose layout for them is not defined. */
  static void requireNone(SafetensorsFile f, Path file, String option, String why) {
    if (f.tensors().containsKey(NAME))
      throw new IllegalArgumentException(option + " " + file + ": '" + NAME + "' is read only with one sequence " + why);
  }
}
