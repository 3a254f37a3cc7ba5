package io.fitprune.vision;

import io.fitprune.decoder.Tensors;
import io.fitprune.io.DType;
import io.fitprune.io.HalfFloats;
import io.fitprune.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Predicate;
import org.bytedeco.pytorch.Tensor;

/** Vision-tower tensors written as a checkpoint file, the way the towers' loader tests need them. */
public final class TestTensorFiles {
  private TestTensorFiles() {}

  /**
   * Writes {@code m} to {@code p}: tensors named by {@code keepF32} (norms, embeddings) as F32, the
   * rest in {@code matrices} (F32, F16 or BF16, rounded to nearest), plus a 3-value F32 tensor
   * {@code lmTensor} so the file also holds a language-model tensor, as a model's shards do.
   */
  public static Path write(Path p, Map<String, Tensor> m, DType matrices, Predicate<String> keepF32, String lmTensor)
      throws IOException {
    SafetensorsWriter sw = new SafetensorsWriter();
    for (Map.Entry<String, Tensor> e : m.entrySet()) {
      Tensor t = e.getValue();
      long[] shape = new long[(int) t.dim()];
      for (int i = 0; i < shape.length; i++) shape[i] = t.size(i);
      float[] v = Tensors.toArray(t);
      if (matrices == DType.F32 || keepF32.test(e.getKey())) {
        sw.putFloats(e.getKey(), v, shape);
        continue;
      }
      short[] s = new short[v.length];
      for (int i = 0; i < v.length; i++)
        s[i] = matrices == DType.F16 ? HalfFloats.toF16(v[i])
            : (short) (Float.floatToRawIntBits((float) ClipReference64.bf16(v[i])) >>> 16);
      sw.putShorts(e.getKey(), matrices, s, shape);
    }
    sw.putFloats(lmTensor, new float[] {1, 2, 3}, 3);
    sw.write(p);
    return p;
  }
}
