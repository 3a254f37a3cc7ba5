package io.fitprune.llava;

import io.fitprune.hf.QwenVlConfig;
import io.fitprune.image.QwenImageProcessor;
import io.fitprune.image.QwenPixels;
import io.fitprune.vision.qwen.GridThw;
import io.fitprune.vision.qwen.QwenVisionTower;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Qwen2-VL and Qwen2.5-VL: the image processor's patches (count {@code t*h*w / merge^2}, from the
 * image's own size), the Qwen vision tower with its merger (rows already of the language model's
 * width), and 3-D position ids by {@code get_rope_index}.
 */
final class QwenFamily implements VisualFamily {
  private final QwenVlConfig config;
  private final QwenImageProcessor images;
  final QwenVisionTower tower;

  QwenFamily(QwenVlConfig config, QwenImageProcessor images, QwenVisionTower tower) {
    this.config = config;
    this.images = images;
    this.tower = tower;
  }

  @Override
  public LlavaImage image(Path file) throws IOException {
    QwenPixels px = images.process(file);
    return LlavaImage.qwen(px);
  }

  @Override
  public float[] features(LlavaImage image) {
    QwenPixels px = image.qwen();
    return tower.features(px.pixelValues(), List.of(new GridThw(px.gridT(), px.gridH(), px.gridW())));
  }

  @Override
  public int hidden() {
    return tower.config().outHiddenSize();
  }

  @Override
  public int[][] positions(long[] ids, LlavaImage image) {
    QwenPixels px = image.qwen();
    int[] in = new int[ids.length];
    for (int i = 0; i < ids.length; i++) in[i] = Math.toIntExact(ids[i]);
    return config.ropeIndex(in, new int[][] {{px.gridT(), px.gridH(), px.gridW()}}).positions();
  }
}
