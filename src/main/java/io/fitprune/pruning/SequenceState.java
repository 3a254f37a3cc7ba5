package io.fitprune.pruning;

import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.Spans;
import java.util.Arrays;
import org.bytedeco.javacpp.IntPointer;

/**
 * One sequence's token-pruning bookkeeping as it goes through a decoder's layers, with no tensors
 * of its own: which original tokens survive, their position ids, the spans after each layer, each
 * layer's K/V length and the position of the next decoded token. An engine keeps one per sequence
 * and calls {@link #apply} once per layer with the layer's keep list (or null) and the row buffers
 * it holds for that sequence; the reference decoder does the same.
 *
 * <p>Rows are the sequence's current tokens in order: {@code prefix} rows, the alive visual rows,
 * then text. Only visual rows are ever dropped, so the prefix and text stay whole and survivors
 * keep their original order and position ids. The layer that prunes has already attended over all
 * the rows it saw, so its K/V length is the row count before pruning; later layers see only
 * survivors. Decoding appends one token to every layer's K/V at {@link #nextPosition}.
 *
 * <p>Position ids have 1 component per row, or 3 (temporal, height, width) as Qwen2-VL's M-RoPE
 * uses; they are stored row-major ({@code [rows][components]}). Not thread-safe.
 */
public final class SequenceState {
  private final int layers;
  private final int prefix;
  private final int originalVisual;
  private final int originalRows;
  private final int components;
  private int rows;
  private int visual;
  private int[] original;   // original index of each row
  private int[] positions;  // [rows * components]
  private final int[] visualAfter;
  private final long[] kvLength;
  private int layer;        // next layer to apply
  private int nextPosition;

  private SequenceState(int layers, Spans spans, int rows, int components, int[] positions, int nextPosition) {
    this.layers = layers;
    this.prefix = (int) spans.prefix();
    this.originalVisual = (int) spans.visual();
    this.originalRows = rows;
    this.components = components;
    this.rows = rows;
    this.visual = originalVisual;
    this.original = new int[rows];
    for (int i = 0; i < rows; i++) original[i] = i;
    this.positions = positions;
    this.visualAfter = new int[layers];
    this.kvLength = new long[layers];
    this.nextPosition = nextPosition;
  }

  /**
   * A sequence of {@code rows} tokens at positions 0, 1, ..., rows - 1 (one component), before
   * layer 0. Both factories take the layer count, then the spans, then what fixes the rows.
   */
  public static SequenceState start(int layers, Spans spans, int rows) {
    checkShape(layers, rows, spans);
    int[] pos = new int[rows];
    for (int i = 0; i < rows; i++) pos[i] = i;
    return new SequenceState(layers, spans, rows, 1, pos, rows);
  }

  /**
   * A sequence with explicit position ids, {@code components} (1 or 3) per row, row-major: row i
   * has {@code positions[i*components .. (i+1)*components)}. The next decoded token's position is
   * one past the largest id (as Qwen2-VL continues after an image).
   */
  public static SequenceState start(int layers, Spans spans, int components, int[] positions) {
    if (components != 1 && components != 3)
      throw new IllegalArgumentException("components must be 1 (RoPE) or 3 (M-RoPE), got " + components);
    if (positions == null) throw new IllegalArgumentException("positions is null");
    if (positions.length % components != 0)
      throw new IllegalArgumentException("positions: length " + positions.length + " is not a multiple of "
          + components + " components");
    int rows = positions.length / components;
    checkShape(layers, rows, spans);
    int max = -1;
    for (int i = 0; i < positions.length; i++) {
      if (positions[i] < 0 || positions[i] == Integer.MAX_VALUE)
        throw new IllegalArgumentException("positions: id " + positions[i] + " at row " + i / components
            + " is outside [0, 2^31 - 1)");
      max = Math.max(max, positions[i]);
    }
    return new SequenceState(layers, spans, rows, components, positions.clone(), max + 1);
  }

