package io.fitprune.llava;

import io.fitprune.hf.Prompt;
import io.fitprune.image.PixelValues;
import io.fitprune.kernels.Spans;

/**
 * One image and question made ready for the language model.
 *
 * @param prompt        the templated, tokenized prompt (ids with the image's tokens expanded, spans)
 * @param pixels        the preprocessed image {@code [1, 3, S, S]}
 * @param embeds        the language model's input {@code [n, D]} flat, float32: the embedding rows of
 *                      the ids with the image features written over the image-token rows
 * @param hidden        D
 * @param visionSeconds the time the vision tower and projector took
 */
public record LlavaInput(Prompt prompt, PixelValues pixels, float[] embeds, int hidden, double visionSeconds) {
  /** Tokens in the input, n. */
  public int length() {
    return prompt.length();
  }

  public Spans spans() {
    return prompt.spans();
  }
}
