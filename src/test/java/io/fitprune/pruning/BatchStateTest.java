package io.fitprune.pruning;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A packed batch through {@link BatchState} gives every sequence exactly what it gets alone
 * through {@link SequenceState} and its {@link Pruner}, with the kernels' attention and scores on
 * both sides: a ragged batch with an image-free sequence, one-token sequences, an unpruned one, a
 * random pruner (no scores) and a text-free image under {@link NoTextPolicy#SELF_ONLY}.
 */
class BatchStateTest {
  static final int L = 4, H = 4, G = 2, D = 8, W = 3; // W: width of the test's row buffer

  record Seq(Spans spans, int rows, Pruner pruner) {}

  static Seq[] batch() {
    return new Seq[] {
        new Seq(new Spans(3, 17), 3 + 17 + 5, Pruner.fitprune(new int[] {5, 0, 4, 3}, 17)),
        new Seq(new Spans(0, 0), 4, Pruner.fitprune(new int[] {5, 0, 4, 3}, 17)),   // text only: unpruned
        new Seq(new Spans(1, 0), 1, null),                                          // n = 1
        new Seq(new Spans(2, 6), 2 + 6 + 3, Pruner.random(new int[] {1, 0, 2, 0}, 6, 7)),
        new Seq(new Spans(0, 9), 9, Pruner.fitprune(new int[] {2, 2, 0, 1}, 9, VisualCountPolicy.REFUSE,
            NoTextPolicy.SELF_ONLY, "self-only")),                                  // no text after the image
        new Seq(new Spans(0, 0), 1, Pruner.none()),                                 // n = 1, nothing at all
        new Seq(new Spans(2, 11), 2 + 11 + 1, Pruner.fitprune(new int[] {0, 3, 3, 0}, 11)),
    };
  }

  /** The row of q (or k, v) that original token {@code orig} of sequence {@code b} has at layer l: fixed by those alone. */
  static float[] row(long what, int b, int l, int orig, int width) {
    SplittableRandom r = new SplittableRandom(what * 1_000_003L + b * 10_007L + l * 101L + orig);
    float[] x = new float[width];
    for (int i = 0; i < width; i++) x[i] = (float) (r.nextGaussian() * 1.5);
    return x;
  }

  static float[] rows(long what, int b, int l, int[] orig, int width) {
    float[] x = new float[orig.length * width];
    for (int i = 0; i < orig.length; i++) System.arraycopy(row(what, b, l, orig[i], width), 0, x, i * width, width);
    return x;
  }

  /** One sequence alone: returns its final state and its row buffer. */
  static Object[] alone(Seq q, int b) {
    Pruner p = q.pruner() == null ? Pruner.none() : q.pruner();
    SequenceState s = SequenceState.start(L, q.spans(), q.rows());
    float[] buf = rows(9, b, 0, s.originalIndices(), W);
    for (int l = 0; l < L; l++) {
      int[] o = s.originalIndices();
      AttentionShape shape = new AttentionShape(s.rows(), H, G, D);
      float[] qq = rows(1, b, l, o, H * D), kk = rows(2, b, l, o, G * D), vv = rows(3, b, l, o, G * D);
      Kernels.AttentionOutput a = Kernels.attention(shape, qq, kk, vv);
      long drop = p.count(s);
      int[] keep = null;
      if (drop > 0) {
        Kernels.Scores sc = p.needsScores() ? Kernels.scores(shape, s.spans(), qq, kk, a.lse()) : null;
        keep = p.keep(s, sc == null ? null : sc.self(), sc == null ? null : sc.cross(), drop);
      }
      s.apply(l, keep, RowBuffer.of(buf, W));
    }
    return new Object[] {s, Arrays.copyOf(buf, s.rows() * W)};
  }

  @Test
  void aRaggedBatchGivesEverySequenceWhatItGetsAlone() {
    Seq[] seqs = batch();
    int B = seqs.length;
    Spans[] spans = new Spans[B];
    int[] n = new int[B];
    Pruner[] pruners = new Pruner[B];
    for (int b = 0; b < B; b++) {
      spans[b] = seqs[b].spans();
      n[b] = seqs[b].rows();
      pruners[b] = seqs[b].pruner();
    }
    BatchState batch = BatchState.start(L, spans, n, pruners);
    float[] buf = new float[batch.rows() * W];
    for (int b = 0; b < B; b++) {
      float[] mine = rows(9, b, 0, batch.sequence(b).originalIndices(), W);
      System.arraycopy(mine, 0, buf, batch.offset(b) * W, mine.length);
    }
    boolean scored = false;
    for (int l = 0; l < L; l++) {
      BatchShape shape = new BatchShape(Batch.ofLengths(batch.lengths()), H, G, D);
      float[] q = new float[batch.rows() * H * D], k = new float[batch.rows() * G * D], v = new float[k.length];
      for (int b = 0; b < B; b++) {
        int[] o = batch.sequence(b).originalIndices();
        int at = batch.offset(b);
        System.arraycopy(rows(1, b, l, o, H * D), 0, q, at * H * D, o.length * H * D);
        System.arraycopy(rows(2, b, l, o, G * D), 0, k, at * G * D, o.length * G * D);
        System.arraycopy(rows(3, b, l, o, G * D), 0, v, at * G * D, o.length * G * D);
      }
      Kernels.AttentionOutput a = Kernels.attention(shape, q, k, v);
      int[] keep = null;
      if (batch.prunes()) {
        Kernels.Scores s = batch.needsScores() ? Kernels.scores(shape, batch.scoreSpans(), q, k, a.lse()) : null;
        scored |= s != null;
        keep = batch.keep(s == null ? null : s.self(), s == null ? null : s.cross());
      }
      batch.apply(l, keep, RowBuffer.of(buf, W));
    }
    assertTrue(scored);
    for (int b = 0; b < B; b++) {
      Object[] ref = alone(seqs[b], b);
      SequenceState want = (SequenceState) ref[0], got = batch.sequence(b);
      assertArrayEquals(want.originalIndices(), got.originalIndices(), "sequence " + b + " survivors");
      assertArrayEquals(want.positions(), got.positions(), "sequence " + b + " positions");
      assertArrayEquals(want.kvLengths(), got.kvLengths(), "sequence " + b + " K/V lengths");
      assertArrayEquals(want.visualAfter(), got.visualAfter(), "sequence " + b + " visual after each layer");
      float[] mine = Arrays.copyOfRange(buf, batch.offset(b) * W, (batch.offset(b) + got.rows()) * W);
      assertArrayEquals((float[]) ref[1], mine, "sequence " + b + " row buffer, bit for bit");
    }
    assertArrayEquals(new int[] {17 - 5, 17 - 5, 17 - 9, 17 - 12}, batch.sequence(0).visualAfter());
    assertArrayEquals(new int[] {0, 0, 0, 0}, batch.sequence(1).visualAfter(), "a text-only request runs unpruned");
    assertArrayEquals(new int[] {7, 5, 5, 4}, batch.sequence(4).visualAfter(), "self-only ranks a text-free image");
    assertArrayEquals(new long[] {25, 20, 20, 16}, batch.sequence(0).kvLengths());

    int[] pos = batch.appendToken();
    assertEquals(B, pos.length);
    assertEquals(25, pos[0]);
    assertEquals(1, pos[2]);
    assertArrayEquals(new long[] {26, 5, 2, 12, 10, 2, 15}, batch.kvLengths(0));
  }

  @Test
  void imageWithoutTextIsRefusedNamingTheCauseAndTheWayOut() {
    Pruner p = Pruner.fitprune(new int[] {2, 0}, 5);
    SequenceState alone = SequenceState.start(2, new Spans(1, 5), 6); // text span 0
    String m = assertThrows(IllegalArgumentException.class, () -> p.count(alone)).getMessage();
    assertTrue(m.contains("no text follows the image") && m.contains("NoTextPolicy.SELF_ONLY")
        && m.contains("--no-text-policy self-only"), m);

    BatchState batch = BatchState.start(2, new Spans[] {new Spans(1, 5), new Spans(1, 5)}, new int[] {8, 6},
        new Pruner[] {p, p});
    m = assertThrows(IllegalArgumentException.class, batch::drops).getMessage();
    assertTrue(m.startsWith("sequence 1: no text follows the image"), m);

    // text present but its attention to the image is zero everywhere (underflow): refused at selection
    SequenceState withText = SequenceState.start(2, new Spans(1, 5), 8);
    assertEquals(2, p.count(withText));
    float[] self = {0.3f, 0.1f, 0.2f, 0.5f, 0.4f};
    m = assertThrows(IllegalArgumentException.class, () -> p.keep(withText, self, new float[5], 2)).getMessage();
    assertTrue(m.contains("cross scores all zero") && m.contains("NoTextPolicy.SELF_ONLY"), m);
    Pruner selfOnly = Pruner.fitprune(new int[] {2, 0}, 5, VisualCountPolicy.REFUSE, NoTextPolicy.SELF_ONLY, "s");
    assertArrayEquals(new int[] {0, 1, 4, 5, 6, 7}, selfOnly.keep(withText, self, new float[5], 2),
        "self-only drops the two lowest self scores");
    assertArrayEquals(new int[] {0, 1, 4, 5}, selfOnly.keep(alone, self, new float[5], 2));
  }

  @Test
  void aBadKeepListChangesNothing() {
    BatchState batch = BatchState.start(2, new Spans[] {new Spans(1, 3), new Spans(0, 2)}, new int[] {5, 3},
        new Pruner[] {Pruner.none(), null});
    float[] buf = new float[8];
    for (int i = 0; i < buf.length; i++) buf[i] = i + 0.5f;
    float[] before = buf.clone();
    // drops row 4 of sequence 0, its text row
    String m = assertThrows(IllegalArgumentException.class,
        () -> batch.apply(0, new int[] {0, 1, 2, 3, 5, 6, 7}, RowBuffer.of(buf, 1))).getMessage();
    assertTrue(m.startsWith("sequence 0: keep: only visual tokens may be dropped"), m);
    m = assertThrows(IllegalArgumentException.class, () -> batch.apply(0, new int[] {0, 2, 1}, RowBuffer.of(buf, 1)))
        .getMessage();
    assertTrue(m.contains("strictly ascending"), m);
    m = assertThrows(IllegalArgumentException.class, () -> batch.apply(0, null, RowBuffer.of(new float[7], 1)))
        .getMessage();
    assertTrue(m.contains("row buffer 0"), m);
    assertThrows(IllegalStateException.class, () -> batch.apply(1, null));
    assertArrayEquals(before, buf);
    assertEquals(0, batch.layersDone());
    // a valid one: drop visual row 1 of sequence 0 and row 1 of sequence 1 (global 6)
    batch.apply(0, new int[] {0, 2, 3, 4, 5, 7}, RowBuffer.of(buf, 1));
    assertArrayEquals(new float[] {0.5f, 2.5f, 3.5f, 4.5f, 5.5f, 7.5f}, Arrays.copyOf(buf, 6));
    assertArrayEquals(new long[] {4, 2}, batch.lengths());
    assertArrayEquals(new int[] {0, 2, 3, 4, 0, 2}, batch.positions());
  }

  @Test
  void argumentsAreChecked() {
    Spans[] one = {new Spans(0, 2)};
    assertTrue(assertThrows(IllegalArgumentException.class, () -> BatchState.start(2, one, new int[] {2, 3},
        new Pruner[1])).getMessage().contains("one length per sequence"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> BatchState.start(2, one, new int[] {1},
        new Pruner[1])).getMessage().startsWith("sequence 0:"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> BatchState.start(2, one, new int[] {3},
        new Pruner[] {Pruner.fitprune(new int[] {1, 1, 0}, 2)})).getMessage().contains("3 per-layer counts"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> BatchState.start(2, new Spans[0], new int[0],
        new Pruner[0])).getMessage().contains("at least one"));
    BatchState b = BatchState.start(2, one, new int[] {3}, new Pruner[] {Pruner.fitprune(new int[] {1, 0}, 2)});
    assertTrue(b.needsScores());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.keep(new float[2], null)).getMessage()
        .contains("cross is null"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> b.keep(new float[3], new float[3])).getMessage()
        .contains("expected [2]"));
    assertThrows(IllegalStateException.class, b::appendToken);
  }
}
