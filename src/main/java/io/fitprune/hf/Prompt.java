package io.fitprune.hf;

import io.fitprune.kernels.Spans;

/**
 * A tokenized prompt with its image's tokens expanded, and the spans derived from the ids: prefix
 * = the ids before the first image token, visual = the run of image tokens, text = the rest.
 *
 * @param ids    token ids, {@code <s>} first where the tokenizer adds it
 * @param prefix tokens before the image
 * @param visual image tokens (0 for a text-only prompt)
 */
public record Prompt(long[] ids, int prefix, int visual) {

  public int length() {
    return ids.length;
  }

  /** Tokens after the image (all of them after the prefix for a text-only prompt). */
  public int text() {
    return ids.length - prefix - visual;
  }

  public Spans spans() {
    return new Spans(prefix, visual);
  }
}
