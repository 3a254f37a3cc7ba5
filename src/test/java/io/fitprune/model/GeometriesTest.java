package io.fitprune.model;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GeometriesTest {
  @TempDir Path dir;

  static final String GOOD = """
      {"name": "toy", "layers": 2, "hidden": 8, "heads": 4, "kvHeads": 2, "headDim": 2, "mlp": 16,
       "visualTokens": 10, "prefixTokens": 3}""";

  @Test
  void shippedModelsLoadFromFilesAndByName() throws Exception {
    for (String name : new String[] {"llava-1.5-7b", "llava-1.5-13b", "llava-hr-7b", "llava-next-7b", "qwen2-vl-7b"}) {
      Geometry fromFile = Geometries.load(Path.of("models", name + ".json"));
      assertEquals(fromFile, Geometries.resolve(name), name);
      assertEquals(fromFile, Geometries.resolve("models/" + name + ".json"), name);
    }
    Geometry g = Geometries.resolve("llava-1.5-7b");
    assertEquals(new Geometry("llava-1.5-7b", 32, 4096, 32, 32, 128, 11008, 576, 35, 64), g);
    assertEquals(2880, Geometries.resolve("llava-next-7b").visualTokens());
    Geometry q = Geometries.resolve("qwen2-vl-7b");
    assertEquals(7, q.groupSize());
    assertTrue(Geometries.bundledNames().contains("llava-hr-7b"));
  }

  @Test
  void userFileWithDefaults() throws Exception {
    Path f = dir.resolve("toy.json");
    Files.writeString(f, GOOD);
    Geometry g = Geometries.resolve(f.toString());
    assertEquals(Geometries.DEFAULT_TEXT_TOKENS, g.textTokens());
    assertEquals(3, g.prefixTokens());
  }

  private String reject(String json) throws Exception {
    Path f = dir.resolve("toy.json");
    Files.writeString(f, json);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Geometries.load(f));
    assertTrue(e.getMessage().contains("toy.json"), e.getMessage());
    return e.getMessage();
  }

  @Test
  void rejectsBadFilesNamingFileAndField() throws Exception {
    assertTrue(reject(GOOD.replace("\"kvHeads\": 2", "\"kvHeads\": 3")).contains("multiple of kvHeads"));
    assertTrue(reject(GOOD.replace("\"layers\": 2", "\"layers\": 0")).contains("layers"));
    assertTrue(reject(GOOD.replace("\"mlp\": 16", "\"mlp\": -1")).contains("mlp"));
    assertTrue(reject(GOOD.replace("\"mlp\": 16", "\"mlp\": 1.5")).contains("'mlp' must be an integer"));
    assertTrue(reject(GOOD.replace("\"mlp\": 16,", "")).contains("missing field 'mlp'"));
    assertTrue(reject(GOOD.replace("\"kvHeads\"", "\"kv_heads\"")).contains("unknown field 'kv_heads'"));
    assertTrue(reject(GOOD.replace("\"toy\"", "\"other\"")).contains("'other'"));
    assertTrue(reject("{ not json").contains("not valid JSON"));
    assertTrue(reject("[1, 2]").contains("JSON object"));
  }

  @Test
  void hiddenMayDifferFromTheAttentionWidth() throws Exception {
    Path f = dir.resolve("toy.json");
    Files.writeString(f, GOOD.replace("\"hidden\": 8", "\"hidden\": 10"));
    Geometry g = Geometries.load(f);
    assertEquals(10, g.hidden());
    assertEquals(8, g.attentionWidth());
  }

  @Test
  void unknownNameListsBundledModels() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Geometries.resolve("llava-9b"));
    assertTrue(e.getMessage().contains("llava-1.5-7b"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Geometries.resolve(dir.resolve("missing.json").toString()));
  }
}
