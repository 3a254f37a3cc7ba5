package io.fitprune.hf;

import io.fitprune.model.FolderGeometries;
import io.fitprune.model.Geometry;
import java.io.IOException;
import java.nio.file.Path;

/** {@code --model DIR}: a Hugging Face LLaVA, LLaVA-NeXT, Qwen2-VL or Qwen2.5-VL model folder's geometry, for {@link io.fitprune.model.Geometries}. */
public final class HfGeometries implements FolderGeometries {
  @Override
  public boolean accepts(Path dir) {
    return ModelFolder.isModelFolder(dir);
  }

  @Override
  public Geometry read(Path dir) throws IOException {
    return ModelFolder.open(dir).geometry();
  }
}
