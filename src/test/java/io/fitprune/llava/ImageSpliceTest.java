package io.fitprune.llava;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.decoder.Tensors;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

/** The splice against a float64 reference written here: lookup rows for text, the features (in the table's type) for the image. */
class ImageSpliceTest {
  static final int VOCAB = 37, D = 13;

  static float[] random(SplittableRandom r, int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * 3);
    return x;
  }

  /** bf16 by round-to-nearest-even on the float's bits, written independently of libtorch. */
  static double bf16(float x) {
    int b = Float.floatToRawIntBits(x);
    b += 0x7fff + ((b >>> 16) & 1);
    return Float.intBitsToFloat(b & 0xffff0000);
  }

  /** The reference: every row in double, from the table (as given) or the features (rounded as the table's type). */
  static double[] reference(long[] ids, long imageToken, float[] table, float[] features, boolean bf16Table) {
    double[] out = new double[ids.length * D];
    int k = 0;
    for (int i = 0; i < ids.length; i++)
      for (int d = 0; d < D; d++) {
        if (ids[i] == imageToken) out[i * D + d] = bf16Table ? bf16(features[k * D + d]) : features[k * D + d];
        else out[i * D + d] = bf16Table ? bf16(table[(int) ids[i] * D + d]) : table[(int) ids[i] * D + d];
        if (d == D - 1 && ids[i] == imageToken) k++;
      }
    return out;
  }

  static void check(long[] ids, long imageToken, boolean bf16, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] table = random(r, VOCAB * D);
    int images = 0;
    for (long id : ids) if (id == imageToken) images++;
    float[] features = random(r, images * D);
    try (Tensor t32 = Tensors.of(table, VOCAB, D); Tensor t = bf16 ? t32.to(torch.ScalarType.BFloat16) : t32.clone()) {
      float[] got = ImageSplice.embeds(ids, imageToken, t, features);
      double[] want = reference(ids, imageToken, table, features, bf16);
      assertEquals(want.length, got.length);
      for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 0.0, "element " + i);
    }
  }

  static long[] prompt(SplittableRandom r, int prefix, int visual, int text, long imageToken) {
    long[] ids = new long[prefix + visual + text];
    for (int i = 0; i < ids.length; i++) ids[i] = i >= prefix && i < prefix + visual ? imageToken : r.nextInt(VOCAB - 1);
    return ids;
  }

  @Test
  void textRowsAreLookupsAndImageRowsAreTheFeaturesInOrder() {
    SplittableRandom r = new SplittableRandom(3);
    long img = VOCAB - 1; // inside the vocabulary, as llava-tiny's
    check(prompt(r, 5, 11, 7, img), img, false, 1);
    check(prompt(r, 0, 3, 0, img), img, false, 2);     // nothing but the image
    check(new long[] {img}, img, false, 3);            // n = 1
    check(prompt(r, 4, 0, 9, img), img, false, 4);     // text only
    check(new long[] {7}, img, false, 5);
  }

  @Test
  void anImageTokenPastTheVocabularyIsLookedUpAsZeroThenOverwritten() {
    SplittableRandom r = new SplittableRandom(5);
    check(prompt(r, 3, 9, 4, VOCAB + 100), VOCAB + 100, false, 6);
  }

  @Test
  void aBf16TableGetsItsFeaturesRoundedToBf16AsMaskedScatterCastsThem() {
    SplittableRandom r = new SplittableRandom(7);
    check(prompt(r, 6, 17, 5, VOCAB - 1), VOCAB - 1, true, 8);
  }

  @Test
  void badArgumentsAreRefusedByName() {
    try (Tensor t = Tensors.of(new float[VOCAB * D], VOCAB, D)) {
      long img = VOCAB - 1;
      String m = assertThrows(IllegalArgumentException.class,
          () -> ImageSplice.embeds(new long[] {1, img, img, 2}, img, t, new float[D])).getMessage();
      assertTrue(m.contains("features") && m.contains("2 image tokens"), m);
      m = assertThrows(IllegalArgumentException.class,
          () -> ImageSplice.embeds(new long[] {1, VOCAB + 5}, img, t, new float[0])).getMessage();
      assertTrue(m.contains("ids[1]"), m);
      m = assertThrows(IllegalArgumentException.class, () -> ImageSplice.embeds(new long[0], img, t, new float[0])).getMessage();
      assertTrue(m.contains("ids"), m);
    }
  }
}
