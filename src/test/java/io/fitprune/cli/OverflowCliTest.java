package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.io.SafetensorsWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** score on finite inputs whose attention overflows (q of 1e30): a non-zero exit naming the tensor, and no output file. */
class OverflowCliTest {
  @TempDir Path dir;

  static float[] gaussian(Random r, int n) {
    float[] a = new float[n];
    for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
    return a;
  }

  @Test
  void hugeQueriesExitNonZeroAndWriteNothing() throws Exception {
    Random rnd = new Random(31);
    // LLaVA's head shape (where the score pass overflowed to Inf) and a small odd one (where it stayed finite).
    for (int[] s : new int[][] {{97, 32, 32, 128}, {37, 4, 2, 16}}) {
      int n = s[0], H = s[1], G = s[2], d = s[3];
      float[] q = new float[n * H * d];
      Arrays.fill(q, 1e30f);
      Path in = dir.resolve("qkv-" + n + ".safetensors");
      new SafetensorsWriter().putFloats("q", q, n, H, d).putFloats("k", gaussian(rnd, n * G * d), n, G, d)
          .putFloats("v", gaussian(rnd, n * G * d), n, G, d).write(in);
      for (String dtype : new String[] {"fp32", "bf16"}) {
        Path out = dir.resolve("scores-" + n + "-" + dtype + ".safetensors");
        CliRun.Result r = CliRun.run("score", "--qkv", in.toString(), "--prefix", "3", "--visual", "20", "--prune", "5",
            "--backend", "cpu", "--dtype", dtype, "--out", out.toString());
        assertNotEquals(0, r.code(), r.out());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("lse [H,n]") && r.err().contains("(head 0, row 0)"), r.err());
        assertFalse(Files.exists(out));
      }
    }
    try (var files = Files.list(dir)) {
      assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith("scores-")
          || p.getFileName().toString().endsWith(".tmp")));
    }
  }
}
