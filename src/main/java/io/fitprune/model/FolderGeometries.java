package io.fitprune.model;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Reads the geometry of a model folder (a Hugging Face model directory). {@link Geometries}
 * finds the implementation ({@code io.fitprune.hf}) through {@link java.util.ServiceLoader}, so
 * this package depends on no model-folder code and loads none until a folder is named.
 */
public interface FolderGeometries {
  /** Whether {@code dir} is a model folder this reader understands. */
  boolean accepts(Path dir);

  /** The folder's geometry; a bad folder is an {@link IllegalArgumentException} naming the file. */
  Geometry read(Path dir) throws IOException;
}
