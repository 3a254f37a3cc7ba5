package io.fitprune.vision;

import io.fitprune.decoder.Dense;
import io.fitprune.decoder.Temps;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * transformers' {@code CLIPVisionEmbeddings} at the trained image size: the patch convolution
 * ({@code Conv2d(C, D, kernel = stride = patch, bias=False)}) as one matrix product over the
 * unfolded patches, the class embedding prepended, the position embeddings added.
 *
 * @param patch [D, C*p*p], the convolution's weight {@code [D, C, p, p]} viewed as a matrix, in its stored type
 * @param cls   [D] float32, {@code class_embedding}
 * @param pos   [positions, D] float32, {@code position_embedding.weight}
 */
record ClipEmbeddings(Tensor patch, Tensor cls, Tensor pos) {
  /**
   * {@code pixels [B, C, S, S]} float32 to a new float32 tensor {@code [B, 1 + (S/p)^2, D]}: row 0
   * of each image is the class embedding, row {@code 1 + y*(S/p) + x} the patch at (y, x), as
   * transformers' {@code flatten(2).transpose(1, 2)} orders them. The patch product runs in the
   * dense layers' type ({@link Dense}: bf16 for BF16 weights), the sums in float32.
   */
  Tensor apply(Tensor pixels, ClipVisionConfig c) {
    long b = pixels.size(0), ch = c.channels(), p = c.patchSize(), g = c.patchesPerSide(), d = c.hiddenSize();
    try (Temps tp = new Temps()) {
      Tensor grid = tp.add(tp.add(pixels.view(b, ch, g, p, g, p)).permute(0, 2, 4, 1, 3, 5)); // [B, gy, gx, C, ky, kx]
      Tensor rows = tp.add(grid.reshape(b * g * g, ch * p * p));
      Tensor e = tp.add(Dense.linear(rows, patch, null));
      Tensor out = torch.empty(b, g * g + 1, d);
      tp.add(out.narrow(1, 0, 1)).copy_(tp.add(cls.view(1, 1, d)));
      tp.add(out.narrow(1, 1, g * g)).copy_(tp.add(e.view(b, g * g, d)));
      out.add_(tp.add(pos.view(1, g * g + 1, d)));
      return out;
    }
  }
}
