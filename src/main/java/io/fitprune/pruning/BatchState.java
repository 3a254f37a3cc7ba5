package io.fitprune.pruning;

import io.fitprune.kernels.Data;
import io.fitprune.kernels.Spans;
import java.util.Arrays;

/**
 * The pruning bookkeeping of a packed batch: one {@link SequenceState} and one {@link Pruner} per
 * sequence, with the rows of all sequences concatenated in order (sequence {@code b} holds packed
 * rows {@code [offset(b), offset(b) + length(b))}) as the kernels' batch calls take them. At each
 * layer it says how many tokens each sequence drops, which spans the score pass needs, cuts the
 * concatenated scores per sequence for its pruner, turns the per-sequence keep lists into one
 * global list, and applies it to every state and to the engine's packed row buffers at once.
 * Every sequence gets exactly the results it would get alone. No tensors of its own; not
 * thread-safe.
 */
public final class BatchState {
  private final SequenceState[] seqs;
  private final Pruner[] pruners;
  private long[] drops;     // of the layer in progress, computed once
  private int dropsLayer = -1;

  private BatchState(SequenceState[] seqs, Pruner[] pruners) {
    this.seqs = seqs;
    this.pruners = pruners;
  }

  /**
   * A batch of sequences of {@code rows[b]} tokens with spans {@code spans[b]}, positions 0..n-1
   * each, pruned by {@code pruners[b]} (null: {@link Pruner#none()}), before layer 0.
   */
  public static BatchState start(int layers, Spans[] spans, int[] rows, Pruner[] pruners) {
    if (spans == null) throw new IllegalArgumentException("spans is null");
    if (rows == null) throw new IllegalArgumentException("rows is null");
    if (rows.length != spans.length)
      throw new IllegalArgumentException("rows: expected one length per sequence (" + spans.length + "), got "
          + rows.length);
    SequenceState[] s = new SequenceState[spans.length];
    for (int b = 0; b < s.length; b++) {
      try {
        s[b] = SequenceState.start(layers, spans[b], rows[b]);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("sequence " + b + ": " + e.getMessage(), e);
      }
    }
    return of(s, pruners);
  }

  /**
   * A batch over existing states (for example with M-RoPE position ids), all at the same layer and
   * with the same position components; the batch takes them over, so change them only through it.
   */
  public static BatchState of(SequenceState[] states, Pruner[] pruners) {
    if (states == null) throw new IllegalArgumentException("states is null");
    if (pruners == null) throw new IllegalArgumentException("pruners is null (use Pruner.none() for unpruned sequences)");
    if (states.length == 0) throw new IllegalArgumentException("states: a batch needs at least one sequence");
    if (pruners.length != states.length)
      throw new IllegalArgumentException("pruners: expected one per sequence (" + states.length + "), got "
          + pruners.length);
    SequenceState[] s = states.clone();
    Pruner[] p = pruners.clone();
    long total = 0;
    for (int b = 0; b < s.length; b++) {
      if (s[b] == null) throw new IllegalArgumentException("states[" + b + "] is null");
      if (p[b] == null) p[b] = Pruner.none();
      if (p[b].layers() >= 0 && p[b].layers() != s[b].layers())
        throw new IllegalArgumentException("pruners[" + b + "]: " + p[b].layers() + " per-layer counts for a model of "
            + s[b].layers() + " layers");
      if (s[b].layers() != s[0].layers() || s[b].layersDone() != s[0].layersDone())
        throw new IllegalArgumentException("states[" + b + "]: at layer " + s[b].layersDone() + " of " + s[b].layers()
            + ", but states[0] is at layer " + s[0].layersDone() + " of " + s[0].layers());
      if (s[b].positionComponents() != s[0].positionComponents())
        throw new IllegalArgumentException("states[" + b + "]: " + s[b].positionComponents()
            + " position components, but states[0] has " + s[0].positionComponents());
      for (int c = 0; c < b; c++)
        if (s[c] == s[b]) throw new IllegalArgumentException("states[" + c + "] and states[" + b + "] are the same state");
      total += s[b].rows();
    }
    if (total > Integer.MAX_VALUE)
      throw new IllegalArgumentException("states: " + total + " rows in all, more than a Java array holds");
    return new BatchState(s, p);
  }

  // ---------------------------------------------------------------- reading

  /** Sequences in the batch. */
  public int size() {
    return seqs.length;
  }

  /** Sequence {@code b}'s state (read it; change it only through this batch). */
  public SequenceState sequence(int b) {
    return seqs[index(b)];
  }

  public Pruner pruner(int b) {
    return pruners[index(b)];
  }

  public int layers() {
    return seqs[0].layers();
  }

