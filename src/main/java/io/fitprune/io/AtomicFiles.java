package io.fitprune.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Writes a file through a temporary sibling and a rename, so readers never see half a file. */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** What writes the content into the temporary file's channel. */
  @FunctionalInterface
  public interface Writer {
    void write(FileChannel channel) throws IOException;
  }

  public static void write(Path target, Writer writer) throws IOException {
    Path abs = target.toAbsolutePath();
    Path dir = abs.getParent();
    if (dir != null) Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + abs.getFileName(), ".tmp");
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        writer.write(ch);
        ch.force(true);
      }
      try {
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  public static void write(Path target, byte[] bytes) throws IOException {
    write(target, ch -> {
      var buf = java.nio.ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) ch.write(buf);
    });
  }

  public static void writeString(Path target, String text) throws IOException {
    write(target, text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }
}
