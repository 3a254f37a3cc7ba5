package io.fitprune.cli;

import io.fitprune.calibration.DecoderRunner;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.DecoderConfig;
import io.fitprune.decoder.DecoderWeights;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.TensorInfo;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import io.fitprune.model.Geometry;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The reference decoder and calibration embeddings for {@code fit --weights --calibration}: one
 * or more files, each with its own spans, so samples of different visual counts come from
 * different files (fitting brings them to the model's count).
 */
final class ExactInputs {
  private ExactInputs() {}

  /** {@code tied}: the LM head is the embedding table (the model folder's {@code tie_word_embeddings}). */
  static DecoderRunner runner(DecoderConfig config, Path weights, String namePrefix, boolean tied, List<Path> calibration)
      throws Exception {
    Geometry g = config.geometry();
    List<Tensor> embeds = new ArrayList<>();
    List<Spans> spans = new ArrayList<>();
    List<int[][]> positions = new ArrayList<>();
    for (Path c : calibration) read(g, c, embeds, spans, positions);  // inputs before the weights: bad input fails fast
    DecoderWeights w;
    try (Progress p = Progress.waiting("load weights")) {
      w = DecoderWeights.load(weights, config, namePrefix, true, tied);
    }
    return new DecoderRunner(new Decoder(w), embeds, spans, positions);
  }

  /**
   * Appends the samples of one calibration file: embeds [S, n, D] or [n, D], spans [prefix, visual]
   * (default: the model's), and an [n, D] file's position_ids [3, n] (embed's, for M-RoPE models).
   */
  private static void read(Geometry g, Path calibration, List<Tensor> embeds, List<Spans> spans, List<int[][]> positions)
      throws Exception {
    try (SafetensorsFile f = SafetensorsFile.open(calibration)) {
      TensorInfo t = f.tensors().get("embeds");
      if (t == null) throw new IllegalArgumentException("--calibration: " + calibration + " has no tensor 'embeds'");
      if (t.dtype() != DType.F32 && t.dtype() != DType.F64)
        throw new IllegalArgumentException("--calibration: 'embeds' must be F32 or F64, got " + t.dtype());
      long[] sh = t.shape();
      boolean batched = sh.length == 3;
      if ((sh.length != 2 && sh.length != 3) || sh[sh.length - 1] != g.hidden())
        throw new IllegalArgumentException("--calibration: 'embeds' must have shape [S, n, " + g.hidden() + "] or [n, "
            + g.hidden() + "], got " + t.shapeString());
      long S = batched ? sh[0] : 1, n = sh[sh.length - 2];
      int P = g.prefixTokens(), V = g.visualTokens();
      if (f.tensors().containsKey("spans")) {
        long[] sp = f.readLongs("spans");
        if (sp.length != 2) throw new IllegalArgumentException("--calibration: 'spans' must hold [prefix, visual]");
        if (sp[0] < 0 || sp[0] > n) throw new IllegalArgumentException("--calibration: 'spans' prefix " + sp[0] + " is outside [0, n = " + n + "]");
        P = (int) sp[0];
        if (sp[1] < 0 || sp[1] > n)
          throw new IllegalArgumentException("--calibration " + calibration + ": 'spans' visual " + sp[1]
              + " is outside [0, n = " + n + "]");
        V = (int) sp[1];  // any count: samples are fitted at their own and brought to the model's
      }
      if ((long) P + V > n) throw new IllegalArgumentException("--calibration: prefix " + P + " + visual " + V + " exceed n = " + n);
      int[][] ids = null;
      if (batched) PositionIds.requireNone(f, calibration, "--calibration", "(embeds [n, D])");
      else ids = PositionIds.read(f, calibration, "--calibration", n);
      FloatBuffer fb = f.floats("embeds");
      try {
        io.fitprune.kernels.Kernels.requireFinite("embeds", sh.length == 3 ? "[S,n,D]" : "[n,D]",
            io.fitprune.kernels.Data.of(fb), sh);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--calibration " + calibration + ": " + e.getMessage());
      }
      try (Tensor all = torch.from_blob(new FloatPointer(fb), S, n, g.hidden())) {
        for (long s = 0; s < S; s++) {
          try (Tensor row = all.select(0, s)) {
            embeds.add(row.clone());
          }
          spans.add(new Spans(P, V));
          positions.add(ids);
        }
      }
      java.lang.ref.Reference.reachabilityFence(fb);
    }
  }
}
