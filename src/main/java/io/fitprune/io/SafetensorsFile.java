package io.fitprune.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file opened for reading (the format {@code safetensors.numpy.save_file} writes:
 * an 8-byte little-endian header length, a JSON header, then the raw little-endian data).
 * Tensor data is memory-mapped, not copied. Every structural problem is reported as a
 * {@link SafetensorsException} naming the file and what is wrong.
 */
public final class SafetensorsFile implements AutoCloseable {
  private static final long MAX_HEADER = 100L << 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path path;
  private final FileChannel channel;
  private final long dataStart;
  private final Map<String, TensorInfo> tensors;
  private final Map<String, String> metadata;

  private SafetensorsFile(Path path, FileChannel channel, long dataStart, Map<String, TensorInfo> tensors,
      Map<String, String> metadata) {
    this.path = path;
    this.channel = channel;
    this.dataStart = dataStart;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  public static SafetensorsFile open(Path path) throws IOException {
    FileChannel ch;
    try {
      InputFiles.requireRegular(path); // a FIFO would block the open forever
      ch = FileChannel.open(path, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      throw new SafetensorsException(path, "no such file");
    }
    try {
      return parse(path, ch);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static SafetensorsFile parse(Path path, FileChannel ch) throws IOException {
    long size = ch.size();
    if (size < 8) throw new SafetensorsException(path, "too short for a safetensors file (" + size + " bytes)");
    ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, lenBuf, 0);
    long headerLen = lenBuf.getLong(0);
    if (headerLen <= 0 || headerLen > MAX_HEADER || headerLen > size - 8)
      throw new SafetensorsException(path, "is not a safetensors file (invalid header length)"); // no bytes of it echoed
    ByteBuffer header = ByteBuffer.allocate((int) headerLen);
    readFully(ch, header, 8);
    JsonNode root;
    try {
      root = JSON.readTree(header.array());
    } catch (IOException e) {
      throw new SafetensorsException(path, "header is " + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j
          ? InputFiles.jsonError(j) : "not valid JSON")); // the position only: the parser's message quotes the text
    }
    if (root == null || !root.isObject()) throw new SafetensorsException(path, "header is not a JSON object");
    long dataStart = 8 + headerLen, dataSize = size - dataStart;
    Map<String, TensorInfo> tensors = new LinkedHashMap<>();
    Map<String, String> metadata = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals("__metadata__")) {
        if (!e.getValue().isObject()) throw new SafetensorsException(path, "__metadata__ is not an object");
        e.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
        continue;
      }
      tensors.put(e.getKey(), entry(path, e.getKey(), e.getValue(), dataSize));
    }
    List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
    byOffset.sort(Comparator.comparingLong(TensorInfo::begin));
    for (int i = 1; i < byOffset.size(); i++) {
      if (byOffset.get(i).begin() < byOffset.get(i - 1).end())
        throw new SafetensorsException(path, "tensors '" + byOffset.get(i - 1).name() + "' and '"
            + byOffset.get(i).name() + "' overlap");
    }
    return new SafetensorsFile(path, ch, dataStart, Collections.unmodifiableMap(tensors),
        Collections.unmodifiableMap(metadata));
  }

