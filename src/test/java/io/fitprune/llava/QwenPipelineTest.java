package io.fitprune.llava;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.Sampler;
import io.fitprune.decoder.Tensors;
import io.fitprune.decoder.TextStream;
import io.fitprune.hf.ModelFolder;
import io.fitprune.hf.Prompt;
import io.fitprune.hf.QwenVlConfig;
import io.fitprune.hf.RandomQwenFolder;
import io.fitprune.image.QwenImageProcessor;
import io.fitprune.image.QwenPixels;
import io.fitprune.io.Checkpoint;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.kernels.Spans;
import io.fitprune.pruning.Pruner;
import io.fitprune.testutil.RopeIndexReference;
import io.fitprune.vision.qwen.GridThw;
import io.fitprune.testutil.RandomPng;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One image and question through a Qwen2-VL / Qwen2.5-VL folder: the splice, the 3-D positions, decoding from them. */
class QwenPipelineTest {
  private static final String README_BEGIN = "// README qwen-pipeline: begin", README_END = "// README qwen-pipeline: end";
  @TempDir static Path dir;
  static Path q2, q25;

  @BeforeAll
  static void folders() throws Exception {
    q2 = dir.resolve("q2");
    q25 = dir.resolve("q25");
    QwenVlConfig a = QwenVlConfig.bundled("qwen2-vl-tiny"), b = QwenVlConfig.bundled("qwen2.5-vl-tiny");
    RandomQwenFolder.write(q2, a, RandomQwenFolder.preprocessor("qwen2-vl-tiny", a.visionConfig()),
        RandomQwenFolder.Layout.VISUAL, DType.F32, 21, 1L << 30);
    RandomQwenFolder.write(q25, b, RandomQwenFolder.preprocessor("qwen2.5-vl-tiny", b.visionConfig()),
        RandomQwenFolder.Layout.MODEL_VISUAL, DType.F32, 22, 1L << 30);
  }

  static Path png(String name, int h, int w, long seed) throws Exception {
    return RandomPng.write(dir, name, h, w, seed);
  }

  /** The embedding table as stored, read without the pipeline. */
  static float[] table(Path folder, String name) throws Exception {
    try (Checkpoint ck = Checkpoint.open(folder.resolve(Checkpoint.INDEX));
        SafetensorsFile f = SafetensorsFile.open(ck.fileOf(name))) {
      return f.readFloats(name);
    }
  }

  @Test
  void theSpliceHoldsTheTowersRowsOverTheImageTokensAndTheTableElsewhereAtGetRopeIndexsPositions() throws Exception {
    for (Path folder : new Path[] {q2, q25}) {
      String embed = folder == q2 ? "model.embed_tokens.weight" : "model.language_model.embed_tokens.weight";
      float[] table = table(folder, embed);
      try (LlavaPipeline p = LlavaPipeline.open(folder)) {
        int D = 64, imageToken = p.folder().imageTokenId();
        int seed = 0;
        for (int[] hw : new int[][] {{100, 150}, {28, 28}, {230, 61}, {57, 300}}) {
          Path img = png("s" + seed + ".png", hw[0], hw[1], 40 + seed++);
          LlavaInput in = p.prepare(img, "What is this?");
          QwenPixels px = QwenImageProcessor.fromFile(folder.resolve(ModelFolder.PREPROCESSOR)).process(img);
          assertArrayEquals(px.pixelValues(), in.image().qwen().pixelValues());
          int V = (int) in.spans().visual(), P = (int) in.spans().prefix(), n = in.length();
          assertEquals(px.imageTokens(), V);
          float[] rows = p.qwenTower().features(px.pixelValues(), List.of(new GridThw(px.gridT(), px.gridH(), px.gridW())));
          assertArrayEquals(rows, Arrays.copyOfRange(in.embeds(), P * D, (P + V) * D), "image rows, " + Arrays.toString(hw));
          long[] ids = in.prompt().ids();
          for (int i = 0; i < n; i++) {
            if (i >= P && i < P + V) continue;
            assertNotEquals(imageToken, ids[i]);
            assertArrayEquals(Arrays.copyOfRange(table, (int) ids[i] * D, (int) (ids[i] + 1) * D),
                Arrays.copyOfRange(in.embeds(), i * D, (i + 1) * D), "row " + i);
          }
          long[][] want = RopeIndexReference.of(ids, imageToken, new int[][] {{px.gridT(), px.gridH(), px.gridW()}}, 2);
          for (int c = 0; c < 3; c++)
            assertArrayEquals(want[c], Arrays.stream(in.positions()[c]).asLongStream().toArray(), "component " + c);
        }
      }
    }
  }

