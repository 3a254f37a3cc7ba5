package io.fitprune.cli;

import io.fitprune.calibration.DecoderRunner;
import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.Tensors;
import io.fitprune.kernels.Spans;
import io.fitprune.llava.LlavaInput;
import io.fitprune.llava.LlavaPipeline;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.Tensor;

/**
 * {@code fit --images}: each calibration image with the question through the LLaVA pipeline (as
 * {@code embed} writes it), then the same reference-decoder runner the embeddings path records on,
 * so both give the same statistics bit for bit on the same input. Qwen's samples start at their 3-D
 * position ids, the ones {@code ask}'s prefill uses.
 *
 * @param runner the decoder on the images' inputs
 * @param visual the count the recipe is fitted for: the largest of the images' visual counts
 *               (LLaVA-NeXT's and Qwen's follow the image's size; samples of other counts are brought to it
 *               as fractions, see {@link io.fitprune.fitting.FastFitter})
 */
record ImageCalibration(DecoderRunner runner, int visual) {

  /** The runner on every image's input, each at its own visual count. */
  static ImageCalibration of(Path model, List<Path> images, String prompt) throws IOException {
    LlavaOptions.requireFolder(model);
    LlavaPipeline.requireQuestion("--prompt", prompt);
    for (Path f : images) CliPaths.input("--images", f);
    try (LlavaPipeline lp = LlavaPipeline.open(model)) {
      List<LlavaInput> inputs;
      try (Progress p = Progress.waiting("calibration images through the vision tower")) {
        inputs = lp.prepare(images, prompt);
      }
      int visual = 0;
      for (LlavaInput in : inputs) visual = Math.max(visual, Math.toIntExact(in.spans().visual()));
      List<Tensor> embeds = new ArrayList<>();
      List<Spans> spans = new ArrayList<>();
      List<int[][]> positions = new ArrayList<>();
      for (LlavaInput in : inputs) {
        embeds.add(Tensors.of(in.embeds(), in.length(), in.hidden()));
        spans.add(in.spans());
        positions.add(in.positions());
      }
      return new ImageCalibration(new DecoderRunner(new Decoder(lp.decoderWeights()), embeds, spans, positions), visual);
    }
  }
}
