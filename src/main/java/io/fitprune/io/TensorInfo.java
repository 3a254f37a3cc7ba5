package io.fitprune.io;

import java.util.Arrays;

/** One entry of a safetensors header: byte range [begin, end) of the data section. */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {
  public long numel() {
    long n = 1;
    for (long s : shape) n = Math.multiplyExact(n, s);
    return n;
  }

  public String shapeString() {
    return Arrays.toString(shape);
  }
}
