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
 * so both give the same statistics bit for bit on the same input.
 *
 * @param runner the decoder on the images' inputs
 * @param visual the images' visual token count (LLaVA-NeXT's follows the image's size)
 */
record ImageCalibration(DecoderRunner runner, int visual) {

  /**
   * The runner on every image's input. The statistics are one visual count wide, so images whose
   * counts differ (LLaVA-NeXT images of different sizes) are refused, naming two of them.
   */
  static ImageCalibration of(Path model, List<Path> images, String prompt) throws IOException {
    LlavaOptions.requireFolder(model);
    LlavaPipeline.requireQuestion("--prompt", prompt);
    for (Path f : images) CliPaths.input("--images", f);
    try (LlavaPipeline lp = LlavaPipeline.open(model)) {
      List<LlavaInput> inputs;
      try (Progress p = Progress.waiting("calibration images through the vision tower")) {
        inputs = lp.prepare(images, prompt);
      }
      LlavaInput first = inputs.get(0);
      for (int i = 1; i < inputs.size(); i++) {
        LlavaInput in = inputs.get(i);
        if (in.spans().visual() != first.spans().visual())
          throw new IllegalArgumentException("--images: " + images.get(0) + " (" + size(first) + ") gives "
              + first.spans().visual() + " visual tokens but " + images.get(i) + " (" + size(in) + ") gives "
              + in.spans().visual() + "; one recipe is fitted here from images of one count: give images of the same size");
      }
      List<Tensor> embeds = new ArrayList<>();
      List<Spans> spans = new ArrayList<>();
      for (LlavaInput in : inputs) {
        embeds.add(Tensors.of(in.embeds(), in.length(), in.hidden()));
        spans.add(in.spans());
      }
      return new ImageCalibration(new DecoderRunner(new Decoder(lp.decoderWeights()), embeds, spans),
          Math.toIntExact(first.spans().visual()));
    }
  }

  private static String size(LlavaInput in) {
    int[] hw = in.image().imageSize();
    return hw == null ? "one view" : hw[0] + "x" + hw[1] + " px, height x width";
  }
}
