package io.fitprune.image;

/**
 * A batch of preprocessed images as the vision tower takes them: float32 {@code [images, 3, height,
 * width]}, row-major (channel planes R, G, B of each image in turn), as transformers'
 * {@code pixel_values} with {@code return_tensors="pt"}.
 */
public record PixelValues(float[] data, int images, int height, int width) {
  public PixelValues {
    if (images < 1 || height < 1 || width < 1)
      throw new IllegalArgumentException("pixel values need at least 1 image of 1 x 1, got " + images + " x 3 x "
          + height + " x " + width);
    if (data == null || data.length != (long) images * 3 * height * width)
      throw new IllegalArgumentException("data must hold images * 3 * height * width = " + (long) images * 3 * height
          * width + " floats, got " + (data == null ? "null" : data.length));
  }

  /** {@code [images, 3, height, width]}. */
  public long[] shape() {
    return new long[] {images, 3, height, width};
  }

  /** The value of image {@code n}, channel {@code c}, row {@code y}, column {@code x}. */
  public float get(int n, int c, int y, int x) {
    return data[((n * 3 + c) * height + y) * width + x];
  }
}
