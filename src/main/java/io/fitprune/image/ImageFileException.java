package io.fitprune.image;

import java.io.IOException;
import java.nio.file.Path;

/** An image file that cannot be read: one line naming the file and what is wrong with it. */
public final class ImageFileException extends IOException {
  public ImageFileException(Path file, String message) {
    super(file + ": " + message);
  }
}
