package io.fitprune.testutil;

/**
 * transformers' {@code get_rope_index} for still images, written from its loop in
 * {@code modeling_qwen2_vl.py} independently of {@code pruning.RopeIndex}: text tokens count on from
 * one past the largest id before them (t = h = w); an image's merged {@code h x w} grid starts at
 * that next id {@code s} and its row-major rows get {@code (s, s + row, s + col)}.
 */
public final class RopeIndexReference {
  private RopeIndexReference() {}

  /** Ids {@code [3][n]} of {@code ids} whose runs of {@code imageToken} are the images of {@code grids} ({t, h, w} in patches), in order. */
  public static long[][] of(long[] ids, long imageToken, int[][] grids, int merge) {
    int n = ids.length, image = 0, i = 0;
    long[][] pos = new long[3][n];
    long next = 0;
    while (i < n) {
      if (ids[i] == imageToken) {
        int[] g = grids[image++];
        if (g[0] != 1) throw new IllegalArgumentException("still images only");
        int gh = g[1] / merge, gw = g[2] / merge;
        long s = next, max = s;
        for (int r = 0; r < gh; r++)
          for (int c = 0; c < gw; c++, i++) {
            pos[0][i] = s;
            pos[1][i] = s + r;
            pos[2][i] = s + c;
            max = Math.max(max, Math.max(s + r, s + c));
          }
        next = max + 1;
      } else {
        pos[0][i] = pos[1][i] = pos[2][i] = next++;
        i++;
      }
    }
    return pos;
  }
}
