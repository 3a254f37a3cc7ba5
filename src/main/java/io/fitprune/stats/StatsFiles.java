package io.fitprune.stats;

import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsException;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.io.TensorInfo;
import io.fitprune.model.Geometry;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;

/**
 * Statistics files: safetensors with float32 {@code self [S,L,V]} and {@code cross [S,L,V]}, the
 * layout {@code safetensors.numpy.save_file({"self": a, "cross": c}, path)} writes from Python.
 * Samples of different visual counts add {@code visual} I64 {@code [S]}: sample s's scores are the
 * first {@code visual[s]} entries of its rows, V is the largest count, and the rest is 0.
 */
public final class StatsFiles {
  public static final String SELF = "self", CROSS = "cross", VISUAL = "visual";

  private StatsFiles() {}

  /**
   * Reads and validates against {@code g}: dtype, shapes, and the values (see {@link
   * AttentionStats}). Without {@code visual}, V must be the model's visual count; with it, the
   * counts may be any (fitting brings them to the model's).
   */
  public static AttentionStats read(Path path, Geometry g) throws IOException {
    try (SafetensorsFile f = SafetensorsFile.open(path)) {
      TensorInfo s = f.requireFloats(SELF, -1, -1, -1);
      TensorInfo c = f.requireFloats(CROSS, -1, -1, -1);
      long[] shape = s.shape();
      if (!java.util.Arrays.equals(shape, c.shape()))
        throw new SafetensorsException(path, "tensors 'self' " + s.shapeString() + " and 'cross' " + c.shapeString()
            + " must have the same shape [S, L, V]");
      if (shape[0] < 1) throw new SafetensorsException(path, "holds no samples (shape " + s.shapeString() + ")");
      if (shape[1] != g.layers())
        throw new SafetensorsException(path, "has " + shape[1] + " layers (shape " + s.shapeString() + ") but model "
            + g.name() + " has " + g.layers());
      boolean counted = f.tensors().containsKey(VISUAL);
      if (!counted && shape[2] != g.visualTokens())
        throw new SafetensorsException(path, "has " + shape[2] + " visual tokens (shape " + s.shapeString()
            + ") but model " + g.name() + " has " + g.visualTokens());
      if (s.numel() > Integer.MAX_VALUE - 8)
        throw new SafetensorsException(path, "is too large: " + s.numel() + " values per tensor");
      int S = (int) shape[0], L = (int) shape[1], V = (int) shape[2];
      int[] visual = counted ? counts(f, path, S, V) : null;
      try {
        return new AttentionStats(S, L, V, readFloats(f, SELF), readFloats(f, CROSS), visual);
      } catch (IllegalArgumentException e) { // values: non-finite, negative, no signal, padding not 0
        throw new SafetensorsException(path, e.getMessage());
      }
    }
  }

  private static int[] counts(SafetensorsFile f, Path path, int S, int V) throws IOException {
    f.require(VISUAL, DType.I64, S);
    long[] v = f.readLongs(VISUAL);
    int[] out = new int[S];
    for (int i = 0; i < S; i++) {
      if (v[i] < 1 || v[i] > V)
        throw new SafetensorsException(path, "tensor 'visual' holds " + v[i] + " for sample " + i
            + "; each sample's visual count must be in [1, V = " + V + "]");
      out[i] = (int) v[i];
    }
    return out;
  }

  private static float[] readFloats(SafetensorsFile f, String name) throws IOException {
    FloatBuffer fb = f.floats(name);
    float[] out = new float[fb.remaining()];
    fb.get(out);
    return out;
  }

  /**
   * Writes statistics atomically, with optional string metadata (model name, how they were
   * recorded); statistics with per-sample counts ({@link AttentionStats#hasCounts}) add {@code visual}.
   */
  public static void write(Path path, AttentionStats stats, Map<String, String> metadata) throws IOException {
    long[] shape = {stats.samples(), stats.layers(), stats.tokens()};
    SafetensorsWriter w = new SafetensorsWriter();
    if (metadata != null) metadata.forEach(w::metadata);
    w.putFloats(SELF, stats.self(), shape).putFloats(CROSS, stats.cross(), shape);
    if (stats.hasCounts()) {
      long[] visual = new long[stats.samples()];
      for (int s = 0; s < visual.length; s++) visual[s] = stats.visual(s);
      w.putLongs(VISUAL, visual, visual.length);
    }
    w.write(path);
  }
}
