package io.fitprune.kernels;

import java.util.Objects;

/**
 * The geometry of an attention call over a packed {@link Batch}: q {@code [N,H,d]}, k and v
 * {@code [N,G,d]}, output {@code [N,H,d]}, LSE {@code [H,N]}, N the batch's rows; each sequence
 * causal on its own. Logits are {@code q.k * softmaxScale}; the four-argument constructor takes
 * the usual {@code 1/sqrt(d)} (the scale applies to decode attention, contiguous and paged).
 */
public record BatchShape(Batch batch, int heads, int kvHeads, int headDim, float softmaxScale) {
  public BatchShape {
    Objects.requireNonNull(batch, "batch");
    whole(batch, heads, kvHeads, headDim); // validates the heads and head dimension
    if (!(softmaxScale > 0) || Float.isInfinite(softmaxScale))
      throw new IllegalArgumentException("softmaxScale must be finite and > 0, got " + softmaxScale);
  }

  /** The shape with the default scale {@code 1/sqrt(headDim)}. */
  public BatchShape(Batch batch, int heads, int kvHeads, int headDim) {
    this(batch, heads, kvHeads, headDim, defaultScale(headDim));
  }

  /** {@code 1/sqrt(d)} in float, as the native kernels compute it (so it selects their default). */
  public static float defaultScale(int headDim) {
    return headDim > 0 ? 1f / (float) Math.sqrt(headDim) : 1f;
  }

  /** This shape with another softmax scale. */
  public BatchShape withSoftmaxScale(float scale) {
    return new BatchShape(batch, heads, kvHeads, headDim, scale);
  }

  /** One sequence: the packed form of {@code shape}. */
  public static BatchShape of(AttentionShape shape) {
    return new BatchShape(Batch.single(shape.tokens()), shape.heads(), shape.kvHeads(), shape.headDim());
  }

  /** The shape of the packed tensors, as one {@link AttentionShape} of N rows. */
  public AttentionShape packed() {
    return whole(batch, heads, kvHeads, headDim);
  }

  /** The shape of sequence b alone. */
  public AttentionShape sequence(int b) {
    return new AttentionShape(batch.length(b), heads, kvHeads, headDim);
  }

  private static AttentionShape whole(Batch batch, int heads, int kvHeads, int headDim) {
    return new AttentionShape(batch.tokens(), heads, kvHeads, headDim);
  }
}