  /** Layers applied so far; the next {@link #apply} is for this layer. */
  public int layersDone() {
    return seqs[0].layersDone();
  }

  /** Rows alive now, all sequences together. */
  public int rows() {
    int n = 0;
    for (SequenceState s : seqs) n += s.rows();
    return n;
  }

  /** Rows alive now per sequence (for {@code Batch.ofLengths}). */
  public long[] lengths() {
    long[] n = new long[seqs.length];
    for (int b = 0; b < n.length; b++) n[b] = seqs[b].rows();
    return n;
  }

  /** The packed row where sequence {@code b} starts now. */
  public int offset(int b) {
    int at = 0;
    for (int i = 0; i < index(b); i++) at += seqs[i].rows();
    return at;
  }

  /** Where each sequence's visual rows are now, within the sequence. */
  public Spans[] spans() {
    Spans[] s = new Spans[seqs.length];
    for (int b = 0; b < s.length; b++) s[b] = seqs[b].spans();
    return s;
  }

  /** Position ids of all rows alive now, packed, {@code [rows][components]} row-major. */
  public int[] positions() {
    int c = seqs[0].positionComponents();
    int[] pos = new int[rows() * c];
    int at = 0;
    for (SequenceState s : seqs) {
      int[] p = s.positions();
      System.arraycopy(p, 0, pos, at, p.length);
      at += p.length;
    }
    return pos;
  }

  /** K/V rows of layer {@code l} per sequence (for the decode attention's lengths). */
  public long[] kvLengths(int l) {
    long[] n = new long[seqs.length];
    for (int b = 0; b < n.length; b++) n[b] = seqs[b].kvLength(l);
    return n;
  }

  // ---------------------------------------------------------------- this layer's pruning

  /** Visual tokens each sequence drops at the next layer, as its pruner says (which may refuse a sequence). */
  public long[] drops() {
    requireLayerLeft();
    if (dropsLayer != layersDone()) {
      long[] d = new long[seqs.length];
      for (int b = 0; b < d.length; b++) {
        long k;
        try {
          k = pruners[b].count(seqs[b]);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("sequence " + b + ": " + e.getMessage(), e);
        }
        if (k < 0 || k > seqs[b].visual())
          throw new IllegalStateException(pruners[b].name() + " asked sequence " + b + " to drop " + k + " of "
              + seqs[b].visual() + " alive visual tokens");
        d[b] = k;
      }
      drops = d;
      dropsLayer = layersDone();
    }
    return drops.clone();
  }

  /** Whether any sequence drops tokens at the next layer. */
  public boolean prunes() {
    for (long d : drops()) if (d > 0) return true;
    return false;
  }

  /** Whether the next layer needs the score pass: a sequence drops tokens and its pruner reads scores. */
  public boolean needsScores() {
    long[] d = drops();
    for (int b = 0; b < d.length; b++) if (scored(b, d)) return true;
    return false;
  }

  /**
   * The spans to give the score pass: a sequence's own where it needs scores, and its prefix with
   * no visual tokens elsewhere (so its rows cost nothing there). The pass's {@code self} and
   * {@code cross} are then these visual counts concatenated in sequence order.
   */
  public Spans[] scoreSpans() {
    long[] d = drops();
    Spans[] s = new Spans[seqs.length];
    for (int b = 0; b < s.length; b++) s[b] = scored(b, d) ? seqs[b].spans() : new Spans(seqs[b].prefix(), 0);
    return s;
  }

  /**
   * The packed rows to keep at the next layer, ascending (global indices into the current packed
   * rows), from the score pass over {@link #scoreSpans} ({@code self}, {@code cross}: null when
   * {@link #needsScores} is false); null when no sequence drops anything. Each sequence's pruner
   * chooses its own rows from its own slice of the scores.
   */
  public int[] keep(float[] self, float[] cross) {
    long[] d = drops();
    int scoredVisual = 0;
    for (int b = 0; b < d.length; b++) if (scored(b, d)) scoredVisual += seqs[b].visual();
    if (needsScores()) {
      requireLength("self", self, scoredVisual);
      requireLength("cross", cross, scoredVisual);
    }
    if (!prunes()) return null;
    int kept = 0;
    int[][] local = new int[seqs.length][];
    for (int b = 0, v0 = 0; b < seqs.length; b++) {
      SequenceState s = seqs[b];
      if (d[b] == 0) {
        kept += s.rows();
        continue;
      }
      float[] sb = null, cb = null;
      if (scored(b, d)) {
        sb = Arrays.copyOfRange(self, v0, v0 + s.visual());
        cb = Arrays.copyOfRange(cross, v0, v0 + s.visual());
        v0 += s.visual();
      }
      try {
        local[b] = pruners[b].keep(s, sb, cb, d[b]);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("sequence " + b + ": " + e.getMessage(), e);
      }
      if (local[b] == null || local[b].length != s.rows() - d[b])
        throw new IllegalStateException(pruners[b].name() + " kept " + (local[b] == null ? "null" : local[b].length)
            + " rows of sequence " + b + ", expected " + (s.rows() - d[b]));
      kept += local[b].length;
    }
    int[] global = new int[kept];
    for (int b = 0, at = 0, start = 0; b < seqs.length; b++) {
      int n = seqs[b].rows();
      if (local[b] == null) for (int r = 0; r < n; r++) global[at++] = start + r;
      else for (int r : local[b]) global[at++] = start + r;
      start += n;
    }
    return global;
  }