  private static TensorInfo entry(Path path, String name, JsonNode node, long dataSize) throws SafetensorsException {
    String where = "tensor '" + name + "'";
    if (!node.isObject()) throw new SafetensorsException(path, where + " is not an object");
    JsonNode dt = node.get("dtype"), shape = node.get("shape"), off = node.get("data_offsets");
    if (dt == null || !dt.isTextual()) throw new SafetensorsException(path, where + " has no dtype");
    DType dtype;
    try {
      dtype = DType.valueOf(dt.asText());
    } catch (IllegalArgumentException e) {
      throw new SafetensorsException(path, where + " has unknown dtype " + dt.asText());
    }
    if (shape == null || !shape.isArray()) throw new SafetensorsException(path, where + " has no shape");
    long[] dims = new long[shape.size()];
    for (int i = 0; i < dims.length; i++) {
      JsonNode s = shape.get(i);
      if (!s.canConvertToLong() || !s.isIntegralNumber() || s.asLong() < 0)
        throw new SafetensorsException(path, where + " has an invalid shape " + shape);
      dims[i] = s.asLong();
    }
    if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber()
        || !off.get(1).isIntegralNumber())
      throw new SafetensorsException(path, where + " has invalid data_offsets");
    long begin = off.get(0).asLong(), end = off.get(1).asLong();
    if (begin < 0 || end < begin || end > dataSize)
      throw new SafetensorsException(path, where + " has data_offsets [" + begin + ", " + end
          + "] outside the data section of " + dataSize + " bytes");
    TensorInfo info = new TensorInfo(name, dtype, dims, begin, end);
    long expect;
    try {
      expect = Math.multiplyExact(info.numel(), dtype.bytes());
    } catch (ArithmeticException e) {
      throw new SafetensorsException(path, where + " has a shape too large: " + shape);
    }
    if (end - begin != expect)
      throw new SafetensorsException(path, where + " of dtype " + dtype + " and shape " + Arrays.toString(dims)
          + " needs " + expect + " bytes but its data_offsets span " + (end - begin));
    return info;
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
    while (buf.hasRemaining()) {
      int r = ch.read(buf, pos + buf.position());
      if (r < 0) throw new IOException("unexpected end of file");
    }
  }

  public Path path() {
    return path;
  }

  public Map<String, TensorInfo> tensors() {
    return tensors;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  /** The entry named {@code name}, checked for dtype and, where given, shape (-1 matches any size). */
  public TensorInfo require(String name, DType dtype, long... shape) throws SafetensorsException {
    TensorInfo t = tensors.get(name);
    if (t == null) throw new SafetensorsException(path, "has no tensor '" + name + "' (it has " + tensors.keySet() + ")");
    if (t.dtype() != dtype)
      throw new SafetensorsException(path, "tensor '" + name + "' must be " + dtype + ", got " + t.dtype());
    if (shape.length > 0) {
      boolean ok = shape.length == t.shape().length;
      for (int i = 0; ok && i < shape.length; i++) ok = shape[i] < 0 || shape[i] == t.shape()[i];
      if (!ok)
        throw new SafetensorsException(path, "tensor '" + name + "' must have shape " + describe(shape)
            + ", got " + t.shapeString());
    }
    return t;
  }

  private static String describe(long[] shape) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < shape.length; i++) sb.append(i > 0 ? ", " : "").append(shape[i] < 0 ? "*" : shape[i]);
    return sb.append("]").toString();
  }

  /** The raw little-endian bytes of a tensor, memory-mapped (read-only). */
  public ByteBuffer bytes(String name) throws IOException {
    TensorInfo t = tensors.get(name);
    if (t == null) throw new SafetensorsException(path, "has no tensor '" + name + "'");
    long len = t.end() - t.begin();
    if (len > Integer.MAX_VALUE) throw new SafetensorsException(path, "tensor '" + name + "' is over 2 GiB");
    return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), len).order(ByteOrder.LITTLE_ENDIAN);
  }

  /**
   * The entry named {@code name} holding float data that {@link #floats} reads: F32, or F64 (what
   * numpy writes by default), checked for shape as {@link #require} does.
   */
  public TensorInfo requireFloats(String name, long... shape) throws SafetensorsException {
    TensorInfo t = tensors.get(name);
    if (t != null && t.dtype() == DType.F64) return require(name, DType.F64, shape);
    if (t != null && t.dtype() != DType.F32)
      throw new SafetensorsException(path, "tensor '" + name + "' must be F32 or F64, got " + t.dtype());
    return require(name, DType.F32, shape);
  }

  /**
   * A float tensor as a direct buffer of float32: an F32 tensor memory-mapped (zero-copy into the
   * native kernels), an F64 tensor converted to float32 into new memory. The one place where
   * float64 input becomes float32.
   */
  public FloatBuffer floats(String name) throws IOException {
    TensorInfo t = requireFloats(name);
    if (t.dtype() == DType.F32) return bytes(name).asFloatBuffer();
    DoubleBuffer src = bytes(name).asDoubleBuffer();
    FloatBuffer dst = ByteBuffer.allocateDirect(Math.multiplyExact(src.remaining(), 4)).order(ByteOrder.nativeOrder())
        .asFloatBuffer();
    while (src.hasRemaining()) dst.put((float) src.get());
    return dst.flip();
  }

  public float[] readFloats(String name) throws IOException {
    FloatBuffer fb = floats(name);
    float[] out = new float[fb.remaining()];
    fb.get(out);
    return out;
  }

  /** An integer tensor (I64 or I32) widened to long. */
  public long[] readLongs(String name) throws IOException {
    TensorInfo t = tensors.get(name);
    if (t == null) throw new SafetensorsException(path, "has no tensor '" + name + "'");
    ByteBuffer b = bytes(name);
    long[] out = new long[(int) t.numel()];
    switch (t.dtype()) {
      case I64 -> b.asLongBuffer().get(out);
      case I32 -> {
        for (int i = 0; i < out.length; i++) out[i] = b.getInt(4 * i);
      }
      default -> throw new SafetensorsException(path, "tensor '" + name + "' must be I64 or I32, got " + t.dtype());
    }
    return out;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
