package io.fitprune.io;

import java.io.IOException;
import java.nio.file.Path;

/** A safetensors file that is malformed or does not hold what the caller asked for. */
public final class SafetensorsException extends IOException {
  public SafetensorsException(Path file, String message) {
    super(file + ": " + message);
  }
}
