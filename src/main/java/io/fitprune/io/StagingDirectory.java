package io.fitprune.io;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A hidden sibling directory {@code .NAME.tmp-PID-N} in which a directory output is built before
 * it is renamed into place (same file system, so the rename is atomic). It is removed on any
 * failure, by a shutdown hook on SIGTERM or Ctrl-C, and, when a process was killed outright
 * ({@code kill -9}), by the next staging of the same target once that PID no longer runs.
 */
public final class StagingDirectory implements AutoCloseable {
  private final Path target, dir;
  private final Thread hook;
  private boolean done;

  private StagingDirectory(Path target, Path dir) {
    this.target = target;
    this.dir = dir;
    this.hook = new Thread(() -> { // the writer runs on during shutdown: repeat until the folder itself is gone
      for (int i = 0; i < 100 && Files.exists(dir, LinkOption.NOFOLLOW_LINKS); i++) removeTree(dir);
    }, "fitprune-staging-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /**
   * Creates the staging directory for {@code target} (an absolute, normalized path whose parent is
   * created if missing), after removing those abandoned by processes that are gone. {@code option}
   * names the target in errors ("--out").
   */
  public static StagingDirectory create(String option, Path target) throws IOException {
    Path parent = target.getParent();
    try {
      Files.createDirectories(parent);
      removeAbandoned(parent, target.getFileName().toString());
      Path dir = parent.resolve("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
      return new StagingDirectory(target, Files.createDirectory(dir));
    } catch (FileAlreadyExistsException e) { // createDirectories met a file where a folder must be
      throw new IOException(option + " " + target + ": cannot be written (" + e.getFile() + " is not a directory)");
    } catch (AccessDeniedException e) {
      throw new IOException(option + " " + target + ": cannot be written (permission denied in " + parent + ")");
    } catch (FileSystemException e) {
      String why = e.getReason() == null ? e.getClass().getSimpleName() : e.getReason();
      throw new IOException(option + " " + target + ": cannot be written (" + why + ")");
    }
  }

  /** The directory to write into. */
  public Path path() {
    return dir;
  }

  /** Renames the staging directory to the target (replacing it only if it is an empty directory). */
  public void commit() throws IOException {
    if (Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) Files.delete(target); // fails unless empty
    try {
      Files.move(dir, target, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(dir, target);
    }
    done = true;
    release();
  }

  /** Removes the staging directory unless it was committed. */
  @Override
  public void close() {
    if (!done) removeTree(dir);
    release();
  }

  private void release() {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down: the hook runs (and finds nothing left after a commit)
    }
  }

  /** Removes {@code .NAME.tmp-PID-N} directories (not links) whose process no longer runs. */
  static void removeAbandoned(Path parent, String name) {
    Pattern ours = Pattern.compile(Pattern.quote("." + name + ".tmp-") + "(\\d{1,10})-\\d+");
    try (DirectoryStream<Path> s = Files.newDirectoryStream(parent)) {
      for (Path p : s) {
        Matcher m = ours.matcher(p.getFileName().toString());
        if (!m.matches() || !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) continue;
        long pid = Long.parseLong(m.group(1));
        if (pid != ProcessHandle.current().pid() && ProcessHandle.of(pid).isEmpty()) removeTree(p);
      }
    } catch (IOException | RuntimeException e) {
      // best effort: staging does not depend on it
    }
  }

  /** Deletes a tree without following links (a link inside is removed, not its target); best effort. */
  public static void removeTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException ignored) {
          // best effort: what is left is a hidden directory the next run removes
        }
      });
    } catch (IOException | RuntimeException ignored) {
      // nothing to clean
    }
  }
}
