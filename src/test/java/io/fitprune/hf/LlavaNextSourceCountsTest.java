package io.fitprune.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.fitprune.vision.AnyResGrid;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A second reading of transformers' LLaVA-NeXT counts (huggingface/transformers at 063b32f6 for
 * processing_llava_next.py, 3571987 for modeling_llava_next.py), written here without the classes
 * under test: the processor's {@code _get_number_of_features} minus one under the {@code default}
 * strategy (with llava-hf's {@code num_additional_image_tokens} 1, its crop size and patch size),
 * and the model's side, {@code image_size_to_num_patches} counted by its range loops and
 * {@code unpad_image} on the grid's shape, plus the newline column and the base tile. Both must
 * equal {@link LlavaNextConfig#imageTokens} and the grid's packed rows on odd sizes, thin images,
 * aspect ties and pinpoint lists with ties and duplicates.
 */
class LlavaNextSourceCountsTest {
  /** image_processing_utils.select_best_resolution, line by line (one transcription for the tests). */
  static int[] selectBest(int h, int w, int[][] pins) {
    return io.fitprune.llava.LlavaNextPipelineTest.best(h, w, pins);
  }

  /**
   * CPython's {@code int(round(x, 7))}: the double rounded to 7 decimals (correctly, ties to even),
   * that decimal read back as the nearest double, then truncated.
   */
  static int pyInt7(double x) {
    String decimal = new BigDecimal(x).setScale(7, RoundingMode.HALF_EVEN).toPlainString();
    return (int) Double.parseDouble(decimal);
  }

  /** {@code _get_unpadded_features}: {@code {unpadded, newline}}. */
  static long[] unpaddedFeatures(int height, int width, int patchesH, int patchesW, int scaleH, int scaleW) {
    long curH = (long) patchesH * scaleH, curW = (long) patchesW * scaleW;
    double original = (double) width / height, current = (double) curW / curH;
    if (original > current) {
      int newH = pyInt7(height * ((double) curW / width));
      long pad = Math.floorDiv(curH - newH, 2);
      curH -= pad * 2;
    } else {
      int newW = pyInt7(width * ((double) curH / height));
      long pad = Math.floorDiv(curW - newW, 2);
      curW -= pad * 2;
    }
    return new long[] {curH * curW, curH};
  }

  /** LlavaNextProcessor: {@code _get_number_of_features(...) - 1} (strategy {@code default}). */
  static long processorTokens(int origH, int origW, int crop, int patch, int[][] pins) {
    int[] best = selectBest(origH, origW, pins);
    int scaleH = best[0] / crop, scaleW = best[1] / crop;
    int patchesH = crop / patch, patchesW = crop / patch;
    long[] u = unpaddedFeatures(origH, origW, patchesH, patchesW, scaleH, scaleW);
    long base = (long) patchesH * patchesW + 1;
    return u[0] + u[1] + base - 1;
  }

  /** The model: {@code image_size_to_num_patches} by its loops. */
  static int modelPatches(int h, int w, int[][] pins, int imageSize) {
    int[] best = selectBest(h, w, pins);
    int n = 0;
    for (int i = 0; i < best[0]; i += imageSize)
      for (int j = 0; j < best[1]; j += imageSize) n++;
    return n + 1;
  }

  /** The model's packed rows: unpad_image on the {@code [rows*side, cols*side]} map, a newline column, the base tile. */
  static long modelRows(int h, int w, int[][] pins, int imageSize, int patch) {
    int[] best = selectBest(h, w, pins);
    int side = imageSize / patch, rows = best[0] / imageSize, cols = best[1] / imageSize;
    int curH = rows * side, curW = cols * side;
    double original = (double) w / h, current = (double) curW / curH;
    int keptH = curH, keptW = curW;
    if (original > current) {
      int pad = Math.floorDiv(curH - pyInt7(h * ((double) curW / w)), 2);
      keptH = curH - 2 * pad; // tensor[:, pad : curH - pad, :]
    } else {
      int pad = Math.floorDiv(curW - pyInt7(w * ((double) curH / h)), 2);
      keptW = curW - 2 * pad;
    }
    return (long) keptH * (keptW + 1) + (long) side * side;
  }

  static LlavaNextConfig config(int[][] pins, int imageSize, int patch) {
    StringBuilder p = new StringBuilder("[");
    for (int i = 0; i < pins.length; i++) p.append(i > 0 ? "," : "").append("[").append(pins[i][0]).append(",")
        .append(pins[i][1]).append("]");
    String json = "{\"model_type\": \"llava_next\", \"image_grid_pinpoints\": " + p + "], \"vision_config\": "
        + "{\"image_size\": " + imageSize + ", \"patch_size\": " + patch + ", \"hidden_size\": 4, "
        + "\"num_attention_heads\": 1, \"num_hidden_layers\": 2}, \"text_config\": {\"hidden_size\": 8, "
        + "\"num_attention_heads\": 2}}";
    return LlavaNextConfig.parse(json.getBytes(StandardCharsets.UTF_8), "test/config.json");
  }

  static void check(LlavaNextConfig c, int[][] pins, int imageSize, int patch, int h, int w) {
    String what = h + "x" + w + " on " + java.util.Arrays.deepToString(pins);
    long want = processorTokens(h, w, imageSize, patch, pins);
    assertEquals(want, modelRows(h, w, pins, imageSize, patch), "processor and model disagree: " + what);
    assertEquals(want, c.imageTokens(h, w), what);
    AnyResGrid g = c.grid(h, w);
    assertEquals(want, g.packedRows(), what);
    assertEquals(modelPatches(h, w, pins, imageSize), g.patches(), what);
    int[] best = selectBest(h, w, pins);
    assertEquals(best[0], g.canvas().height(), what);
    assertEquals(best[1], g.canvas().width(), what);
  }

  /** Sizes that probe the branches: squares, each pinpoint's own aspect and its neighbours, thin strips. */
  static List<int[]> edgeSizes(int[][] pins) {
    List<int[]> out = new ArrayList<>();
    for (int s : new int[] {1, 2, 3, 7, 336, 337, 1000}) out.add(new int[] {s, s});
    for (int[] p : pins)
      for (int k : new int[] {1, 2, 3, 5}) {
        int a = p[0] * k / 7 + 1, b = p[1] * k / 7 + 1; // near the pinpoint's aspect, off by the +1
        out.add(new int[] {p[0] * k, p[1] * k});
        out.add(new int[] {a, b});
        out.add(new int[] {p[0] * k + 1, p[1] * k});
        out.add(new int[] {p[0] * k, p[1] * k + 1});
      }
    for (int n : new int[] {1, 2, 9, 4999}) {
      out.add(new int[] {1, n});
      out.add(new int[] {n, 1});
    }
    return out;
  }

  @Test
  void llavaV16CountsFollowTheProcessorAndTheModel() throws Exception {
    int[][] pins = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};
    LlavaNextConfig c = LlavaNextConfig.bundled("llava-v1.6-vicuna-7b");
    // 672 x 672 fills the 2x2 canvas: 48 rows of 48 + newline, and the base tile's 576
    assertEquals(576 + 48 * 49, c.imageTokens(672, 672));
    assertEquals(576 + 48 * 49, c.nominalTokens());
    for (int[] hw : edgeSizes(pins)) check(c, pins, 336, 14, hw[0], hw[1]);
    SplittableRandom r = new SplittableRandom(20261207);
    for (int t = 0; t < 20000; t++) check(c, pins, 336, 14, 1 + r.nextInt(4000), 1 + r.nextInt(4000));
  }

  @Test
  void otherPinpointListsAndTowers() {
    SplittableRandom r = new SplittableRandom(7);
    List<int[][]> lists = new ArrayList<>();
    lists.add(new int[][] {{336, 336}});
    lists.add(new int[][] {{672, 336}, {336, 672}}); // equal areas: the list's order decides ties
    lists.add(new int[][] {{336, 672}, {336, 672}, {672, 672}}); // a duplicate
    List<int[]> grid = new ArrayList<>(); // anyres_max style: every 1..6 x 1..6 canvas
    for (int i = 1; i <= 6; i++)
      for (int j = 1; j <= 6; j++) grid.add(new int[] {384 * i, 384 * j});
    lists.add(grid.toArray(new int[0][]));
    for (int[][] pins : lists) {
      int tile = pins[0][0] % 384 == 0 ? 384 : 336, patch = tile == 384 ? 16 : 14;
      LlavaNextConfig c = config(pins, tile, patch);
      for (int[] hw : edgeSizes(pins)) check(c, pins, tile, patch, hw[0], hw[1]);
      for (int t = 0; t < 3000; t++) check(c, pins, tile, patch, 1 + r.nextInt(3000), 1 + r.nextInt(3000));
    }
    for (int k = 0; k < 40; k++) { // small towers with odd sides and random canvases
      int patch = 1 + r.nextInt(7), side = 1 + r.nextInt(9), tile = patch * side;
      int[][] pins = new int[1 + r.nextInt(6)][];
      for (int i = 0; i < pins.length; i++) pins[i] = new int[] {tile * (1 + r.nextInt(5)), tile * (1 + r.nextInt(5))};
      LlavaNextConfig c = config(pins, tile, patch);
      for (int t = 0; t < 300; t++) check(c, pins, tile, patch, 1 + r.nextInt(500), 1 + r.nextInt(500));
    }
  }
}