  private static void checkShape(int layers, int rows, Spans spans) {
    if (layers < 1) throw new IllegalArgumentException("layers must be >= 1, got " + layers);
    if (rows < 1) throw new IllegalArgumentException("rows: need at least one token, got " + rows);
    if (spans == null) throw new IllegalArgumentException("spans is null");
    spans.requireWithin(rows); // overflow-safe: each term against rows
  }

  // ---------------------------------------------------------------- reading

  public int layers() {
    return layers;
  }

  /** Tokens alive now. */
  public int rows() {
    return rows;
  }

  /** Visual tokens alive now. */
  public int visual() {
    return visual;
  }

  /** Visual tokens the sequence started with (what a recipe's counts are compared with). */
  public int originalVisual() {
    return originalVisual;
  }

  /** Tokens the sequence started with. */
  public int originalRows() {
    return originalRows;
  }

  public int prefix() {
    return prefix;
  }

  public int text() {
    return rows - prefix - visual;
  }

  /** Where the visual rows are now. */
  public Spans spans() {
    return new Spans(prefix, visual);
  }

  /** Layers applied so far; the next {@link #apply} is for this layer. */
  public int layersDone() {
    return layer;
  }

  /** Original index of every row alive now, ascending. */
  public int[] originalIndices() {
    return original.clone();
  }

  /** Original indices of the visual tokens alive now, ascending. */
  public int[] visualIds() {
    return Arrays.copyOfRange(original, prefix, prefix + visual);
  }

  /** Position-id components per row (1, or 3 for M-RoPE). */
  public int positionComponents() {
    return components;
  }

  /** Position ids of the rows alive now, {@code [rows][components]} row-major. */
  public int[] positions() {
    return positions.clone();
  }

  /** Spans after layer {@code l} pruned (a layer already applied). */
  public Spans spansAfter(int l) {
    if (l < 0 || l >= layer)
      throw new IllegalArgumentException("layer must be in [0, " + layer + ") (layers applied), got " + l);
    return new Spans(prefix, visualAfter[l]);
  }

  /** Visual tokens alive after each layer applied so far. */
  public int[] visualAfter() {
    return Arrays.copyOf(visualAfter, layer);
  }

  /** K/V rows of layer {@code l} (0 before the layer ran); long, as the kernels take K/V lengths. */
  public long kvLength(int l) {
    if (l < 0 || l >= layers) throw new IllegalArgumentException("layer must be in [0, " + layers + "), got " + l);
    return kvLength[l];
  }

  /** K/V rows of every layer (0 for layers not run yet). */
  public long[] kvLengths() {
    return kvLength.clone();
  }

  /** Position id of the next decoded token (all components equal it). */
  public int nextPosition() {
    return nextPosition;
  }

  // ---------------------------------------------------------------- changing

  /** As {@link #apply(int, int[], RowBuffer...)} with no row buffers. */
  public void apply(int layer, int[] keep) {
    apply(layer, keep, new RowBuffer[0]);
  }

  /**
   * Records layer {@code layer} (the next one: layers go in order): its K/V length is the rows it
   * saw; then keeps rows {@code keep} (strictly ascending indices into the current rows, every
   * prefix and text row among them; null keeps all) here and in each buffer, compacted in place by
   * the kernels' gather. Everything is checked before anything changes.
   */
  public void apply(int layer, int[] keep, RowBuffer... buffers) {
    if (this.layer >= layers)
      throw new IllegalStateException("layer " + layer + ": all " + layers + " layers were already applied");
    if (layer != this.layer)
      throw new IllegalStateException("layer " + layer + ": the sequence is at layer " + this.layer
          + " (layers are applied in order)");
    if (buffers == null) throw new IllegalArgumentException("buffers is null");
    boolean prunes = keep != null && keep.length != rows;
    if (keep != null) checkKeep(keep);
    for (int b = 0; b < buffers.length; b++) {
      if (buffers[b] == null) throw new IllegalArgumentException("row buffer " + b + " is null");
      buffers[b].check(b, rows);
    }
    kvLength[layer] = rows;
    if (prunes) {
      if (buffers.length > 0) {
        try (Data idx = Data.allocate(ElementType.INT32, keep.length)) { // copied once for every buffer
          ((IntPointer) idx.pointer()).put(keep);
          for (RowBuffer buf : buffers) buf.compact(rows, idx);
        }
      }
      int m = keep.length;
      int[] orig = new int[m], pos = new int[m * components];
      for (int i = 0; i < m; i++) {
        orig[i] = original[keep[i]];
        System.arraycopy(positions, keep[i] * components, pos, i * components, components);
      }
      visual -= rows - m;
      rows = m;
      original = orig;
      positions = pos;
    }
    visualAfter[layer] = visual;
    this.layer++;
  }

