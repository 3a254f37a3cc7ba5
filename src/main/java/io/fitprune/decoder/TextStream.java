package io.fitprune.decoder;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.IntPredicate;

/**
 * Turns generated tokens into text as they arrive, and says when to stop: at an end-of-sequence
 * token or where the text reaches one of the stop strings (which is not emitted). The text is the
 * decode of all tokens so far, so pieces of one character spread over several tokens come out
 * whole; what is emitted is only ever extended, holding back an unfinished character (U+FFFD at
 * the end) and any tail that could still become a stop string.
 */
public final class TextStream {
  private final Function<int[], String> decode;
  private final IntPredicate endOfSequence;
  private final List<String> stops;
  private final Consumer<String> sink;
  private final List<Integer> tokens = new ArrayList<>();
  private int emitted;
  private String text = "";
  private boolean stopped;

  /**
   * @param decode        token ids to text (the tokenizer's decode, special tokens skipped)
   * @param endOfSequence which tokens end the answer
   * @param stops         strings that end the answer where they appear (may be empty)
   * @param sink          receives each new piece of text
   */
  public TextStream(Function<int[], String> decode, IntPredicate endOfSequence, List<String> stops, Consumer<String> sink) {
    this.decode = Objects.requireNonNull(decode, "decode");
    this.endOfSequence = Objects.requireNonNull(endOfSequence, "endOfSequence");
    this.stops = List.copyOf(Objects.requireNonNull(stops, "stops"));
    for (String s : this.stops)
      if (s.isEmpty()) throw new IllegalArgumentException("stops: a stop string must not be empty");
    this.sink = Objects.requireNonNull(sink, "sink");
  }

  /** Takes the next token; returns false once the answer has ended (this token included). */
  public boolean accept(int token) {
    if (stopped) throw new IllegalStateException("the answer has already ended");
    if (endOfSequence.test(token)) {
      finish(text);
      return false;
    }
    tokens.add(token);
    text = decode.apply(tokens.stream().mapToInt(Integer::intValue).toArray());
    int stopAt = firstStop(text);
    if (stopAt >= 0) {
      finish(text.substring(0, stopAt));
      return false;
    }
    int safe = text.length() - heldBack(text);
    if (safe > emitted) {
      sink.accept(text.substring(emitted, safe));
      emitted = safe;
    }
    return true;
  }

  /** Emits what was held back; call when generation ends for another reason (the token limit). */
  public void close() {
    if (!stopped) finish(text);
  }

  /** The answer so far (up to a stop string). */
  public String text() {
    int stopAt = firstStop(text);
    return stopAt >= 0 ? text.substring(0, stopAt) : text;
  }

  /** Tokens taken, end-of-sequence excluded. */
  public int tokenCount() {
    return tokens.size();
  }

  private void finish(String last) {
    if (last.length() > emitted) sink.accept(last.substring(emitted));
    emitted = Math.max(emitted, last.length());
    stopped = true;
  }

  private int firstStop(String s) {
    int best = -1;
    for (String stop : stops) {
      int i = s.indexOf(stop, Math.max(0, emitted - stop.length()));
      if (i >= 0 && (best < 0 || i < best)) best = i;
    }
    return best;
  }

  /** Characters at the end that must wait: an unfinished character, or a possible start of a stop string. */
  private int heldBack(String s) {
    int hold = s.endsWith("\uFFFD") ? 1 : 0;
    for (String stop : stops)
      for (int k = Math.min(stop.length() - 1, s.length()); k > hold; k--)
        if (s.endsWith(stop.substring(0, k))) {
          hold = k;
          break;
        }
    return hold;
  }
}
