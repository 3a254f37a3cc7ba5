package io.fitprune.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Builds a safetensors file and writes it atomically. Readable by {@code safetensors.numpy.load_file}. */
public final class SafetensorsWriter {
  private record Entry(String name, DType dtype, long[] shape, ByteBuffer data) {}

  private final List<Entry> entries = new ArrayList<>();
  private final Map<String, String> metadata = new LinkedHashMap<>();

  public SafetensorsWriter metadata(String key, String value) {
    metadata.put(key, value);
    return this;
  }

  public SafetensorsWriter putFloats(String name, float[] data, long... shape) {
    return putFloats(name, FloatBuffer.wrap(data), shape);
  }

  public SafetensorsWriter putFloats(String name, FloatBuffer data, long... shape) {
    ByteBuffer b = allocate(name, DType.F32, data.remaining(), shape);
    b.asFloatBuffer().put(data.duplicate());
    return add(name, DType.F32, shape, b);
  }

  /** float64 data (what numpy writes by default); readers convert it with {@link SafetensorsFile#floats}. */
  public SafetensorsWriter putDoubles(String name, double[] data, long... shape) {
    ByteBuffer b = allocate(name, DType.F64, data.length, shape);
    b.asDoubleBuffer().put(data);
    return add(name, DType.F64, shape, b);
  }

  /** 2-byte elements (BF16, F16, I16, U16) from their bit patterns. */
  public SafetensorsWriter putShorts(String name, DType dtype, short[] data, long... shape) {
    if (dtype.bytes() != 2) throw new IllegalArgumentException(name + ": " + dtype + " is not a 2-byte dtype");
    ByteBuffer b = allocate(name, dtype, data.length, shape);
    b.asShortBuffer().put(data);
    return add(name, dtype, shape, b);
  }

  public SafetensorsWriter putLongs(String name, long[] data, long... shape) {
    ByteBuffer b = allocate(name, DType.I64, data.length, shape);
    b.asLongBuffer().put(data);
    return add(name, DType.I64, shape, b);
  }

  public SafetensorsWriter putInts(String name, int[] data, long... shape) {
    ByteBuffer b = allocate(name, DType.I32, data.length, shape);
    b.asIntBuffer().put(data);
    return add(name, DType.I32, shape, b);
  }

  private ByteBuffer allocate(String name, DType dtype, long count, long[] shape) {
    long numel = 1;
    for (long s : shape) {
      if (s < 0) throw new IllegalArgumentException(name + ": negative dimension in shape");
      numel = Math.multiplyExact(numel, s);
    }
    if (numel != count)
      throw new IllegalArgumentException(name + ": " + count + " elements do not fill shape " + java.util.Arrays.toString(shape));
    for (Entry e : entries)
      if (e.name().equals(name)) throw new IllegalArgumentException("duplicate tensor name: " + name);
    long bytes = count * dtype.bytes(); // count is an array length: no overflow
    if (bytes > Integer.MAX_VALUE - 8)
      throw new IllegalArgumentException(name + ": " + bytes + " bytes are more than one tensor of this writer holds (2 GiB)");
    return ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  private SafetensorsWriter add(String name, DType dtype, long[] shape, ByteBuffer data) {
    entries.add(new Entry(name, dtype, shape.clone(), data));
    return this;
  }

  public void write(Path path) throws IOException {
    List<ShardedWriter.Entry> specs = new ArrayList<>();
    for (Entry e : entries) specs.add(new ShardedWriter.Entry(e.name(), e.dtype(), e.shape()));
    ByteBuffer head = ShardedWriter.header(metadata, specs);
    AtomicFiles.write(path, ch -> {
      while (head.hasRemaining()) ch.write(head);
      for (Entry e : entries) {
        ByteBuffer d = e.data().duplicate();
        d.rewind();
        while (d.hasRemaining()) ch.write(d);
      }
    });
  }
}
