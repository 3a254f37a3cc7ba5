package io.fitprune.cli;

import io.fitprune.image.PixelValues;
import io.fitprune.image.QwenPixels;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.llava.LlavaInput;
import io.fitprune.llava.LlavaPipeline;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** An image and a question to the language model's input embeddings, the file {@code prefill} and {@code fit} read. */
@Command(name = "embed", mixinStandardHelpOptions = true,
    description = {"Run an image and a question through a LLaVA, LLaVA-NeXT, Qwen2-VL or Qwen2.5-VL model folder's chat "
        + "template, tokenizer, image processor, vision tower and projector, and write the language model's input.",
        "Writes embeds F32 [n, D] (image features over the image-token rows of the embedding lookup), spans I64 [2] = "
            + "(prefix, visual), input_ids I64 [n] and pixel_values F32 [3, S, S]; for LLaVA-NeXT pixel_values F32 "
            + "[1+tiles, 3, S, S] (the base view, then the tiles) and image_sizes I64 [2] = (height, width); for Qwen "
            + "pixel_values F32 [patches, C*T*P*P] in the processor's order, position_ids I64 [3, n] (t, h, w) and "
            + "image_grid_thw I64 [3]."})
final class EmbedCommand implements Callable<Integer> {
  @Mixin
  LlavaOptions llava = new LlavaOptions();

  @Option(names = "--image", required = true, paramLabel = "IMG", description = "Image file (PNG, JPEG, ...).")
  Path image;

  @Option(names = "--out", required = true, paramLabel = "E.safetensors", description = "File to write.")
  Path out;

  @Override
  public Integer call() throws Exception {
    CliPaths.input("--image", image);
    CliPaths.output("--out", out);
    try (LlavaPipeline p = llava.open()) {
      LlavaInput in = p.prepare(image, llava.prompt);
      int n = in.length(), D = in.hidden();
      PixelValues px = in.pixels();
      SafetensorsWriter w = new SafetensorsWriter()
          .putFloats("embeds", in.embeds(), n, D)
          .putLongs("spans", new long[] {in.spans().prefix(), in.spans().visual()}, 2)
          .putLongs("input_ids", in.prompt().ids(), n);
      if (in.image().qwen() != null) {
        QwenPixels q = in.image().qwen();
        long[] pos = new long[3 * n];
        for (int c = 0; c < 3; c++)
          for (int i = 0; i < n; i++) pos[c * n + i] = in.positions()[c][i];
        w.putFloats("pixel_values", q.pixelValues(), q.patches(), q.patchDim())
            .putLongs("position_ids", pos, 3, n)
            .putLongs("image_grid_thw", q.gridThw(), 3);
      } else if (in.image().anyres()) {
        int[] hw = in.image().imageSize();
        w.putFloats("pixel_values", px.data(), px.images(), 3, px.height(), px.width())
            .putLongs("image_sizes", new long[] {hw[0], hw[1]}, 2);
      } else {
        w.putFloats("pixel_values", px.data(), 3, px.height(), px.width());
      }
      w.write(out);
      System.out.printf(Locale.ROOT, "wrote %s: embeds [%d, %d], spans %s (prefix, visual), vision %.1f ms%n", out, n, D,
          Arrays.toString(new long[] {in.spans().prefix(), in.spans().visual()}), 1e3 * in.visionSeconds());
    }
    return 0;
  }
}
