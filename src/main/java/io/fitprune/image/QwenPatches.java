package io.fitprune.image;

/**
 * The patch flattening of Qwen2-VL's processor for one image: the normalized channels-first image,
 * repeated to {@code T} frames, reshaped to {@code (1, T, C, gh/M, M, P, gw/M, M, P)}, transposed
 * by {@code (0, 3, 6, 4, 7, 2, 1, 5, 8)} and flattened to {@code [gh * gw, C * T * P * P]}, written
 * here straight from the 8-bit pixels through the rescale-normalize table, without the intermediate
 * arrays.
 */
final class QwenPatches {
  private QwenPatches() {}

  /** {@code image}'s sides must be multiples of {@code patch * merge} (the caller checks, naming the file). */
  static float[] flatten(RgbImage image, float[][] lut, int patch, int temporal, int merge) {
    int w = image.width(), gh = image.height() / patch, gw = w / patch;
    int dim = 3 * temporal * patch * patch, plane = patch * patch;
    byte[] rgb = image.rgb();
    float[] out = new float[Math.toIntExact((long) gh * gw * dim)];
    int o = 0;
    for (int bh = 0; bh < gh / merge; bh++)
      for (int bw = 0; bw < gw / merge; bw++)
        for (int mh = 0; mh < merge; mh++)
          for (int mw = 0; mw < merge; mw++) {
            int y0 = (bh * merge + mh) * patch, x0 = (bw * merge + mw) * patch;
            for (int c = 0; c < 3; c++) {
              float[] l = lut[c];
              int first = o;
              for (int py = 0; py < patch; py++) {
                int s = ((y0 + py) * w + x0) * 3 + c;
                for (int px = 0; px < patch; px++, s += 3) out[o++] = l[rgb[s] & 0xFF];
              }
              // the repeated frames of a still image are the same patch again
              for (int t = 1; t < temporal; t++, o += plane) System.arraycopy(out, first, out, o, plane);
            }
          }
    return out;
  }
}