  /** Throws unless {@code keep} lists strictly ascending current rows that include every prefix and text row. */
  void checkKeep(int[] keep) {
    int prev = -1, vis = 0;
    for (int r : keep) {
      if (r <= prev || r >= rows)
        throw new IllegalArgumentException("keep: rows must be strictly ascending in [0, " + rows + "), got "
            + Arrays.toString(Arrays.copyOf(keep, Math.min(keep.length, 20))) + (keep.length > 20 ? "..." : ""));
      prev = r;
      if (r >= prefix && r < prefix + visual) vis++;
    }
    if (keep.length - vis != rows - visual)
      throw new IllegalArgumentException("keep: only visual tokens may be dropped (" + (rows - visual)
          + " prefix and text rows, " + (keep.length - vis) + " kept)");
  }

  /**
   * The keep list that drops the visual tokens at positions {@code drop[0..count)} of the alive
   * visual list (0 = the first alive visual token), distinct, in any order.
   */
  public int[] keepDropping(int[] drop, int count) {
    if (drop == null) throw new IllegalArgumentException("drop is null");
    if (count < 0 || count > drop.length || count > visual)
      throw new IllegalArgumentException("count must be in [0, min(drop.length=" + drop.length + ", alive visual="
          + visual + ")], got " + count);
    boolean[] dropped = new boolean[visual];
    for (int i = 0; i < count; i++) {
      int p = drop[i];
      if (p < 0 || p >= visual || dropped[p])
        throw new IllegalArgumentException("drop: position " + p + " is not a distinct alive visual token (0.."
            + (visual - 1) + ")");
      dropped[p] = true;
    }
    int[] keep = new int[rows - count];
    int w = 0;
    for (int r = 0; r < rows; r++) {
      int vi = r - prefix;
      if (vi >= 0 && vi < visual && dropped[vi]) continue;
      keep[w++] = r;
    }
    return keep;
  }

  /**
   * Records one decoded token appended to every layer's K/V (all layers applied first); returns its
   * position ids, {@link #positionComponents} of them (all equal: with M-RoPE a text token's
   * temporal, height and width ids agree), and the next token's are one more.
   */
  public int[] appendToken() {
    if (layer != layers)
      throw new IllegalStateException("decode: prefill has not finished (" + layer + " of " + layers + " layers applied)");
    if (nextPosition == Integer.MAX_VALUE) throw new IllegalStateException("decode: position ids exhausted");
    for (int l = 0; l < layers; l++) kvLength[l]++;
    int[] ids = new int[components];
    Arrays.fill(ids, nextPosition++);
    return ids;
  }

  /** An independent copy (for example to fork a sequence). */
  public SequenceState copy() {
    SequenceState c = new SequenceState(layers, new Spans(prefix, originalVisual), originalRows, components,
        positions.clone(), nextPosition);
    c.rows = rows;
    c.visual = visual;
    c.original = original.clone();
    System.arraycopy(visualAfter, 0, c.visualAfter, 0, layers);
    System.arraycopy(kvLength, 0, c.kvLength, 0, layers);
    c.layer = layer;
    return c;
  }
}
