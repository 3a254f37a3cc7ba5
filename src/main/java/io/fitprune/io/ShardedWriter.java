package io.fitprune.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Writes a checkpoint as Hugging Face's {@code save_pretrained} does (safetensors shards named
 * {@code model-00001-of-0000N.safetensors} of at most a given size, plus
 * {@code model.safetensors.index.json}), streaming each tensor's bytes from a {@link Source} in
 * bounded chunks so no tensor is ever held whole in memory. The checkpoint is built in a temporary
 * sibling directory and renamed into place: readers see all of it or nothing.
 */
public final class ShardedWriter {
  /** One tensor to write. */
  public record Entry(String name, DType dtype, long[] shape) {
    public long bytes() {
      long n = dtype.bytes();
      for (long s : shape) n = Math.multiplyExact(n, s);
      return n;
    }
  }

  /** Produces a tensor's little-endian bytes, chunk by chunk: fill {@code dst} (all of it) with bytes from {@code byteOffset} on. */
  @FunctionalInterface
  public interface Source {
    void fill(Entry tensor, long byteOffset, ByteBuffer dst);
  }

  private static final int CHUNK = 8 << 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  private ShardedWriter() {}

  /**
   * Writes {@code tensors} (in order) into directory {@code dir}, which must not exist or be empty,
   * starting a new shard whenever the next tensor would take the current one over {@code maxShardBytes}.
   * Returns the number of shards.
   */
  public static int write(Path dir, List<Entry> tensors, long maxShardBytes, Map<String, String> metadata, Source source)
      throws IOException {
    if (maxShardBytes <= 0) throw new IllegalArgumentException("maxShardBytes must be > 0, got " + maxShardBytes);
    if (tensors.isEmpty()) throw new IllegalArgumentException("no tensors to write");
    Path target = dir.toAbsolutePath().normalize();
    requireNewOrEmpty(target);
    List<List<Entry>> shards = new ArrayList<>();
    long used = 0;
    for (Entry e : tensors) {
      if (shards.isEmpty() || (used > 0 && used + e.bytes() > maxShardBytes)) {
        shards.add(new ArrayList<>());
        used = 0;
      }
      shards.get(shards.size() - 1).add(e);
      used += e.bytes();
    }
    try (StagingDirectory stage = StagingDirectory.create("--out", target)) {
      Path tmp = stage.path();
      Map<String, String> weightMap = new TreeMap<>();
      long total = 0;
      for (int s = 0; s < shards.size(); s++) {
        String file = String.format("model-%05d-of-%05d.safetensors", s + 1, shards.size());
        try {
          writeShard(tmp.resolve(file), shards.get(s), metadata, source);
        } catch (IOException e) { // named by the target, not the staging path
          String why = e instanceof FileSystemException f ? (f.getReason() == null ? f.getClass().getSimpleName() : f.getReason())
              : e.getMessage();
          throw new IOException("--out " + target + ": writing " + file + " failed (" + why + ")", e);
        }
        for (Entry e : shards.get(s)) {
          weightMap.put(e.name(), file);
          total += e.bytes();
        }
      }
      ObjectNode index = JSON.createObjectNode();
      index.putObject("metadata").put("total_size", total);
      ObjectNode wm = index.putObject("weight_map");
      weightMap.forEach(wm::put);
      Files.write(tmp.resolve(Checkpoint.INDEX), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(index));
      stage.commit(); // any failure before this, OutOfMemoryError included, removes the staging directory
    }
    return shards.size();
  }

  private static void writeShard(Path file, List<Entry> entries, Map<String, String> metadata, Source source)
      throws IOException {
    ByteBuffer head = header(metadata, entries);
    ByteBuffer chunk = ByteBuffer.allocateDirect(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      while (head.hasRemaining()) ch.write(head);
      for (Entry e : entries) {
        long size = e.bytes();
        for (long at = 0; at < size; at += CHUNK) {
          chunk.clear().limit((int) Math.min(CHUNK, size - at));
          source.fill(e, at, chunk.slice().order(ByteOrder.LITTLE_ENDIAN));
          while (chunk.hasRemaining()) ch.write(chunk);
        }
      }
      ch.force(true);
    }
  }

  /**
   * The start of a safetensors file holding {@code entries} in this order: the 8-byte header
   * length and the JSON header, padded with spaces so the data starts 8-byte aligned (as the
   * reference writer does); ready to write.
   */
  static ByteBuffer header(Map<String, String> metadata, List<Entry> entries) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode m = root.putObject("__metadata__");
      metadata.forEach(m::put);
    }
    long offset = 0;
    for (Entry e : entries) {
      ObjectNode t = root.putObject(e.name());
      t.put("dtype", e.dtype().name());
      ArrayNode sh = t.putArray("shape");
      for (long d : e.shape()) sh.add(d);
      ArrayNode o = t.putArray("data_offsets");
      o.add(offset);
      offset += e.bytes();
      o.add(offset);
    }
    byte[] header = JSON.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
    int padded = (header.length + 7) / 8 * 8;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(header);
    while (head.hasRemaining()) head.put((byte) ' ');
    return head.flip();
  }

  /** Refuses a checkpoint target that exists and is not an empty directory (a link to one included). */
  public static void requireNewOrEmpty(Path dir) throws IOException {
    Path target = dir.toAbsolutePath().normalize();
    if (Files.isSymbolicLink(target) || (Files.exists(target) && (!Files.isDirectory(target) || !isEmpty(target))))
      throw new IllegalArgumentException("--out " + target + ": exists and is not an empty directory");
  }

  private static boolean isEmpty(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.findAny().isEmpty();
    }
  }
}
