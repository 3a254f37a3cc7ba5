package io.fitprune.llava;

import io.fitprune.hf.Prompt;
import io.fitprune.image.PixelValues;
import io.fitprune.kernels.Spans;

/**
 * One image and question made ready for the language model.
 *
 * @param prompt        the templated, tokenized prompt (ids with the image's tokens expanded, spans)
 * @param image         the preprocessed image (its pixels, and for LLaVA-NeXT its size and tiling)
 * @param embeds        the language model's input {@code [n, D]} flat, float32: the embedding rows of
 *                      the ids with the image features written over the image-token rows
 * @param hidden        D
 * @param visionSeconds the time the vision tower, projector and packing took
 * @param positions     the position ids {@code [3][n]} (t, h, w) of an M-RoPE model (Qwen2-VL), as
 *                      {@code get_rope_index} computes them; null for 1-D positions 0, 1, ...
 */
public record LlavaInput(Prompt prompt, LlavaImage image, float[] embeds, int hidden, double visionSeconds,
    int[][] positions) {
  public LlavaInput(Prompt prompt, LlavaImage image, float[] embeds, int hidden, double visionSeconds) {
    this(prompt, image, embeds, hidden, visionSeconds, null);
  }

  /** Tokens in the input, n. */
  public int length() {
    return prompt.length();
  }

  public Spans spans() {
    return prompt.spans();
  }

  /** What the tower saw: {@code [1, 3, S, S]}, or LLaVA-NeXT's {@code [1 + tiles, 3, S, S]}; null for Qwen ({@code image().qwen()}). */
  public PixelValues pixels() {
    return image.pixels();
  }
}
