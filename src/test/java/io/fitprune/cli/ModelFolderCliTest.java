package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.cli.CliRun.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** random-checkpoint --vision writes a Hub model folder, and --model takes it wherever it takes a bundled name. */
class ModelFolderCliTest {
  @TempDir Path dir;

  static String oneLineError(Result r, String... parts) {
    assertNotEquals(0, r.code(), r.out());
    String err = r.err().strip();
    assertEquals(1, err.lines().count(), err);
    for (String p : parts) assertTrue(err.contains(p), err);
    return err;
  }

  @Test
  void tinyFolderRunsTheWholePath() throws Exception {
    Path m = dir.resolve("tiny");
    Result r = CliRun.run("random-checkpoint", "--model", "llava-tiny", "--vision", "--dtype", "f32", "--out", m.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("model folder"), r.out());
    for (String f : new String[] {"config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
        "chat_template.json", "model.safetensors.index.json"})
      assertTrue(Files.isRegularFile(m.resolve(f)), f);

    String prune = "0,4,0,2";
    Result byName = CliRun.run("flops", "--model", "llava-tiny", "--prune", prune);
    Result byFolder = CliRun.run("flops", "--model", m.toString(), "--prune", prune);
    assertEquals(0, byFolder.code(), byFolder.err());
    assertEquals(byName.out(), byFolder.out(), "the folder's geometry is llava-tiny's");

    Path e = dir.resolve("embeds.safetensors");
    r = CliRun.run("random-checkpoint", "--model", m.toString(), "--embeds", e.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("[55, 64]"), r.out()); // 7 prefix + 16 visual + 32 text tokens
    r = CliRun.run("prefill", "--model", m.toString(), "--weights", m.toString(), "--embeds", e.toString(), "--generate", "3");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("vocab 512"), r.out());
    // decoding past the context the folder's config names is refused up front (55 + 4042 > 4096)
    oneLineError(CliRun.run("prefill", "--model", m.toString(), "--weights", m.toString(), "--embeds", e.toString(),
        "--generate", "4042"), "max_position_embeddings", "4096");

    // a folder as --model of random-checkpoint --vision: its own config again, with another seed
    Path again = dir.resolve("again");
    r = CliRun.run("random-checkpoint", "--model", m.toString(), "--vision", "--seed", "9", "--out", again.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals(Files.readString(m.resolve("config.json")), Files.readString(again.resolve("config.json")));
    assertEquals(Files.readString(m.resolve("tokenizer.json")), Files.readString(again.resolve("tokenizer.json")));

    // the same weights under a config whose vision tower is narrower: refused before anything runs
    Path bad = dir.resolve("bad");
    Files.createDirectories(bad);
    try (Stream<Path> s = Files.list(m)) {
      for (Path f : s.toList()) Files.copy(f, bad.resolve(f.getFileName()));
    }
    Files.writeString(bad.resolve("config.json"), Files.readString(m.resolve("config.json"))
        .replace("\"intermediate_size\" : 128", "\"intermediate_size\" : 64"));
    oneLineError(CliRun.run("prefill", "--model", bad.toString(), "--weights", bad.toString(), "--embeds", e.toString()),
        "vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight", "[64, 32]");
  }

  @Test
  void badRequestsWriteNothing() throws Exception {
    oneLineError(CliRun.run("random-checkpoint", "--model", "llava-tiny", "--vision"), "--out");
    Path out = dir.resolve("llama-layout");
    oneLineError(CliRun.run("random-checkpoint", "--model", "llava-tiny", "--vision", "--layout", "llama", "--out",
        out.toString()), "--layout llama");
    oneLineError(CliRun.run("random-checkpoint", "--model", "llava-tiny", "--vision", "--vocab", "300", "--out",
        out.toString()), "image_token_index");
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(0, s.count(), "nothing written");
    }
  }

  @Test
  void badFolderConfigIsOneLineNamingTheFile() throws Exception {
    Path m = dir.resolve("m");
    Files.createDirectories(m);
    Files.writeString(m.resolve("config.json"), "{\"model_type\": \"qwen2_vl\"}");
    // a Qwen2-VL config is read as one, and without rope_scaling it has no M-RoPE split
    oneLineError(CliRun.run("flops", "--model", m.toString(), "--prune", "0"), "config.json", "mrope_section");
    Files.writeString(m.resolve("config.json"), "{\"model_type\": \"qwen3_vl\"}");
    oneLineError(CliRun.run("flops", "--model", m.toString(), "--prune", "0"), "config.json", "qwen3_vl");
    Files.writeString(m.resolve("config.json"), "{\"model_type\": \"llava\", \"vision_feature_layer\": -40}");
    oneLineError(CliRun.run("flops", "--model", m.toString(), "--prune", "0"), "config.json", "vision_feature_layer -40");
  }
}
