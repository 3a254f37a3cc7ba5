package io.fitprune.hf;

import java.util.List;

/**
 * The special tokens of Qwen2-VL's tokenizer and their ids for a vocabulary of a given size. The
 * published tokenizer (Qwen/Qwen2-VL-7B-Instruct's {@code added_tokens_decoder}) has 151643
 * ordinary byte-level BPE tokens and then these fourteen, {@code <|endoftext|>} 151643 to
 * {@code <|video_pad|>} 151656, all special; the embedding table is larger (151936 or 152064 rows)
 * and its last rows have no token. A vocabulary that holds those ids gets them; a smaller one (a
 * tiny test model) gets the fourteen packed at its end, after the ordinary tokens.
 *
 * @param vocab the vocabulary size ({@code vocab_size} of the text config)
 * @param first the id of {@code <|endoftext|>}, the first special token: also the number of ordinary tokens
 */
public record QwenTokens(int vocab, int first) {
  public static final String END_OF_TEXT = "<|endoftext|>", IM_START = "<|im_start|>", IM_END = "<|im_end|>",
      VISION_START = "<|vision_start|>", VISION_END = "<|vision_end|>", VISION_PAD = "<|vision_pad|>",
      IMAGE_PAD = "<|image_pad|>", VIDEO_PAD = "<|video_pad|>";
  /** The added tokens in id order, as the published tokenizer numbers them. */
  public static final List<String> ADDED = List.of(END_OF_TEXT, IM_START, IM_END, "<|object_ref_start|>",
      "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", VISION_START, VISION_END,
      VISION_PAD, IMAGE_PAD, VIDEO_PAD);
  /** {@code <|endoftext|>}'s id in the published vocabulary. */
  public static final int PUBLISHED_FIRST = 151643;
  /** The fewest tokens a generated vocabulary can have: the 256 byte tokens and the added ones. */
  public static final int MIN_VOCAB = 256 + 14;

  public QwenTokens {
    if (vocab < MIN_VOCAB)
      throw new IllegalArgumentException("a Qwen2-style tokenizer needs vocab_size >= " + MIN_VOCAB
          + " (256 byte tokens and " + ADDED.size() + " special tokens), got " + vocab);
    if (first < 256 || first > vocab - ADDED.size())
      throw new IllegalArgumentException("the special tokens must start in [256, " + (vocab - ADDED.size())
          + "] for vocab_size " + vocab + ", got " + first);
  }

  /** The published ids when {@code vocab} holds them, else the special tokens packed at its end. */
  public static QwenTokens forVocab(int vocab) {
    int published = PUBLISHED_FIRST + ADDED.size();
    return new QwenTokens(vocab, vocab >= published ? PUBLISHED_FIRST : vocab - ADDED.size());
  }

  /** The id of one of {@link #ADDED}. */
  public int id(String token) {
    int i = ADDED.indexOf(token);
    if (i < 0) throw new IllegalArgumentException("'" + token + "' is not one of Qwen2-VL's special tokens " + ADDED);
    return first + i;
  }

  public int endOfText() {
    return id(END_OF_TEXT);
  }

  public int imEnd() {
    return id(IM_END);
  }

  public int visionStart() {
    return id(VISION_START);
  }

  public int visionEnd() {
    return id(VISION_END);
  }

  /** {@code image_token_id}: the id {@code <|image_pad|>} is expanded to, once per visual token. */
  public int imagePad() {
    return id(IMAGE_PAD);
  }

  /** {@code video_token_id}. */
  public int videoPad() {
    return id(VIDEO_PAD);
  }
}
