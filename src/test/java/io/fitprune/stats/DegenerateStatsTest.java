package io.fitprune.stats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.cli.Main;
import io.fitprune.io.SafetensorsWriter;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Statistics with no signal (a sample/layer summing to zero) are refused, not fitted. */
class DegenerateStatsTest {
  @TempDir Path dir;

  static float[] ramp(int n) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = 0.01f * (i % 7 + 1);
    return a;
  }

  @Test
  void aZeroRowIsRefusedNamingSampleAndLayer() {
    float[] self = ramp(30);
    Arrays.fill(self, (1 * 3 + 2) * 5, (1 * 3 + 3) * 5, 0f); // sample 1, layer 2
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new AttentionStats(2, 3, 5, self, ramp(30)));
    assertTrue(e.getMessage().contains("'self' of sample 1, layer 2 sum to 0"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new AttentionStats(2, 3, 5, ramp(30), new float[30]));
    assertTrue(e.getMessage().contains("'cross' of sample 0, layer 0 sum to 0") && e.getMessage().contains("text tokens"),
        e.getMessage());
  }

  @Test
  void fitRefusesAllZeroStatisticsAndWritesNothing() throws Exception {
    Path stats = dir.resolve("zero.safetensors"), out = dir.resolve("recipe.json");
    long[] shape = {2, 32, 576};
    new SafetensorsWriter().putFloats("self", new float[2 * 32 * 576], shape)
        .putFloats("cross", new float[2 * 32 * 576], shape).write(stats);
    PrintStream oldErr = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int code;
    try {
      code = Main.run("fit", "--model", "models/llava-1.5-7b.json", "--stats", stats.toString(), "--budget", "0.5",
          "--out", out.toString());
    } finally {
      System.setErr(oldErr);
    }
    String msg = err.toString(StandardCharsets.UTF_8);
    assertNotEquals(0, code, msg);
    assertEquals(1, msg.strip().lines().count(), msg);
    assertTrue(msg.contains("sum to 0") && msg.contains("zero.safetensors"), msg);
    assertFalse(Files.exists(out));
  }
}