  /**
   * A decode step after the 3-D prefill equals a prefill of the prompt and that token with the token
   * at the largest id + 1 (rope_deltas); at the row index instead it differs.
   */
  @Test
  void decodingContinuesAtOnePastTheLargestId() throws Exception {
    try (LlavaPipeline p = LlavaPipeline.open(q25)) {
      LlavaInput in = p.prepare(png("d.png", 120, 90, 7), "Describe it.");
      int n = in.length(), D = in.hidden();
      int[][] pos = in.positions();
      int max = Arrays.stream(pos).flatMapToInt(Arrays::stream).max().getAsInt();
      assertTrue(max + 1 < n, "the image takes fewer ids than rows");
      Decoder dec = new Decoder(p.decoderWeights());
      float[] stepLogits;
      int first;
      try (Tensor e = Tensors.of(in.embeds(), n, D); Decoder.Prefill pre = dec.prefill(e, in.spans(), pos, Pruner.none(), 4)) {
        first = pre.nextToken();
        stepLogits = dec.step(pre.state(), first).logits();
      }
      float[] table = table(q25, "model.language_model.embed_tokens.weight");
      float[] longer = Arrays.copyOf(in.embeds(), (n + 1) * D);
      System.arraycopy(table, first * D, longer, n * D, D);
      float[] atMax = logitsAt(dec, longer, in.spans(), pos, max + 1), atRow = logitsAt(dec, longer, in.spans(), pos, n);
      double scale = 0, errMax = 0, errRow = 0;
      for (int i = 0; i < stepLogits.length; i++) {
        scale = Math.max(scale, Math.abs(atMax[i]));
        errMax = Math.max(errMax, Math.abs(stepLogits[i] - atMax[i]));
        errRow = Math.max(errRow, Math.abs(stepLogits[i] - atRow[i]));
      }
      assertTrue(errMax <= 1e-4 * scale, errMax + " vs scale " + scale);
      assertTrue(errRow > 100 * errMax, "the position matters: " + errRow + " vs " + errMax);
    }
  }

  private static float[] logitsAt(Decoder dec, float[] embeds, Spans spans, int[][] pos, int id) {
    int n = pos[0].length;
    int[][] p = new int[3][];
    for (int c = 0; c < 3; c++) {
      p[c] = Arrays.copyOf(pos[c], n + 1);
      p[c][n] = id;
    }
    try (Tensor e = Tensors.of(embeds, n + 1, embeds.length / (n + 1));
        Decoder.Prefill pre = dec.prefill(e, spans, p, Pruner.none(), 1)) {
      return pre.logits();
    }
  }

  /** The README's Qwen block. */
  @Test
  void theReadmeBlockRuns() throws Exception {
    Path folder = q2, file = png("readme.png", 80, 120, 3);
    Pruner pruner = Pruner.none();
    int[] tokens;
    StringBuilder out = new StringBuilder();
    // README qwen-pipeline: begin
    try (LlavaPipeline qwen = LlavaPipeline.open(folder)) {     // e.g. Path.of("Qwen2-VL-7B-Instruct")
      LlavaImage image = qwen.image(file);                        // patches [t*h*w, 1176] and grid (t, h, w)
      Prompt prompt = qwen.prompt("What is shown in this image?", image); // <|image_pad|> x t*h*w / 4
      LlavaInput in = qwen.encode(prompt, image);                 // tower and merger, spliced; positions [3][n]
      Decoder dec = new Decoder(qwen.decoderWeights());
      try (Tensor e = Tensors.of(in.embeds(), in.length(), in.hidden());
          Decoder.Prefill p = dec.prefill(e, in.spans(), in.positions(), pruner, 8)) { // M-RoPE prefill
        TextStream answer = qwen.answerStream(out::append);      // stops at <|im_end|>
        tokens = dec.generate(p, 8, Sampler.greedy(), answer::accept); // decodes from the largest id + 1
        answer.close();
      }
    }
    // README qwen-pipeline: end
    assertTrue(tokens.length >= 1 && tokens.length <= 8);
    io.fitprune.testutil.ReadmeBlocks.requireShown("src/test/java/io/fitprune/llava/QwenPipelineTest.java",
        README_BEGIN, README_END);
  }
}
