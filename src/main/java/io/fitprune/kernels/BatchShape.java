package io.fitprune.kernels;

import java.util.Objects;

/**
 * The geometry of an attention call over a packed {@link Batch}: q {@code [N,H,d]}, k and v
 * {@code [N,G,d]}, output {@code [N,H,d]}, LSE {@code [H,N]}, N the batch's rows; each sequence
 * causal on its own.
 */
public record BatchShape(Batch batch, int heads, int kvHeads, int headDim) {
  public BatchShape {
    Objects.requireNonNull(batch, "batch");
    whole(batch, heads, kvHeads, headDim); // validates the heads and head dimension
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