  // ---------------------------------------------------------------- changing

  /**
   * Records layer {@code layer} for every sequence and keeps the packed rows {@code keep} (strictly
   * ascending global indices; null keeps all), here and in each packed buffer, compacted in place
   * by one gather. Each sequence's part of the list must keep all its prefix and text rows.
   * Everything is checked before anything changes.
   */
  public void apply(int layer, int[] keep, RowBuffer... buffers) {
    requireLayerLeft();
    if (layer != layersDone())
      throw new IllegalStateException("layer " + layer + ": the batch is at layer " + layersDone()
          + " (layers are applied in order)");
    if (buffers == null) throw new IllegalArgumentException("buffers is null");
    int total = rows();
    int[][] local = keep == null ? new int[seqs.length][] : split(keep, total);
    for (int b = 0; b < seqs.length; b++) {
      if (local[b] == null) continue;
      try {
        seqs[b].checkKeep(local[b]);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("sequence " + b + ": " + e.getMessage(), e);
      }
    }
    for (int b = 0; b < buffers.length; b++) {
      if (buffers[b] == null) throw new IllegalArgumentException("row buffer " + b + " is null");
      buffers[b].check(b, total);
    }
    for (int b = 0; b < seqs.length; b++) seqs[b].apply(layer, local[b]);
    if (keep != null && keep.length != total && buffers.length > 0) {
      try (Data idx = Data.of(keep)) {
        for (RowBuffer buf : buffers) buf.compact(total, idx);
      }
    }
  }

  /** Splits a global keep list into each sequence's local rows; throws unless strictly ascending within [0, total). */
  private int[][] split(int[] keep, int total) {
    int prev = -1;
    for (int r : keep) {
      if (r <= prev || r >= total)
        throw new IllegalArgumentException("keep: packed rows must be strictly ascending in [0, " + total + "), got "
            + Arrays.toString(Arrays.copyOf(keep, Math.min(keep.length, 20))) + (keep.length > 20 ? "..." : ""));
      prev = r;
    }
    int[][] local = new int[seqs.length][];
    for (int b = 0, i = 0, start = 0; b < seqs.length; b++) {
      int end = start + seqs[b].rows(), from = i;
      while (i < keep.length && keep[i] < end) i++;
      local[b] = new int[i - from];
      for (int j = from; j < i; j++) local[b][j - from] = keep[j] - start;
      start = end;
    }
    return local;
  }

  /**
   * Records one decoded token per sequence, appended to every layer's K/V; returns the tokens'
   * position ids packed, {@code [sequences][components]}.
   */
  public int[] appendToken() {
    for (SequenceState s : seqs) {
      if (s.layersDone() != s.layers())
        throw new IllegalStateException("decode: prefill has not finished (" + s.layersDone() + " of " + s.layers()
            + " layers applied)");
      if (s.nextPosition() == Integer.MAX_VALUE) throw new IllegalStateException("decode: position ids exhausted");
    }
    int c = seqs[0].positionComponents();
    int[] pos = new int[seqs.length * c];
    for (int b = 0; b < seqs.length; b++) System.arraycopy(seqs[b].appendToken(), 0, pos, b * c, c);
    return pos;
  }

  private boolean scored(int b, long[] d) {
    return d[b] > 0 && pruners[b].needsScores();
  }

  private void requireLayerLeft() {
    if (layersDone() >= layers())
      throw new IllegalStateException("all " + layers() + " layers were already applied");
  }

  private int index(int b) {
    if (b < 0 || b >= seqs.length)
      throw new IllegalArgumentException("sequence must be in [0, " + seqs.length + "), got " + b);
    return b;
  }

  private static void requireLength(String name, float[] scores, int visual) {
    if (scores == null)
      throw new IllegalArgumentException(name + " is null; the score pass over scoreSpans() gives [" + visual + "]");
    if (scores.length != visual)
      throw new IllegalArgumentException(name + ": expected [" + visual + "] (visual tokens of scoreSpans(), "
          + "concatenated), got [" + scores.length + "]");
  }
}
