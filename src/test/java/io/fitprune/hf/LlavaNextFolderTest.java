package io.fitprune.hf;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fitprune.decoder.RandomCheckpoint;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.io.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A llava-next-tiny folder as random-checkpoint writes it, read back; folders whose parts disagree are refused. */
class LlavaNextFolderTest {
  @TempDir static Path tmp;
  static Path dir;
  static LlavaNextConfig tiny;

  @BeforeAll
  static void write() throws IOException {
    tiny = LlavaNextConfig.bundled("llava-next-tiny");
    dir = tmp.resolve("next");
    RandomModelFolder.write(dir, tiny, RandomCheckpoint.Layout.LLAVA_HF, DType.F32, 3, 5_000_000_000L);
  }

  @Test
  void theFolderReadsBackAsTheConfigItWasWrittenFrom() throws IOException {
    ModelFolder f = ModelFolder.open(dir);
    assertEquals(tiny.withName(null).pinpoints(), f.anyres().pinpoints());
    assertEquals(tiny.llava().withName(null), f.config().withName(null));
    assertEquals(tiny.llava(), LlavaNextConfig.parse(tiny.toJson(), "written").llava().withName("llava-next-tiny"));
    JsonNode cfg = ConfigJson.JSON.readTree(dir.resolve("config.json").toFile());
    assertEquals("llava_next", cfg.get("model_type").asText());
    assertEquals("LlavaNextForConditionalGeneration", cfg.get("architectures").get(0).asText());
    assertFalse(cfg.has("image_seq_length"));
    JsonNode pre = ConfigJson.JSON.readTree(dir.resolve("preprocessor_config.json").toFile());
    assertEquals("LlavaNextImageProcessor", pre.get("image_processor_type").asText());
    assertEquals(cfg.get("image_grid_pinpoints"), pre.get("image_grid_pinpoints"));
    assertTrue(pre.get("do_pad").booleanValue());
    assertEquals(42, pre.get("crop_size").get("height").intValue());
    assertEquals(42, pre.get("size").get("shortest_edge").intValue());
    assertEquals("LlavaNextProcessor",
        ConfigJson.JSON.readTree(dir.resolve("processor_config.json").toFile()).get("processor_class").asText());
    assertEquals(51, f.geometry().visualTokens()); // an image filling the 84x84 canvas: 9 + 6 rows of 6 and a newline
    assertEquals(64, f.imageNewline().length);
    f.loadDecoder(); // tower, projector and image_newline checked with the language model
  }

  /** The folder copied with one file replaced. */
  Path variant(String name, String file, byte[] content) throws IOException {
    Path v = tmp.resolve(name);
    Files.createDirectories(v);
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.toList())
        if (!p.getFileName().toString().equals(file)) Files.copy(p, v.resolve(p.getFileName()));
    }
    if (content != null) Files.write(v.resolve(file), content);
    return v;
  }

  static void refused(ThrowingOpen open, String... parts) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, open::run);
    assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    for (String p : parts) assertTrue(e.getMessage().contains(p), e.getMessage());
  }

  interface ThrowingOpen {
    void run() throws Exception;
  }

  @Test
  void partsThatDisagreeAreRefusedNamingTheFile() throws Exception {
    ObjectNode pre = (ObjectNode) ConfigJson.JSON.readTree(dir.resolve("preprocessor_config.json").toFile());
    pre.putArray("image_grid_pinpoints").addArray().add(42).add(84);
    Path pins = variant("pins", "preprocessor_config.json", ConfigJson.JSON.writeValueAsBytes(pre));
    refused(() -> ModelFolder.open(pins), "preprocessor_config.json", "image_grid_pinpoints");

    Path clip = variant("clip", "preprocessor_config.json", io.fitprune.image.PreprocessorConfig.clip(42).toJson());
    refused(() -> ModelFolder.open(clip), "preprocessor_config.json", "LlavaNextImageProcessor");

    // one model.safetensors without image_newline (no index, which would list it)
    Path noNewline = variant("no-newline", "model.safetensors.index.json", null);
    Files.delete(noNewline.resolve("model-00001-of-00001.safetensors"));
    try (SafetensorsFile in = SafetensorsFile.open(dir.resolve("model-00001-of-00001.safetensors"))) {
      SafetensorsWriter w = new SafetensorsWriter();
      for (TensorInfo t : in.tensors().values())
        if (!t.name().equals("image_newline")) w.putFloats(t.name(), in.readFloats(t.name()), t.shape());
      w.write(noNewline.resolve("model.safetensors"));
    }
    ModelFolder f = ModelFolder.open(noNewline);
    refused(f::loadDecoder, "image_newline");
    refused(f::imageNewline, "image_newline");

    ObjectNode full = (ObjectNode) ConfigJson.JSON.readTree(tiny.toJson());
    full.put("vision_feature_select_strategy", "full");
    Path fullStrategy = variant("full", "config.json", ConfigJson.JSON.writeValueAsBytes(full));
    refused(() -> ModelFolder.open(fullStrategy), "config.json", "full");

    // a LLaVA-1.5 folder with an anyres processor is refused too
    Path llava = tmp.resolve("llava");
    RandomModelFolder.write(llava, LlavaConfig.bundled("llava-tiny"), RandomCheckpoint.Layout.LLAVA_HF, DType.F32, 1,
        5_000_000_000L);
    ObjectNode anyres = (ObjectNode) ConfigJson.JSON.readTree(llava.resolve("preprocessor_config.json").toFile());
    anyres.put("image_processor_type", "LlavaNextImageProcessor").putArray("image_grid_pinpoints").addArray().add(56).add(112);
    Files.write(llava.resolve("preprocessor_config.json"), ConfigJson.JSON.writeValueAsBytes(anyres));
    refused(() -> ModelFolder.open(llava), "preprocessor_config.json", "llava");
  }
}
