package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.cli.CliRun.Result;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.recipe.RecipeFiles;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What people who run the command line from scripts and numpy need: float64 inputs, named scopes, progress in logs. */
class CliForUsersTest {
  @TempDir Path dir;

  static double[] toDouble(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) d[i] = f[i];
    return d;
  }

  @Test
  void float64InputsAreReadAsTheirFloat32Rounding() throws Exception {
    Random r = new Random(3);
    int n = 41, H = 4, G = 2, d = 16;
    double[] q = new double[n * H * d], k = new double[n * G * d], v = new double[n * G * d];
    for (double[] a : new double[][] {q, k, v}) for (int i = 0; i < a.length; i++) a[i] = r.nextGaussian() / 3;
    Path f64 = dir.resolve("qkv64.safetensors"), f32 = dir.resolve("qkv32.safetensors");
    new SafetensorsWriter().putDoubles("q", q, n, H, d).putDoubles("k", k, n, G, d).putDoubles("v", v, n, G, d).write(f64);
    try (SafetensorsFile in = SafetensorsFile.open(f64)) {
      FloatBuffer fb = in.floats("q");
      for (int i = 0; i < q.length; i++) assertEquals((float) q[i], fb.get(i));
      new SafetensorsWriter().putFloats("q", in.readFloats("q"), n, H, d).putFloats("k", in.readFloats("k"), n, G, d)
          .putFloats("v", in.readFloats("v"), n, G, d).write(f32);
    }
    for (String dtype : new String[] {"fp32", "bf16"}) {
      Path o64 = dir.resolve("o64" + dtype + ".safetensors"), o32 = dir.resolve("o32" + dtype + ".safetensors");
      for (Path[] io : new Path[][] {{f64, o64}, {f32, o32}}) {
        Result res = CliRun.run("score", "--qkv", io[0].toString(), "--prefix", "3", "--visual", "30", "--prune", "11",
            "--backend", "cpu", "--dtype", dtype, "--out", io[1].toString());
        assertEquals(0, res.code(), res.err());
      }
      try (SafetensorsFile a = SafetensorsFile.open(o64); SafetensorsFile b = SafetensorsFile.open(o32)) {
        for (String t : new String[] {"out", "lse", "self", "cross"})
          assertArrayEquals(b.readFloats(t), a.readFloats(t), dtype + " " + t);
        assertArrayEquals(b.readLongs("keep"), a.readLongs("keep"));
      }
    }

    // statistics written by numpy in float64 fit the same recipe as their float32 rounding
    Path st32 = dir.resolve("st32.safetensors"), st64 = dir.resolve("st64.safetensors");
    assertEquals(0, CliRun.run("stats-example", "--model", "llava-1.5-7b", "--samples", "3", "--out", st32.toString()).code());
    try (SafetensorsFile s = SafetensorsFile.open(st32)) {
      long[] shape = s.tensors().get("self").shape();
      new SafetensorsWriter().putDoubles("self", toDouble(s.readFloats("self")), shape)
          .putDoubles("cross", toDouble(s.readFloats("cross")), shape).write(st64);
    }
    Path r32 = dir.resolve("r32.json"), r64 = dir.resolve("r64.json");
    assertEquals(0, CliRun.run("fit", "--model", "llava-1.5-7b", "--stats", st32.toString(), "--budget", "0.4", "--out",
        r32.toString()).code());
    Result fit = CliRun.run("fit", "--model", "llava-1.5-7b", "--stats", st64.toString(), "--budget", "0.4", "--out",
        r64.toString());
    assertEquals(0, fit.code(), fit.err());
    assertArrayEquals(RecipeFiles.read(r32).prune(), RecipeFiles.read(r64).prune());
  }

  @Test
  void fitExactTakesTheDecoderOptionsPrefillTakes() throws Exception {
    io.fitprune.model.Geometry g = io.fitprune.model.Geometries.resolve("llava-1.5-7b");
    FitCommand fit = new FitCommand();
    new picocli.CommandLine(fit).parseArgs("--model", "m", "--mode", "exact", "--budget", "0.3", "--out", "o",
        "--rope-theta", "500000", "--rms-eps", "1e-6");
    PrefillCommand prefill = new PrefillCommand();
    new picocli.CommandLine(prefill).parseArgs("--model", "m", "--weights", "w", "--embeds", "e", "--rope-theta",
        "500000", "--rms-eps", "1e-6");
    for (Object cmd : new Object[] {fit, prefill}) {
      DecoderOptions o = cmd instanceof FitCommand f ? f.decoder : ((PrefillCommand) cmd).decoder;
      assertEquals(500000, o.config(g).ropeTheta(), cmd.getClass().getSimpleName());
      assertEquals(1e-6, o.config(g).rmsEps(), cmd.getClass().getSimpleName());
    }
  }

  @Test
  void everyFigureNamesItsScope() {
    Result r = CliRun.run("flops", "--model", "llava-1.5-7b", "--prune", "0,300" + ",0".repeat(30));
    assertEquals(0, r.code(), r.err());
    for (String line : r.out().strip().split("\n")) assertTrue(line.contains("paper scope"), line);
    r = CliRun.run("flops", "--model", "llava-1.5-7b", "--prune", "0,300" + ",0".repeat(30), "--scope", "full");
    for (String line : r.out().strip().split("\n")) assertTrue(line.contains("full scope"), line);
  }

  @Test
  void withoutATerminalProgressIsPlainLines() throws Exception {
    Path st = dir.resolve("st.safetensors"), out = dir.resolve("r.json");
    assertEquals(0, CliRun.run("stats-example", "--model", "llava-1.5-7b", "--samples", "3", "--out", st.toString()).code());
    Result quiet = CliRun.run("fit", "--model", "llava-1.5-7b", "--stats", st.toString(), "--budget", "0.4", "--out",
        out.toString());
    assertEquals("", quiet.err(), "a task shorter than the interval prints nothing");
    Progress.plainIntervalSeconds(0);
    try {
      Result r = CliRun.run("fit", "--model", "llava-1.5-7b", "--stats", st.toString(), "--budget", "0.4", "--out",
          out.toString());
      assertEquals(0, r.code(), r.err());
      assertTrue(r.err().lines().anyMatch(l -> l.matches("fit: \\d+/\\d+ \\(\\d+%\\), \\d+ s")), r.err());
      assertTrue(r.err().lines().anyMatch(l -> l.startsWith("fit: done in ")), r.err());
      assertTrue(r.err().chars().noneMatch(c -> c == '\r'), "no carriage returns in a log");
    } finally {
      Progress.plainIntervalSeconds(10);
    }
  }
}
