package io.fitprune.cli;

import io.fitprune.io.AtomicFiles;
import io.fitprune.io.InputFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Checks of path options before a command does any work or creates anything, with messages that
 * name the option and the path: inputs must be regular files (a FIFO would block forever),
 * outputs must not replace anything but a regular file (a device, FIFO or symbolic link).
 */
final class CliPaths {
  private CliPaths() {}

  /** An input file option; null (an absent optional option) passes. A missing file is an I/O failure (exit 1). */
  static void input(String option, Path p) throws IOException {
    if (p == null) return;
    try {
      InputFiles.requireRegular(p);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(null, null, option + " " + p + ": no such file");
    } catch (IOException e) {
      throw new IllegalArgumentException(option + " " + e.getMessage());
    }
  }

  /** A checkpoint option: a directory (holding the index or one file), or an input file (safetensors or index). */
  static void checkpoint(String option, Path p) throws IOException {
    if (p != null && Files.isDirectory(p)) return; // its files are checked as they are opened
    input(option, p);
  }

  /** An output file option, written through {@link AtomicFiles}. */
  static void output(String option, Path p) {
    try {
      AtomicFiles.requireReplaceable(p);
    } catch (IOException e) {
      throw new IllegalArgumentException(option + " " + e.getMessage());
    }
  }

  /** An output directory option: absent (created when the results are written) or a directory. */
  static void outputDirectory(String option, Path p) {
    if (Files.exists(p) && !Files.isDirectory(p))
      throw new IllegalArgumentException(option + " " + p + ": exists and is " + InputFiles.kind(p) + ", not a directory");
  }
}
