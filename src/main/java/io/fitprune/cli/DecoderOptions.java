package io.fitprune.cli;

import io.fitprune.decoder.DecoderConfig;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.QwenVlConfig;
import io.fitprune.hf.TextConfig;
import io.fitprune.model.Geometry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** What the reference decoder needs beyond the geometry, for the commands that run it (prefill, fit --mode exact). */
final class DecoderOptions {
  static final double ROPE_THETA = 10000, RMS_EPS = 1e-5;

  @Option(names = "--rope-theta", description = "RoPE base. Default: a model folder's config.json, else " + ROPE_THETA + ".")
  Double ropeTheta;

  @Option(names = "--rms-eps", description = "RMSNorm epsilon. Default: a model folder's config.json, else " + RMS_EPS + ".")
  Double rmsEps;

  /** The decoder of {@code g}; the vocabulary is a placeholder that loading the weights replaces. */
  DecoderConfig config(Geometry g) {
    return DecoderConfig.of(g, 1, ropeTheta != null ? ropeTheta : ROPE_THETA, rmsEps != null ? rmsEps : RMS_EPS);
  }

  /**
   * As {@link #config(Geometry)}, with the RoPE base and epsilon of {@code model}'s config.json when
   * it is a model folder (and the M-RoPE split of a Qwen folder, or of a bundled Qwen config's name);
   * then the vision tower and projector in {@code weights} (if given and it holds them) must match
   * that config too.
   */
  DecoderConfig config(Geometry g, String model, Path weights) throws IOException {
    if (model != null && !ModelFolder.isModelFolder(Path.of(model)) && !Files.exists(Path.of(model))) {
      QwenVlConfig q = QwenVlConfig.bundled(model);
      if (q != null) return of(g, q.text(), q.mropeSection());
    }
    if (model == null || !ModelFolder.isModelFolder(Path.of(model))) return config(g);
    ModelFolder folder = ModelFolder.open(Path.of(model));
    if (weights != null) folder.checkVisionWeights(weights);
    return of(g, folder.text(), folder.qwen() != null ? folder.qwen().config().mropeSection() : null);
  }

  private DecoderConfig of(Geometry g, TextConfig t, List<Integer> mropeSection) {
    return DecoderConfig.of(g, 1, ropeTheta != null ? ropeTheta : t.ropeTheta(), rmsEps != null ? rmsEps : t.rmsEps(),
        mropeSection);
  }

  /**
   * Whether {@code model} is a folder, or a bundled Qwen config's name, whose config ties the LM head
   * to the embedding table ({@code tie_word_embeddings}).
   */
  static boolean tiedEmbeddings(String model) throws IOException {
    if (model == null) return false;
    Path p = Path.of(model);
    if (ModelFolder.isModelFolder(p)) return ModelFolder.open(p).text().tieWordEmbeddings();
    QwenVlConfig q = Files.exists(p) ? null : QwenVlConfig.bundled(model);
    return q != null && q.text().tieWordEmbeddings();
  }
}
