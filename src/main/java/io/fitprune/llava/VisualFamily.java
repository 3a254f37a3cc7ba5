package io.fitprune.llava;

import java.io.IOException;
import java.nio.file.Path;

/**
 * What differs between the model families {@link LlavaPipeline} runs, behind one pipeline shape
 * (prompt and image to ids, features, splice, positions): how an image file becomes the tower's
 * input and its visual count, how the tower turns it into rows of the language model's width, and
 * whether the rows get 3-D position ids.
 */
interface VisualFamily {
  /** An image file through the family's image processor; a bad file or size is a one-line error naming it. */
  LlavaImage image(Path file) throws IOException;

  /** The image's features {@code [visualTokens, D]} flat, float32, in the order they fill the image tokens. */
  float[] features(LlavaImage image);

  /** The language model's width D. */
  int hidden();

  /** The position ids {@code [3][n]} of a prompt's ids holding the image (M-RoPE), or null for 1-D positions. */
  int[][] positions(long[] ids, LlavaImage image);
}
