package io.fitprune.bench;

import io.fitprune.image.AnyresProcessor;
import io.fitprune.image.ImageFiles;
import io.fitprune.image.ImageProcessor;
import io.fitprune.image.PreprocessorConfig;
import io.fitprune.image.QwenImageProcessor;
import io.fitprune.image.QwenPreprocessorConfig;
import io.fitprune.image.Resampler;
import io.fitprune.image.Resampling;
import io.fitprune.image.RgbImage;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.AffineTransformOp;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.bytedeco.pytorch.InterpolateFuncOptions;
import org.bytedeco.pytorch.InterpolateMode;
import org.bytedeco.pytorch.LongVector;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.kBicubic;
import org.bytedeco.pytorch.global.torch;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * LLaVA-1.5's image preprocessing of a 1600 x 1200 photo-like image (1.9 MP): PIL's antialiased
 * bicubic resize to 448 x 336 (shortest edge 336) on 8-bit RGB, ours; beside it libtorch's
 * {@code interpolate(bicubic, antialias=true)} on the same image as float32 planes (the
 * torchvision path of transformers' fast processors) and java.awt's bicubic (no antialiasing);
 * then the whole processor from a PNG file and from decoded pixels (resize, crop, normalize); and
 * LLaVA-NeXT's anyres views of the same pixels (llava-v1.6: fitted into 672 x 672, padded, four
 * 336 tiles and the 336 x 336 base view, normalized); and Qwen2-VL's processor (Qwen2-VL-7B's
 * config) on the same pixels (smart-resized to 1204 x 1596, 9,804 patches) and on a 1288 x 728
 * screenshot-sized image, already whole 28-pixel cells, so only rescale, normalize and the patch
 * order (4,784 patches of 1,176 values) run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ImageBench {
  static final int W = 1600, H = 1200, OUT_W = 448, OUT_H = 336;
  private RgbImage photo;
  private BufferedImage awt;
  private Tensor planes;
  private InterpolateFuncOptions bicubicAa;
  private ImageProcessor llava;
  private AnyresProcessor llavaNext;
  private QwenImageProcessor qwen;
  private RgbImage wide;
  private Path dir, png;

  @Setup(Level.Trial)
  public void setup() throws IOException {
    torch.set_num_threads(1); // our resize is single-threaded
    Random rnd = new Random(1);
    byte[] b = new byte[W * H * 3];
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        for (int c = 0; c < 3; c++)
          b[(y * W + x) * 3 + c] = (byte) (128 + 90 * Math.sin(x * 0.01 + c) * Math.cos(y * 0.013) + rnd.nextInt(21) - 10);
    photo = new RgbImage(W, H, b);
    awt = new BufferedImage(W, H, BufferedImage.TYPE_3BYTE_BGR);
    int[] px = new int[W * H * 3];
    for (int i = 0; i < px.length; i++) px[i] = b[i] & 0xFF;
    awt.getRaster().setPixels(0, 0, W, H, px);
    float[] f = new float[3 * W * H];
    for (int c = 0; c < 3; c++) for (int i = 0; i < W * H; i++) f[c * W * H + i] = b[i * 3 + c] & 0xFF;
    planes = Tensor.create(f, 1, 3, H, W);
    bicubicAa = new InterpolateFuncOptions();
    bicubicAa.size().put(new LongVector(OUT_H, OUT_W));
    bicubicAa.mode().put(new InterpolateMode(new kBicubic()));
    bicubicAa.align_corners().put(false);
    bicubicAa.antialias().put(true);
    llava = ImageProcessor.fromConfig(PreprocessorConfig.parse(
        "{\"size\": {\"shortest_edge\": 336}, \"crop_size\": {\"height\": 336, \"width\": 336}}".getBytes(),
        "llava-1.5"));
    llavaNext = AnyresProcessor.fromConfig(PreprocessorConfig.parse(("{\"image_processor_type\": \"LlavaNextImageProcessor\","
        + " \"size\": {\"shortest_edge\": 336}, \"crop_size\": {\"height\": 336, \"width\": 336}}").getBytes(),
        "llava-v1.6"));
    qwen = QwenImageProcessor.fromConfig(QwenPreprocessorConfig.parse(("{\"min_pixels\": 3136, \"max_pixels\": 12845056,"
        + " \"image_processor_type\": \"Qwen2VLImageProcessor\"}").getBytes(), "Qwen2-VL-7B-Instruct"));
    wide = new RgbImage(1288, 728, java.util.Arrays.copyOf(b, 1288 * 728 * 3));
    dir = Files.createTempDirectory("imagebench");
    png = dir.resolve("photo.png");
    ImageIO.write(awt, "png", png.toFile());
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    Files.deleteIfExists(png);
    Files.deleteIfExists(dir);
  }

  @Benchmark
  public RgbImage oursResize() {
    return Resampler.resize(photo, OUT_W, OUT_H, Resampling.BICUBIC);
  }

  @Benchmark
  public long torchBicubicAntialias() {
    try (Tensor t = torch.interpolate(planes, bicubicAa)) {
      return t.numel();
    }
  }

  @Benchmark
  public BufferedImage awtBicubic() {
    AffineTransformOp op = new AffineTransformOp(AffineTransform.getScaleInstance((double) OUT_W / W, (double) OUT_H / H),
        new RenderingHints(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC));
    return op.filter(awt, null);
  }

  @Benchmark
  public float[] oursProcessPixels() {
    return llava.processImages(List.of(photo)).data();
  }

  @Benchmark
  public float[] oursAnyresPixels() {
    return llavaNext.processImage(photo).pixelValues().data();
  }

  @Benchmark
  public float[] oursQwenPixels() {
    return qwen.processImage(photo).pixelValues();
  }

  @Benchmark
  public float[] oursQwenPixels1288x728() {
    return qwen.processImage(wide).pixelValues();
  }

  @Benchmark
  public float[] oursProcessPngFile() throws IOException {
    return llava.process(png).data();
  }

  @Benchmark
  public RgbImage decodePngOnly() throws IOException {
    return ImageFiles.loadRgb(png);
  }
}
