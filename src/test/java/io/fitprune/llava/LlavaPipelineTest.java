package io.fitprune.llava;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.decoder.Decoder;
import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.decoder.Sampler;
import io.fitprune.decoder.TextStream;
import io.fitprune.decoder.Tensors;
import io.fitprune.hf.GenerationConfig;
import io.fitprune.hf.LlavaConfig;
import io.fitprune.hf.RandomModelFolder;
import io.fitprune.hf.ModelFolder;
import io.fitprune.io.DType;
import io.fitprune.model.Geometry;
import io.fitprune.pruning.Pruner;
import io.fitprune.recipe.Recipe;
import io.fitprune.testutil.ReadmeBlocks;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pipeline on a BF16 folder in the newer layout: the splice in the table's type, and the answer's stops. */
class LlavaPipelineTest {
  private static final String README_BEGIN = "// README llava: begin", README_END = "// README llava: end";
  @TempDir static Path dir;
  static Path model, image;

  @BeforeAll
  static void folder() throws Exception {
    model = dir.resolve("tiny-bf16");
    RandomModelFolder.write(model, LlavaConfig.bundled("llava-tiny"), RandomCheckpoint.Layout.LLAVA, DType.BF16, 5, 1L << 30);
    SplittableRandom r = new SplittableRandom(4);
    BufferedImage im = new BufferedImage(45, 29, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 29; y++) for (int x = 0; x < 45; x++) im.setRGB(x, y, r.nextInt(1 << 24));
    image = dir.resolve("i.png");
    ImageIO.write(im, "png", image.toFile());
  }

  @Test
  void aBf16FolderSplicesTextRowsFromItsTableAndTheFeaturesOnTheBf16Grid() throws Exception {
    try (LlavaPipeline p = LlavaPipeline.open(model)) {
      LlavaInput in = p.prepare(image, "Describe it.");
      int D = in.hidden(), P = (int) in.spans().prefix(), V = (int) in.spans().visual();
      float[] features = p.encoder().encode(in.pixels().data(), 1);
      float[] table = Tensors.toArray(p.decoderWeights().embed());
      long[] ids = in.prompt().ids();
      for (int i = 0; i < in.length(); i++)
        for (int d = 0; d < D; d++) {
          float got = in.embeds()[i * D + d];
          if (i < P || i >= P + V) {
            assertEquals(table[(int) ids[i] * D + d], got, 0f, "text row " + i);
          } else {
            // the projector's last product runs in bf16 here, so its float32 output is already on the bf16 grid
            assertEquals(ImageSpliceTest.bf16(features[(i - P) * D + d]), got, 0.0, "image row " + i);
          }
        }
    }
  }

  @Test
  void theAnswerStopsAtTheUserMarkerAndAtEos() throws Exception {
    try (LlavaPipeline p = LlavaPipeline.open(model)) {
      assertEquals("USER:", p.userMarker());
      List<String> pieces = new ArrayList<>();
      TextStream s = p.answerStream(pieces::add);
      long[] ids = p.tokenizer().ids("a red cup USER: and more");
      int taken = 0;
      for (long id : ids) {
        taken++;
        if (!s.accept((int) id)) break;
      }
      assertTrue(taken < ids.length, "stopped before the end");
      assertEquals("a red cup", String.join("", pieces).strip());

      pieces.clear();
      s = p.answerStream(pieces::add);
      for (long id : p.tokenizer().ids("blue")) assertTrue(s.accept((int) id));
      assertFalse(s.accept((int) p.tokenizer().ids("</s>")[0]), "eos ends the answer");
      assertEquals("blue", String.join("", pieces).strip());
    }
  }

  @Test
  void generationConfigsEosIdsAndAChatMlTurnStartEndTheAnswer() throws Exception {
    Path f = dir.resolve("chatml");
    RandomModelFolder.write(f, LlavaConfig.bundled("llava-tiny"), RandomCheckpoint.Layout.LLAVA, DType.F32, 6, 1L << 30);
    int stopId = 300;
    Files.writeString(f.resolve(GenerationConfig.FILE), "{\"eos_token_id\": [" + stopId + ", 2]}");
    Files.writeString(f.resolve("chat_template.jinja"), "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
        + "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
        + "<|im_end|>\n{% endfor %}<|im_start|>assistant\n");
    try (LlavaPipeline p = LlavaPipeline.open(f); LlavaPipeline plain = LlavaPipeline.open(model)) {
      assertEquals("<|im_start|>", p.userMarker());
      List<String> pieces = new ArrayList<>();
      TextStream s = p.answerStream(pieces::add);
      for (long id : p.tokenizer().ids("a cup")) assertTrue(s.accept((int) id));
      assertFalse(s.accept(stopId), "generation_config.json's eos_token_id ends the answer");
      assertEquals("a cup", String.join("", pieces).strip());
      assertTrue(plain.answerStream(x -> {}).accept(stopId), "an ordinary token where the folder names no such id");
      // here <|im_start|> is no token of the tokenizer: the marker is a stop string
      pieces.clear();
      s = p.answerStream(pieces::add);
      long[] ids = p.tokenizer().ids("a mug<|im_start|>user");
      int taken = 0;
      for (long id : ids) {
        taken++;
        if (!s.accept((int) id)) break;
      }
      assertTrue(taken < ids.length, "stopped before the end");
      assertEquals("a mug", String.join("", pieces).strip());
    }
  }

  /** The README's LLaVA block, run on the tiny folder: an answer of at most 8 tokens, pruned at two layers. */
  @Test
  void theReadmeBlockRuns() throws Exception {
    Path folder = model;
    Geometry g = ModelFolder.open(model).geometry();
    Pruner pruner = Pruner.of(Recipe.builder(g).drop(1, 6).drop(2, 4).build(), g);
    int[] tokens;
    // README llava: begin
    try (LlavaPipeline llava = LlavaPipeline.open(folder)) {            // e.g. Path.of("llava-1.5-7b-hf")
      LlavaInput in = llava.prepare(image, "What is shown in this image?"); // pixels, ids, spans, embeddings [n, D]
      Decoder dec = new Decoder(llava.decoderWeights());
      try (Tensor e = Tensors.of(in.embeds(), in.length(), in.hidden());
          Decoder.Prefill p = dec.prefill(e, in.spans(), pruner, 8)) {    // Pruner.none() for no pruning
        TextStream answer = llava.answerStream(System.out::print);      // stops at </s> and "USER:"
        tokens = dec.generate(p, 8, Sampler.sampling(0.7, 0.9, 42), answer::accept); // or Sampler.greedy()
        answer.close();
      }
    }
    // README llava: end
    assertTrue(tokens.length >= 1 && tokens.length <= 8);
    ReadmeBlocks.requireShown("src/test/java/io/fitprune/llava/LlavaPipelineTest.java", README_BEGIN, README_END);
  }

  @Test
  void aQuestionHoldingTheImageMarkerIsRefused() throws Exception {
    try (LlavaPipeline p = LlavaPipeline.open(model)) {
      String m = assertThrows(IllegalArgumentException.class, () -> p.prepare(image, "<image> what?")).getMessage();
      assertTrue(m.startsWith("question:") && m.contains("<image>"), m);
    }
  }
}
