package io.fitprune.cli;

import io.fitprune.hf.ModelFolder;
import io.fitprune.llava.LlavaPipeline;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The model folder and question of the commands that run images through LLaVA (embed, ask). */
final class LlavaOptions {
  @Option(names = "--model", required = true, paramLabel = "DIR", description = "A Hugging Face LLaVA, LLaVA-NeXT, Qwen2-VL or "
      + "Qwen2.5-VL model folder (config.json, preprocessor_config.json, tokenizer, weights), as huggingface-cli download writes one.")
  Path model;

  @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "The user's question; the chat template "
      + "places the image, so the text must not hold '<image>' or '<|image_pad|>'.")
  String prompt;

  /** Checks the folder and question (cheap, before any weight is read), then opens the pipeline. */
  LlavaPipeline open() throws IOException {
    requireFolder(model);
    LlavaPipeline.requireQuestion("--prompt", prompt);
    return LlavaPipeline.open(model);
  }

  static void requireFolder(Path model) {
    if (!ModelFolder.isModelFolder(model))
      throw new IllegalArgumentException("--model " + model + ": not a model folder (a directory holding config.json)");
  }
}
