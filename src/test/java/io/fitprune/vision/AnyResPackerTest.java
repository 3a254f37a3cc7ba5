package io.fitprune.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.decoder.Tensors;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** pack_image_features against libtorch running the source's own tensor steps, bit for bit. */
class AnyResPackerTest {
  /** transformers' steps for one image (anyres, newline given), with unpad's slice from the test's reference. */
  static float[] torchPack(float[] features, int patches, int side, int d, float[] newline, int rows, int cols, int h,
      int w) {
    try (Tensor f = Tensors.of(features, patches, (long) side * side, d); Tensor nl = Tensors.of(newline, d)) {
      Tensor base = f.select(0, 0);
      Tensor tiles = f.narrow(0, 1, patches - 1);
      Tensor map = tiles.view(rows, cols, side, side, -1).permute(4, 0, 2, 1, 3).contiguous().flatten(1, 2).flatten(2, 3);
      int[] k = AnyResReference.keep(h, w, rows * side, cols * side);
      map = map.narrow(1, k[0], k[1] - k[0]).narrow(2, k[2], k[3] - k[2]);
      Tensor col = nl.view(d, 1, 1).expand(map.size(0), map.size(1), 1);
      TensorVector withNl = new TensorVector(map, col);
      Tensor packed = torch.cat(withNl, -1).flatten(1, 2).transpose(0, 1);
      Tensor all = torch.cat(new TensorVector(base, packed), 0);
      return Tensors.toArray(all.contiguous());
    }
  }

  @Test
  void packMatchesTheSourceStepsInLibtorch() {
    SplittableRandom r = new SplittableRandom(21);
    for (int t = 0; t < 40; t++) {
      int tile = 6 * (1 + r.nextInt(2)), side = 1 + r.nextInt(3), d = 1 + r.nextInt(5);
      GridPinpoints pins = new GridPinpoints(List.of(new GridPinpoints.Resolution(tile, 2 * tile),
          new GridPinpoints.Resolution(2 * tile, tile), new GridPinpoints.Resolution(2 * tile, 3 * tile),
          new GridPinpoints.Resolution(3 * tile, tile)));
      int h = 1 + r.nextInt(t % 4 == 0 ? 9 : 300), w = 1 + r.nextInt(t % 5 == 0 ? 9 : 300);
      AnyResGrid g = AnyResGrid.of(h, w, pins, tile, side);
      float[] feats = new float[g.patches() * g.perTile() * d], nl = new float[d];
      for (int i = 0; i < feats.length; i++) feats[i] = (float) r.nextGaussian();
      for (int i = 0; i < d; i++) nl[i] = (float) r.nextGaussian();
      float[] got = AnyResPacker.pack(feats, d, nl, g);
      assertEquals((long) g.packedRows() * d, got.length);
      assertArrayEquals(torchPack(feats, g.patches(), side, d, nl, g.rows(), g.cols(), h, w), got, h + "x" + w);
      // every map row ends in the newline
      int wRow = g.window().width() + 1;
      for (int y = 0; y < g.window().height(); y++)
        for (int c = 0; c < d; c++) assertEquals(nl[c], got[(g.perTile() + y * wRow + wRow - 1) * d + c]);
    }
  }

  /** llava-v1.6 at its real sizes: 480x640 gives the base's 576 rows and 36 rows of 48 + newline. */
  @Test
  void llavaV16SizedImage() {
    AnyResGrid g = AnyResGrid.of(480, 640, GridPinpoints.LLAVA_V16, 336, 24);
    assertEquals(576 + 36 * 49, g.packedRows());
    int d = 3;
    float[] feats = new float[g.patches() * 576 * d], nl = {0.5f, -1.25f, 2f};
    SplittableRandom r = new SplittableRandom(2);
    for (int i = 0; i < feats.length; i++) feats[i] = (float) r.nextGaussian();
    assertArrayEquals(torchPack(feats, 5, 24, d, nl, 2, 2, 480, 640), AnyResPacker.pack(feats, d, nl, g));
  }

  @Test
  void badInputsAreRefusedNamingTheArgument() {
    AnyResGrid g = AnyResGrid.of(10, 20, GridPinpoints.LLAVA_V16, 336, 2);
    float[] ok = new float[g.patches() * 4 * 2];
    for (int i = 0; i < ok.length; i++) ok[i] = i + 1;
    String m = assertThrows(IllegalArgumentException.class, () -> AnyResPacker.pack(new float[5], 2, new float[2], g))
        .getMessage();
    assertTrue(m.startsWith("features") && m.contains("[" + g.patches() + ", 4, 2]"), m);
    assertTrue(assertThrows(IllegalArgumentException.class, () -> AnyResPacker.pack(ok, 2, new float[3], g)).getMessage()
        .startsWith("image_newline"));
    float[] nan = ok.clone();
    nan[7] = Float.NaN;
    m = assertThrows(IllegalArgumentException.class, () -> AnyResPacker.pack(nan, 2, new float[2], g)).getMessage();
    assertTrue(m.contains("non-finite") && m.contains("row 3"), m);
  }
}
