package io.fitprune.kernels;

import java.util.Objects;

/**
 * The geometry of an attention call over a packed {@link Batch}: q {@code [N,H,d]}, k and v
 * {@code [N,G,d]}, output {@code [N,H,d]}, LSE {@code [H,N]}, N the batch's rows; each sequence
 * causal on its own. Logits are {@code q.k * softmaxScale} in every call that takes the shape
 * (prefill attention and scores, fused or not, cached-prefix prefill, decode attention); the
 * four-argument constructor takes the usual {@code 1/sqrt(d)}, as {@link AttentionShape} does.
 */
public record BatchShape(Batch batch, int heads, int kvHeads, int headDim, float softmaxScale) {
  public BatchShape {
    Objects.requireNonNull(batch, "batch");
    whole(batch, heads, kvHeads, headDim, softmaxScale); // validates the heads, head dimension and scale
  }

  /** The shape with the default scale {@code 1/sqrt(headDim)}. */
  public BatchShape(Batch batch, int heads, int kvHeads, int headDim) {
    this(batch, heads, kvHeads, headDim, defaultScale(headDim));
  }

  /** {@link AttentionShape#defaultScale}: {@code 1/sqrt(d)} in float, as the native kernels compute it. */
  public static float defaultScale(int headDim) {
    return AttentionShape.defaultScale(headDim);
  }

  /** This shape with another softmax scale. */
  public BatchShape withSoftmaxScale(float scale) {
    return new BatchShape(batch, heads, kvHeads, headDim, scale);
  }

  /** One sequence: the packed form of {@code shape}, with its scale. */
  public static BatchShape of(AttentionShape shape) {
    return new BatchShape(Batch.single(shape.tokens()), shape.heads(), shape.kvHeads(), shape.headDim(),
        shape.softmaxScale());
  }

  /** The shape of the packed tensors, as one {@link AttentionShape} of N rows (with this scale). */
  public AttentionShape packed() {
    return whole(batch, heads, kvHeads, headDim, softmaxScale);
  }

  /** The shape of sequence b alone (with this scale). */
  public AttentionShape sequence(int b) {
    return new AttentionShape(batch.length(b), heads, kvHeads, headDim, softmaxScale);
  }

  private static AttentionShape whole(Batch batch, int heads, int kvHeads, int headDim, float softmaxScale) {
    return new AttentionShape(batch.tokens(), heads, kvHeads, headDim, softmaxScale);
  }
}
