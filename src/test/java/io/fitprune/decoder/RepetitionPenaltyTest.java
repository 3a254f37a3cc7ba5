package io.fitprune.decoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Sampler#withRepetitionPenalty} against transformers' {@code RepetitionPenaltyLogitsProcessor}
 * (generation/logits_process.py): the scores of every id in {@code input_ids} (the prompt and the
 * tokens generated so far) are gathered, multiplied by the penalty where negative and divided by it
 * otherwise, in the scores' float32, and scattered back before the warpers run.
 */
class RepetitionPenaltyTest {

  /** The processor on one row, written out: the ids' scores penalized once each, whatever their count. */
  static float[] penalize(float[] scores, List<Integer> inputIds, double penalty) {
    float[] out = scores.clone();
    float p = (float) penalty;
    java.util.Set<Integer> ids = new java.util.HashSet<>(inputIds);
    for (int id : ids) out[id] = scores[id] < 0 ? scores[id] * p : scores[id] / p;
    return out;
  }

  static int firstMax(float[] z) {
    int best = 0;
    for (int i = 1; i < z.length; i++) if (z[i] > z[best]) best = i;
    return best;
  }

  static float[] gaussian(SplittableRandom r, int n) {
    float[] z = new float[n];
    for (int i = 0; i < n; i++) z[i] = (float) (r.nextGaussian() * 2);
    return z;
  }

  @Test
  void greedyChoosesTheArgmaxOfThePenalizedScoresOverPromptAndAnswer() {
    SplittableRandom r = new SplittableRandom(20261207);
    for (int trial = 0; trial < 200; trial++) {
      int vocab = 1 + r.nextInt(41), promptLength = r.nextInt(9);
      double penalty = trial % 2 == 0 ? 1 + 2 * r.nextDouble() : 0.2 + 0.8 * r.nextDouble(); // < 1 rewards repeats
      long[] prompt = new long[promptLength];
      List<Integer> history = new ArrayList<>();
      for (int i = 0; i < promptLength; i++) history.add((int) (prompt[i] = r.nextInt(vocab))); // repeats too
      Sampler s = Sampler.greedy().withRepetitionPenalty(penalty, prompt);
      for (int step = 0; step < 7; step++) {
        float[] z = gaussian(r, vocab);
        int want = firstMax(penalize(z, history, penalty));
        float[] given = z.clone();
        assertEquals(want, s.next(given), "trial " + trial + " step " + step);
        assertArrayEquals(z, given, "the caller's logits are left as they were");
        history.add(want);
      }
    }
  }

  @Test
  void handWorkedFlipsOnPositiveAndNegativeScores() {
    // 2.0 / 1.05 = 1.905 still beats 1.9; 2.0 / 1.1 = 1.818 does not
    float[] z = {0.1f, -1f, 0.3f, 2.0f, 0.2f, 1.9f};
    assertEquals(3, Sampler.greedy().withRepetitionPenalty(1.05, new long[] {3, 3}).next(z.clone()));
    assertEquals(5, Sampler.greedy().withRepetitionPenalty(1.1, new long[] {3}).next(z.clone()));
    // negative scores are multiplied: -0.5 * 1.05 = -0.525 falls below -0.52
    float[] neg = {-3f, -2f, -0.5f, -4f, -0.52f};
    assertEquals(2, Sampler.greedy().next(neg.clone()));
    assertEquals(4, Sampler.greedy().withRepetitionPenalty(1.05, new long[] {2}).next(neg.clone()));
    // a chosen token is penalized from the next step on: equal scores, then the other one
    Sampler s = Sampler.greedy().withRepetitionPenalty(2, new long[0]);
    float[] tie = {1f, 1f, -5f};
    assertEquals(0, s.next(tie.clone()));
    assertEquals(1, s.next(tie.clone()));
    assertEquals(0, Sampler.greedy().withRepetitionPenalty(2, new long[] {1}).next(tie.clone()));
    // one token in the vocabulary, and a penalty of 1, change nothing
    assertEquals(0, Sampler.greedy().withRepetitionPenalty(3, new long[] {0}).next(new float[] {-0.25f}));
    float[] any = {0.5f, 0.7f, 0.6f};
    assertEquals(1, Sampler.greedy().withRepetitionPenalty(1, new long[] {1}).next(any));
  }

  @Test
  void samplingDrawsFromThePenalizedScores() {
    SplittableRandom r = new SplittableRandom(5);
    for (int trial = 0; trial < 50; trial++) {
      int vocab = 2 + r.nextInt(30);
      double t = 0.3 + r.nextDouble(), topP = 0.5 + 0.5 * r.nextDouble(), penalty = 1 + r.nextDouble();
      long seed = r.nextLong();
      long[] prompt = {r.nextInt(vocab), r.nextInt(vocab), r.nextInt(vocab)};
      List<Integer> history = new ArrayList<>();
      for (long id : prompt) history.add((int) id);
      Sampler got = Sampler.sampling(t, topP, seed).withRepetitionPenalty(penalty, prompt);
      Sampler onPenalized = Sampler.sampling(t, topP, seed); // the same draws over the reference's scores
      for (int step = 0; step < 12; step++) {
        float[] z = gaussian(r, vocab);
        int want = onPenalized.next(penalize(z, history, penalty));
        assertEquals(want, got.next(z), "trial " + trial + " step " + step);
        history.add(want);
      }
    }
  }

  @Test
  void badPenaltiesAndNonFiniteScoresAreRefused() {
    for (double bad : new double[] {0, -1.05, Double.NaN, Double.POSITIVE_INFINITY}) {
      String m = assertThrows(IllegalArgumentException.class, () -> Sampler.greedy().withRepetitionPenalty(bad, new long[0]))
          .getMessage();
      assertTrue(m.contains("repetition penalty") && m.contains("> 0"), m);
    }
    assertThrows(IllegalArgumentException.class, () -> Sampler.greedy().withRepetitionPenalty(1.05, null));
    assertThrows(IllegalArgumentException.class, () -> Sampler.greedy().withRepetitionPenalty(1.05, new long[] {-1}));
    Sampler s = Sampler.greedy().withRepetitionPenalty(1.05, new long[] {1});
    assertThrows(IllegalStateException.class, () -> s.next(new float[] {0.5f, Float.NaN}));
    assertThrows(IllegalStateException.class, () -> s.next(new float[] {Float.POSITIVE_INFINITY, 0.5f}));
  }
}
