package io.fitprune.decoder;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.BitSet;
import java.util.SplittableRandom;

/**
 * Chooses the next token from a row of logits: greedy (the default, the first of equal maxima), or
 * sampling with a temperature and nucleus (top-p) cut, seeded so a run repeats. The sampling rule
 * is transformers' {@code TemperatureLogitsWarper} then {@code TopPLogitsWarper}: divide by the
 * temperature, sort ascending, drop the tokens whose cumulative probability stays at or below
 * {@code 1 - topP} (the most probable token always stays), then draw from the softmax of the rest.
 * Probabilities are computed in double. With a repetition penalty (transformers'
 * {@code RepetitionPenaltyLogitsProcessor}, applied before both rules, as {@code generate} orders
 * them) every token of the prompt or already chosen has its logit divided by the penalty where
 * positive and multiplied by it where negative, in float32. Not thread-safe: one sampler per sequence.
 */
public final class Sampler {
  private final double temperature;
  private final double topP;
  private final SplittableRandom random;
  private long[] keys = new long[0];
  private final float penalty; // 1: none
  private final BitSet seen; // the tokens the penalty applies to; null without one
  private float[] penalized = new float[0];

  private Sampler(double temperature, double topP, SplittableRandom random) {
    this(temperature, topP, random, 1, null);
  }

  private Sampler(double temperature, double topP, SplittableRandom random, float penalty, BitSet seen) {
    this.temperature = temperature;
    this.topP = topP;
    this.random = random;
    this.penalty = penalty;
    this.seen = seen;
  }

  /**
   * This sampler (a fresh one: use it instead of this) with transformers' repetition penalty over
   * {@code promptIds} and every token it chooses; {@code penalty} 1 changes nothing.
   */
  public Sampler withRepetitionPenalty(double penalty, long[] promptIds) {
    if (!(penalty > 0) || !Double.isFinite(penalty))
      throw new IllegalArgumentException("repetition penalty must be a finite number > 0, got " + penalty);
    if (promptIds == null) throw new IllegalArgumentException("promptIds is null");
    BitSet s = new BitSet();
    for (long id : promptIds) {
      if (id < 0 || id >= Integer.MAX_VALUE) throw new IllegalArgumentException("promptIds: token id " + id + " out of range");
      s.set((int) id);
    }
    return new Sampler(temperature, topP, random, (float) penalty, s);
  }

  /** Always the most probable token. */
  public static Sampler greedy() {
    return new Sampler(0, 1, null);
  }

  /**
   * Sampling at {@code temperature} (&gt; 0; 1 leaves the logits as they are) from the smallest set
   * of most probable tokens whose probabilities add up to {@code topP} (in (0, 1]; 1 keeps all),
   * with a generator seeded by {@code seed}.
   */
  public static Sampler sampling(double temperature, double topP, long seed) {
    if (!(temperature > 0) || !Double.isFinite(temperature))
      throw new IllegalArgumentException("temperature must be a finite number > 0, got " + temperature
          + " (use greedy decoding for temperature 0)");
    if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
    return new Sampler(temperature, topP, new SplittableRandom(seed));
  }

  public boolean isGreedy() {
    return random == null;
  }

  /** The next token from {@code logits}, a whole vocabulary row. */
  public int next(float[] logits) {
    return next(FloatBuffer.wrap(logits), 0, logits.length);
  }

  /** The next token from the {@code count} logits at {@code offset}; refuses NaN and infinity. */
  public int next(FloatBuffer logits, int offset, int count) {
    if (count <= 0) throw new IllegalArgumentException("logits: count must be > 0, got " + count);
    if (offset < 0 || offset > logits.limit() - count)
      throw new IllegalArgumentException("logits: [" + offset + ", " + offset + " + " + count + ") is outside a buffer of "
          + logits.limit());
    if (seen != null && penalty != 1) {
      Decoder.argmax(logits, offset, count); // the finiteness check, before the penalty
      if (penalized.length < count) penalized = new float[count];
      logits.get(offset, penalized, 0, count);
      for (int id = seen.nextSetBit(0); id >= 0 && id < count; id = seen.nextSetBit(id + 1)) {
        float x = penalized[id];
        penalized[id] = x < 0 ? x * penalty : x / penalty;
      }
      logits = FloatBuffer.wrap(penalized);
      offset = 0;
    }
    int token = choose(logits, offset, count);
    if (seen != null) seen.set(token);
    return token;
  }

  private int choose(FloatBuffer logits, int offset, int count) {
    int best = Decoder.argmax(logits, offset, count); // also the finiteness check
    if (isGreedy()) return best;
    // Sort by logit through order-preserving keys: the float's bits made monotone in the high half, the index in the low.
    if (keys.length < count) keys = new long[count];
    for (int i = 0; i < count; i++) {
      int bits = Float.floatToRawIntBits(logits.get(offset + i));
      int monotone = bits >= 0 ? bits : bits ^ 0x7fffffff;
      keys[i] = ((long) monotone << 32) | i;
    }
    Arrays.sort(keys, 0, count);
    double top = logits.get(offset + best) / temperature;
    double total = 0;
    double[] p = new double[count];
    for (int j = 0; j < count; j++) {
      p[j] = Math.exp(logits.get(offset + index(j)) / temperature - top);
      total += p[j];
    }
    // Ascending: drop the prefix whose cumulative probability is <= 1 - topP, never the last (largest) token.
    int first = 0;
    if (topP < 1) {
      double cumulative = 0;
      double cut = 1 - topP;
      while (first < count - 1) {
        cumulative += p[first] / total;
        if (cumulative > cut) break;
        first++;
      }
    }
    double kept = 0;
    for (int j = first; j < count; j++) kept += p[j];
    double u = random.nextDouble() * kept;
    for (int j = count - 1; j > first; j--) { // most probable first: the walk usually ends early
      u -= p[j];
      if (u < 0) return index(j);
    }
    return index(first);
  }

  private int index(int sortedPosition) {
    return (int) keys[sortedPosition];
  }
}
