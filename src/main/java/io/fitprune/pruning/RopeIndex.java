package io.fitprune.pruning;

import java.util.Arrays;

/**
 * Qwen2-VL's 3-D rotary position ids for one sequence, as transformers' {@code get_rope_index}
 * computes them (Qwen2-VL and Qwen2.5-VL agree for images): text rows get equal t, h and w ids
 * counting on from the largest id before them; the rows of an image's merged {@code t x h x w}
 * grid get {@code start + (t, h, w)} in row-major order, {@code start} being one past the largest
 * id before the image. Decoding continues at {@link #nextPosition} (transformers' position plus
 * {@code rope_deltas}); a pruned row keeps its ids ({@link SequenceState#start(int,
 * io.fitprune.kernels.Spans, int, int[])} takes {@link #rowMajor()}).
 *
 * @param positions    {@code [3][n]}: temporal, height and width ids of every row (copies are handed out)
 * @param nextPosition the largest id + 1: the position of the first decoded token
 */
public record RopeIndex(int[][] positions, int nextPosition) {

  public RopeIndex {
    if (positions == null || positions.length != 3)
      throw new IllegalArgumentException("positions: expected [3][n]");
    positions = new int[][] {positions[0].clone(), positions[1].clone(), positions[2].clone()};
  }

  @Override
  public int[][] positions() {
    return new int[][] {positions[0].clone(), positions[1].clone(), positions[2].clone()};
  }

  /** Rows. */
  public int length() {
    return positions[0].length;
  }

  /** transformers' {@code rope_deltas}: {@code nextPosition - length}, what decode positions are offset by. */
  public int delta() {
    return nextPosition - length();
  }

  /** The ids as {@code [n][3]} row-major, the layout {@link SequenceState} keeps. */
  public int[] rowMajor() {
    int n = length();
    int[] out = new int[3 * n];
    for (int i = 0; i < n; i++)
      for (int c = 0; c < 3; c++) out[3 * i + c] = positions[c][i];
    return out;
  }

  /**
   * The position ids of {@code inputIds} holding images whose patch grids (before merging) are
   * {@code imageGrids[k] = {t, h, w}} in order, as the processor's {@code image_grid_thw}. An image
   * is a {@code visionStartTokenId} followed by its run of {@code t*h*w / spatialMergeSize^2}
   * {@code imageTokenId}s. Refused with a one-line error: grids that do not match the images
   * (count, run length, h or w not a multiple of the merge size, t other than 1), and video.
   */
  public static RopeIndex of(int[] inputIds, int[][] imageGrids, int spatialMergeSize, int imageTokenId,
      int videoTokenId, int visionStartTokenId) {
    if (inputIds == null || inputIds.length == 0) throw new IllegalArgumentException("input_ids: need at least one token");
    if (spatialMergeSize < 1) throw new IllegalArgumentException("spatial_merge_size must be >= 1, got " + spatialMergeSize);
    int[][] grids = imageGrids == null ? new int[0][] : imageGrids;
    int n = inputIds.length, images = 0;
    for (int i = 0; i < n; i++) {
      if (inputIds[i] != visionStartTokenId) continue;
      if (i + 1 == n) throw new IllegalArgumentException("input_ids: the vision start token " + visionStartTokenId
          + " is the last token (no image follows it)");
      if (inputIds[i + 1] == videoTokenId)
        throw new IllegalArgumentException("input_ids: a video (token " + videoTokenId + " at " + (i + 1)
            + "); only images are supported");
      if (inputIds[i + 1] == imageTokenId) images++;
    }
    if (images != grids.length)
      throw new IllegalArgumentException("image grids: " + grids.length + " given, but input_ids hold " + images
          + " images (vision start token " + visionStartTokenId + " followed by image token " + imageTokenId + ")");
    int[][] pos = new int[3][n];
    long next = 0; // one past the largest id so far
    int st = 0;
    for (int k = 0; k < images; k++) {
      int[] g = grids[k];
      if (g == null || g.length != 3 || g[0] < 1 || g[1] < 1 || g[2] < 1)
        throw new IllegalArgumentException("image grids[" + k + "]: expected {t, h, w} >= 1, got " + Arrays.toString(g));
      if (g[0] != 1)
        throw new IllegalArgumentException("image grids[" + k + "]: t = " + g[0] + "; an image has t = 1 (video grids are not supported)");
      if (g[1] % spatialMergeSize != 0 || g[2] % spatialMergeSize != 0)
        throw new IllegalArgumentException("image grids[" + k + "]: h = " + g[1] + " and w = " + g[2]
            + " must be multiples of spatial_merge_size " + spatialMergeSize);
      int h = g[1] / spatialMergeSize, w = g[2] / spatialMergeSize;
      int ed = st;
      while (ed < n && inputIds[ed] != imageTokenId) ed++;
      long rows = (long) h * w;
      if (ed == n || rows > n - ed)
        throw new IllegalArgumentException("image grids[" + k + "]: " + Arrays.toString(g) + " needs " + rows
            + " image tokens, but input_ids have " + (ed == n ? 0 : n - ed) + " tokens left from position " + ed);
      for (int i = ed; i < ed + rows; i++)
        if (inputIds[i] != imageTokenId)
          throw new IllegalArgumentException("image grids[" + k + "]: " + Arrays.toString(g) + " needs " + rows
              + " image tokens from position " + ed + ", but position " + i + " holds token " + inputIds[i]);
      for (int i = st; i < ed; i++) next = text(pos, i, next);
      long start = next;
      for (int r = 0; r < rows; r++) { // t = 1: the temporal id is start for every row
        int at = ed + r;
        pos[0][at] = id(start);
        pos[1][at] = id(start + r / w);
        pos[2][at] = id(start + r % w);
      }
      next = start + Math.max(h, w); // the block's largest id + 1
      st = ed + (int) rows;
    }
    for (int i = st; i < n; i++) next = text(pos, i, next);
    return new RopeIndex(pos, id(next));
  }

  /** Row i as text at {@code next}; returns the id after it. */
  private static long text(int[][] pos, int i, long next) {
    int p = id(next);
    pos[0][i] = pos[1][i] = pos[2][i] = p;
    return next + 1;
  }

  private static int id(long p) {
    if (p >= Integer.MAX_VALUE) throw new IllegalArgumentException("position ids past 2^31 - 2");
    return (int) p;
  }
}
