package io.fitprune.stats;

import static org.junit.jupiter.api.Assertions.*;

import io.fitprune.io.SafetensorsException;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.model.Geometry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatsFilesTest {
  static final Geometry G = new Geometry("toy", 3, 8, 2, 2, 4, 16, 5, 1, 2);
  @TempDir Path dir;

  private static float[] ramp(int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = i / (float) n;
    return a;
  }

  @Test
  void roundTrip() throws Exception {
    AttentionStats st = new AttentionStats(2, 3, 5, ramp(30), ramp(30));
    Path f = dir.resolve("s.safetensors");
    StatsFiles.write(f, st, Map.of("model", "toy"));
    AttentionStats back = StatsFiles.read(f, G);
    assertEquals(2, back.samples());
    assertArrayEquals(st.self(), back.self());
    assertArrayEquals(st.cross(), back.cross());
    assertEquals(ramp(30)[5] + ramp(30)[6] + ramp(30)[7] + ramp(30)[8] + ramp(30)[9], back.selfMass(0, 1), 1e-6);
  }

  /** Ragged statistics: sample 0 has 2 tokens, sample 1 has 5 (row width), sample 2 has 7 (more than the model's). */
  private static AttentionStats ragged() {
    int[] visual = {2, 5, 7};
    float[] self = new float[3 * 3 * 7], cross = new float[3 * 3 * 7];
    java.util.SplittableRandom r = new java.util.SplittableRandom(3);
    for (int s = 0; s < 3; s++)
      for (int l = 0; l < 3; l++)
        for (int j = 0; j < visual[s]; j++) {
          self[(s * 3 + l) * 7 + j] = (float) (0.01 + r.nextDouble());
          cross[(s * 3 + l) * 7 + j] = (float) (0.01 + r.nextDouble());
        }
    return new AttentionStats(3, 3, 7, self, cross, visual);
  }

  @Test
  void raggedRoundTripAndTheOldFormatUnchanged() throws Exception {
    AttentionStats st = ragged();
    Path f = dir.resolve("ragged.safetensors");
    StatsFiles.write(f, st, null);
    AttentionStats back = StatsFiles.read(f, G);  // counts 2 and 7 around the model's 5: fitting brings them to it
    assertTrue(back.hasCounts());
    assertArrayEquals(new int[] {2, 5, 7}, new int[] {back.visual(0), back.visual(1), back.visual(2)});
    assertArrayEquals(st.self(), back.self());
    assertArrayEquals(st.cross(), back.cross());
    try (io.fitprune.io.SafetensorsFile sf = io.fitprune.io.SafetensorsFile.open(f)) {
      assertEquals(io.fitprune.io.DType.I64, sf.tensors().get("visual").dtype());
      assertArrayEquals(new long[] {3, 3, 7}, sf.tensors().get("self").shape());
    }
    // Without counts the file is the plain [S, L, V] pair, byte for byte what Python writes.
    Path plain = dir.resolve("plain.safetensors");
    StatsFiles.write(plain, new AttentionStats(2, 3, 5, ramp(30), ramp(30)), null);
    Path py = dir.resolve("py.safetensors");
    new SafetensorsWriter().putFloats("self", ramp(30), 2, 3, 5).putFloats("cross", ramp(30), 2, 3, 5).write(py);
    assertArrayEquals(Files.readAllBytes(py), Files.readAllBytes(plain));
    assertFalse(StatsFiles.read(plain, G).hasCounts());
  }

  @Test
  void rejectsBadCountsAndPadding() throws Exception {
    AttentionStats st = ragged();
    long[] shape = {3, 3, 7};
    assertTrue(reject(new SafetensorsWriter().putFloats("self", st.self(), shape).putFloats("cross", st.cross(), shape)
        .putLongs("visual", new long[] {2, 0, 7}, 3)).contains("'visual' holds 0 for sample 1"));
    assertTrue(reject(new SafetensorsWriter().putFloats("self", st.self(), shape).putFloats("cross", st.cross(), shape)
        .putLongs("visual", new long[] {2, 5, 8}, 3)).contains("[1, V = 7]"));
    assertTrue(reject(new SafetensorsWriter().putFloats("self", st.self(), shape).putFloats("cross", st.cross(), shape)
        .putLongs("visual", new long[] {2, 5}, 2)).contains("'visual' must have shape [3]"));
    assertTrue(reject(new SafetensorsWriter().putFloats("self", st.self(), shape).putFloats("cross", st.cross(), shape)
        .putInts("visual", new int[] {2, 5, 7}, 3)).contains("must be I64"));
    float[] self = st.self().clone();
    self[(0 * 3 + 2) * 7 + 4] = 1e-3f;  // sample 0 has 2 tokens: index 4 is padding
    assertTrue(reject(new SafetensorsWriter().putFloats("self", self, shape).putFloats("cross", st.cross(), shape)
        .putLongs("visual", new long[] {2, 5, 7}, 3)).contains("padding must be 0"));
  }

  @Test
  void syntheticStatsArePlausible() throws Exception {
    Geometry g = new Geometry("m", 8, 8, 2, 2, 4, 16, 64, 1, 2);
    AttentionStats st = SyntheticStats.generate(g, 4, 7);
    assertTrue(st.selfMass(0, 0) > st.selfMass(0, 7), "visual attention decays with depth");
    Path f = dir.resolve("syn.safetensors");
    StatsFiles.write(f, st, null);
    assertArrayEquals(st.self(), StatsFiles.read(f, g).self());
    assertArrayEquals(st.self(), SyntheticStats.generate(g, 4, 7).self(), "deterministic per seed");
  }

  private String reject(SafetensorsWriter w) throws IOException {
    Path f = dir.resolve("bad.safetensors");
    w.write(f);
    return reject(f);
  }

  private String reject(Path f) {
    IOException e = assertThrows(IOException.class, () -> StatsFiles.read(f, G));
    assertTrue(e.getMessage().contains(f.getFileName().toString()), e.getMessage());
    return e.getMessage();
  }

  @Test
  void rejectsWrongShapesAndTypes() throws Exception {
    assertTrue(reject(new SafetensorsWriter().putFloats("self", ramp(30), 2, 3, 5)).contains("no tensor 'cross'"));
    assertTrue(reject(new SafetensorsWriter().putFloats("self", ramp(24), 2, 4, 3).putFloats("cross", ramp(24), 2, 4, 3))
        .contains("layers"));
    assertTrue(reject(new SafetensorsWriter().putFloats("self", ramp(24), 2, 3, 4).putFloats("cross", ramp(24), 2, 3, 4))
        .contains("visual tokens"));
    assertTrue(reject(new SafetensorsWriter().putFloats("self", ramp(30), 2, 3, 5).putFloats("cross", ramp(15), 1, 3, 5))
        .contains("same shape"));
    assertTrue(reject(new SafetensorsWriter().putFloats("self", ramp(30), 6, 5).putFloats("cross", ramp(30), 6, 5))
        .contains("shape"));
    assertTrue(reject(new SafetensorsWriter().putInts("self", new int[30], 2, 3, 5).putFloats("cross", ramp(30), 2, 3, 5))
        .contains("F32"));
  }

  @Test
  void rejectsBadValues() throws Exception {
    float[] nan = ramp(30);
    nan[17] = Float.NaN;
    String m = reject(new SafetensorsWriter().putFloats("self", nan, 2, 3, 5).putFloats("cross", ramp(30), 2, 3, 5));
    assertTrue(m.contains("NaN") && m.contains("sample 1, layer 0, token 2"), m);
    float[] neg = ramp(30);
    neg[3] = -0.5f;
    assertTrue(reject(new SafetensorsWriter().putFloats("self", ramp(30), 2, 3, 5).putFloats("cross", neg, 2, 3, 5))
        .contains("negative"));
    float[] inf = ramp(30);
    inf[0] = Float.POSITIVE_INFINITY;
    assertTrue(reject(new SafetensorsWriter().putFloats("self", inf, 2, 3, 5).putFloats("cross", ramp(30), 2, 3, 5))
        .contains("infinite"));
  }

  @Test
  void rejectsTruncatedAndCorruptFiles() throws Exception {
    Path good = dir.resolve("good.safetensors");
    StatsFiles.write(good, new AttentionStats(2, 3, 5, ramp(30), ramp(30)), null);
    byte[] bytes = Files.readAllBytes(good);

    Path truncated = dir.resolve("truncated.safetensors");
    Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 7));
    reject(truncated);

    Path tiny = dir.resolve("tiny.safetensors");
    Files.write(tiny, new byte[] {1, 2, 3});
    reject(tiny);

    Path corrupt = dir.resolve("corrupt.safetensors");
    byte[] c = bytes.clone();
    c[9] = '#';  // inside the JSON header
    Files.write(corrupt, c);
    reject(corrupt);

    Path text = dir.resolve("text.safetensors");
    Files.write(text, "this is not a safetensors file at all".getBytes(StandardCharsets.UTF_8));
    reject(text);

    assertThrows(SafetensorsException.class, () -> StatsFiles.read(dir.resolve("missing.safetensors"), G));
  }
}
