package io.fitprune.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file through a temporary sibling and a rename, so readers never see half a file: the
 * temporary file is created with the usual mode (0666 under the umask, as any tool's output), its
 * data is synced before the rename and the directory after it, so a power loss leaves the old file
 * or the new one. An existing target that is not a regular file (a device, FIFO, symbolic link or
 * directory) is refused, never replaced. Temporary files are named {@code .NAME.PID.RANDOM.tmp};
 * those left by a killed process (its PID no longer running) are removed by the next write.
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** What writes the content into the temporary file's channel. */
  @FunctionalInterface
  public interface Writer {
    void write(FileChannel channel) throws IOException;
  }

  /** Throws an {@link IOException} naming the path when {@code target} exists and is not a regular file. */
  public static void requireReplaceable(Path target) throws IOException {
    if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS))
      throw new IOException(target + ": exists and is " + InputFiles.kind(target)
          + ", not a regular file; refusing to replace it");
    Path dir = target.toAbsolutePath().getParent();
    if (dir != null && Files.exists(dir) && !Files.isDirectory(dir))
      throw new IOException(target + ": its parent " + dir + " is not a directory");
  }

  public static void write(Path target, Writer writer) throws IOException {
    Path abs = target.toAbsolutePath();
    requireReplaceable(abs);
    Path dir = abs.getParent();
    String name = abs.getFileName().toString();
    Path tmp;
    try {
      if (dir != null) Files.createDirectories(dir);
      removeStale(dir, name);
      tmp = createTemp(dir, name);
    } catch (FileSystemException e) { // named by the target: the temporary name means nothing to the user
      throw new IOException(abs + ": cannot be written (" + (e instanceof AccessDeniedException ? "permission denied in " + dir
          : e.getReason() == null ? e.getClass().getSimpleName() : e.getReason()) + ")", e);
    }
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        writer.write(ch);
        ch.force(true);
      }
      try {
        Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      }
      syncDirectory(dir);
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

  /** A new empty sibling; CREATE_NEW without attributes gives mode 0666 under the umask. */
  private static Path createTemp(Path dir, String name) throws IOException {
    for (int attempt = 0; ; attempt++) {
      Path tmp = dir.resolve("." + name + "." + ProcessHandle.current().pid() + "."
          + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + ".tmp");
      try {
        Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
        return tmp;
      } catch (FileAlreadyExistsException e) {
        if (attempt > 100) throw e;
      }
    }
  }

  /** Removes {@code .NAME.PID.*.tmp} regular files whose process is gone (a killed earlier run). */
  private static void removeStale(Path dir, String name) {
    String prefix = "." + name + ".";
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, p -> {
      String f = p.getFileName().toString();
      return f.startsWith(prefix) && f.endsWith(".tmp");
    })) {
      for (Path p : s) {
        String[] parts = p.getFileName().toString().substring(prefix.length()).split("\\.");
        if (parts.length != 3 || !parts[0].matches("\\d{1,10}")) continue; // not ours: leave it
        long pid = Long.parseLong(parts[0]);
        if (ProcessHandle.of(pid).isPresent() || !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) continue;
        Files.deleteIfExists(p);
      }
    } catch (IOException | RuntimeException e) {
      // cleaning up is best effort: the write itself does not depend on it
    }
  }

  /** Makes the rename durable (Linux: fsync on the directory); a no-op where directories cannot be opened. */
  private static void syncDirectory(Path dir) {
    if (dir == null) return;
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // not supported on this platform or file system: the file's own data is synced already
    }
  }
}
