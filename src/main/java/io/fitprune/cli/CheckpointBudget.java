package io.fitprune.cli;

import io.fitprune.io.InputFiles;
import io.fitprune.io.ShardedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What a checkpoint about to be written needs, checked before anything is created: that the
 * reader will take it back (an index within the JSON cap, every tensor within 2 GiB) and that the
 * disk holds it. Counted from the tensor list alone, in time linear in the tensors.
 */
final class CheckpointBudget {
  /** Index bytes per tensor besides its name: indentation, quotes, " : ", the shard file name, ",\n". */
  private static final int INDEX_BYTES_PER_TENSOR = 48;
  /** The fewest index bytes a decoder layer takes (9 tensors with names of 20+ characters): bounds the layers cheaply. */
  static final long MIN_INDEX_BYTES_PER_LAYER = 9 * (20 + INDEX_BYTES_PER_TENSOR);

  private CheckpointBudget() {}

  /** Refuses a layer count whose index could never be read back, before any tensor list is built. */
  static void requireLayers(int layers) {
    long most = InputFiles.MAX_JSON_BYTES / MIN_INDEX_BYTES_PER_LAYER;
    if (layers > most)
      throw new IllegalArgumentException("--layers " + layers + ": a checkpoint's index of so many layers would be over the "
          + (InputFiles.MAX_JSON_BYTES >> 20) + " MiB its reader takes (at most about " + most + " layers)");
  }

  /**
   * Checks the tensors against the reader's limits and returns the bytes the shards take on disk
   * (data, headers and index, an upper bound).
   */
  static long requireReadable(List<ShardedWriter.Entry> tensors, String what) {
    long index = 200, data = 0;
    for (ShardedWriter.Entry e : tensors) {
      long bytes;
      try {
        bytes = e.bytes();
      } catch (ArithmeticException overflow) {
        throw new IllegalArgumentException(what + ": tensor " + e.name() + " of shape " + java.util.Arrays.toString(e.shape())
            + " has more bytes than a 64-bit size holds");
      }
      if (bytes > Integer.MAX_VALUE)
        throw new IllegalArgumentException(what + ": tensor " + e.name() + " of shape " + java.util.Arrays.toString(e.shape())
            + " would be " + gib(bytes) + ", over the 2 GiB a tensor may have for the reader");
      index += e.name().length() + INDEX_BYTES_PER_TENSOR;
      data += bytes;
    }
    if (index > InputFiles.MAX_JSON_BYTES)
      throw new IllegalArgumentException(what + ": the index of " + tensors.size() + " tensors would be over the "
          + (InputFiles.MAX_JSON_BYTES >> 20) + " MiB its reader takes");
    return data + 2 * index; // each shard's header lists its tensors again
  }

  /** Refuses {@code bytes} more than the file system of {@code target} (or its nearest existing parent) has free. */
  static void requireDisk(String what, Path target, long bytes) throws IOException {
    Path p = target.toAbsolutePath();
    while (p != null && !Files.exists(p)) p = p.getParent();
    if (p == null) return;
    long free = Files.getFileStore(p).getUsableSpace();
    if (bytes > free)
      throw new IllegalArgumentException(what + " needs " + gib(bytes) + " of disk, more than the " + gib(free) + " free in " + p);
  }

  static String gib(double bytes) {
    return String.format(Locale.ROOT, "%.2f GiB", bytes / (1L << 30));
  }
}
