package io.fitprune.decoder;

import io.fitprune.io.Checkpoint;
import io.fitprune.io.DType;
import io.fitprune.io.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * Tensors read out of a checkpoint as libtorch tensors over the memory-mapped bytes, each checked
 * for presence, shape and dtype (F32, BF16 or F16) with an error naming it; remembers which names
 * it handed out, and the mappings the tensors point into.
 */
public final class CheckpointTensors {
  private final Checkpoint ck;
  private final List<Object> keep = new ArrayList<>();
  private final Set<String> used = new HashSet<>();

  public CheckpointTensors(Checkpoint ck) {
    if (ck == null) throw new IllegalArgumentException("checkpoint is null");
    this.ck = ck;
  }

  public Checkpoint checkpoint() {
    return ck;
  }

  /** Whether the checkpoint holds a tensor of this name. */
  public boolean has(String name) {
    return ck.tensors().containsKey(name);
  }

  /** Whether {@code name} was handed out. */
  public boolean used(String name) {
    return used.contains(name);
  }

  /** Memory the tensors point into (mapped files): keep it reachable for the tensors' lifetime. */
  public List<Object> keepAlive() {
    return keep;
  }

  private TensorInfo info(String name, long... shape) {
    TensorInfo t = ck.tensors().get(name);
    if (t == null) throw new IllegalArgumentException("weights: " + ck.path() + " has no tensor '" + name + "'");
    if (!Arrays.equals(t.shape(), shape))
      throw new IllegalArgumentException("weights: tensor '" + name + "' must have shape " + Arrays.toString(shape)
          + " for this model, got " + t.shapeString());
    if (t.dtype() != DType.F32 && t.dtype() != DType.BF16 && t.dtype() != DType.F16)
      throw new IllegalArgumentException("weights: tensor '" + name + "' must be F32, BF16 or F16, got " + t.dtype());
    used.add(name);
    return t;
  }

  /** A tensor in its stored dtype over the mapped bytes: no copy, no conversion. */
  public Tensor weight(String name, long... shape) throws IOException {
    TensorInfo t = info(name, shape);
    ByteBuffer bb = ck.bytes(name);
    keep.add(bb);
    return torch.from_blob(new BytePointer(bb), shape, new TensorOptions(scalarType(t.dtype())));
  }

  /** A small tensor (norm weights, embeddings added to a float32 stream) as float32. */
  public Tensor norm(String name, long... shape) throws IOException {
    Tensor w = weight(name, shape);
    return Tensors.is(w, torch.ScalarType.Float) ? w : w.to(torch.ScalarType.Float);
  }

  /** An optional projection bias in its projection weight's dtype; null when absent. */
  public Tensor bias(String name, Tensor weight, long n) throws IOException {
    if (!has(name)) return null;
    Tensor b = weight(name, n);
    return b.scalar_type().value == weight.scalar_type().value ? b : b.to(weight.scalar_type());
  }

  /** The libtorch element type of a safetensors dtype (F32, BF16, F16). */
  public static torch.ScalarType scalarType(DType d) {
    return switch (d) {
      case F32 -> torch.ScalarType.Float;
      case BF16 -> torch.ScalarType.BFloat16;
      case F16 -> torch.ScalarType.Half;
      default -> throw new IllegalArgumentException("no libtorch dtype for " + d);
    };
  }
}
