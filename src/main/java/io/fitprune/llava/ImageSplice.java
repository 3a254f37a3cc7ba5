package io.fitprune.llava;

import io.fitprune.decoder.Temps;
import io.fitprune.decoder.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * The language model's input as transformers' {@code LlavaModel.forward} builds it: the embedding
 * lookup of the ids (image tokens looked up as id 0, since the image token may lie past the text
 * vocabulary), then the image features, cast to the embedding table's type, written over the
 * image-token rows in order ({@code masked_scatter}). The cast is why a BF16 model's image rows
 * are its features rounded to bf16; an F32 table keeps them exact.
 */
public final class ImageSplice {
  private ImageSplice() {}

  /**
   * @param ids        token ids {@code [n]}
   * @param imageToken the config's {@code image_token_index}
   * @param table      the embedding table {@code [vocab, D]} (F32, BF16 or F16)
   * @param features   image features {@code [k, D]} flat, one row per image token of {@code ids}
   * @return the embeddings {@code [n, D]} flat, float32
   */
  public static float[] embeds(long[] ids, long imageToken, Tensor table, float[] features) {
    if (ids == null || ids.length == 0) throw new IllegalArgumentException("ids: need at least one token");
    if (table == null || table.dim() != 2)
      throw new IllegalArgumentException("table: need the embedding table [vocab, D]");
    long vocab = table.size(0);
    int D = Math.toIntExact(table.size(1));
    long[] lookup = ids.clone();
    int images = 0;
    for (int i = 0; i < ids.length; i++) {
      if (ids[i] == imageToken) {
        lookup[i] = 0;
        images++;
      } else if (ids[i] < 0 || ids[i] >= vocab) {
        throw new IllegalArgumentException("ids[" + i + "] = " + ids[i] + " is outside the embedding table's [0, " + vocab + ")");
      }
    }
    if (features == null || features.length != (long) images * D)
      throw new IllegalArgumentException("features: the ids hold " + images + " image tokens, so need [" + images + ", " + D
          + "] = " + (long) images * D + " floats, got " + (features == null ? "null" : features.length));
    if ((long) ids.length * D > Integer.MAX_VALUE - 8)
      throw new IllegalArgumentException("ids: " + ids.length + " tokens x D=" + D + " is more than one array holds");
    float[] out;
    float[] rows;
    try (Temps tp = new Temps()) {
      Tensor idx = tp.add(torch.tensor(lookup));
      out = Tensors.toArray(tp.add(torch.index_select(table, 0, idx)));
      if (images == 0) return out;
      Tensor f = tp.add(Tensors.of(features, images, D));
      rows = Tensors.is(table, torch.ScalarType.Float) ? features : Tensors.toArray(tp.add(f.to(table.scalar_type())));
    }
    int k = 0;
    for (int i = 0; i < ids.length; i++)
      if (ids[i] == imageToken) System.arraycopy(rows, D * k++, out, D * i, D);
    return out;
  }
}
