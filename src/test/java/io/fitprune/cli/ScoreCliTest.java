package io.fitprune.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fitprune.cli.CliRun.Result;
import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ScoreCliTest {
  @TempDir Path dir;

  @Test
  void infoReportsBackends() {
    Result r = CliRun.run("info");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("cpu:") && r.out().contains("cuda:"), r.out());
  }

  @Test
  void generateThenScoreMatchesTheKernels() throws Exception {
    Path qkv = dir.resolve("qkv.safetensors"), out = dir.resolve("out.safetensors");
    assertEquals(0, CliRun.run("generate", "--out", qkv.toString(), "--tokens", "90", "--heads", "8", "--kv-heads", "2",
        "--head-dim", "64").code());
    Result r = CliRun.run("score", "--qkv", qkv.toString(), "--prefix", "5", "--visual", "60", "--prune", "20", "--out", out.toString());
    assertEquals(0, r.code(), r.err());
    try (SafetensorsFile in = SafetensorsFile.open(qkv); SafetensorsFile res = SafetensorsFile.open(out)) {
      float[] q = in.readFloats("q"), k = in.readFloats("k"), v = in.readFloats("v");
      AttentionShape shape = new AttentionShape(90, 8, 2, 64);
      Kernels.AttentionOutput a = Kernels.attention(shape, q, k, v);
      Kernels.Scores s = Kernels.scores(shape, new Spans(5, 60), q, k, a.lse());
      assertArrayEquals(a.out(), res.readFloats("out"));
      assertArrayEquals(a.lse(), res.readFloats("lse"));
      assertArrayEquals(s.self(), res.readFloats("self"));
      assertArrayEquals(s.cross(), res.readFloats("cross"));
      res.require("keep", DType.I64, 70);
      int[] keep = Kernels.selectKeep(90, new Spans(5, 60), s.self(), s.cross(), 20);
      long[] expected = new long[keep.length];
      for (int i = 0; i < keep.length; i++) expected[i] = keep[i];
      assertArrayEquals(expected, res.readLongs("keep"));
    }
  }

  /** The contract: BF16 q/k/v in, on the CPU; OUT keeps its tensor names, out/lse/self/cross F32, keep I64. */
  @Test
  void scoreBf16OnTheCpuReadsBf16Inputs() throws Exception {
    Path bf = dir.resolve("bf16.safetensors"), f32 = dir.resolve("f32.safetensors");
    Path out1 = dir.resolve("o1.safetensors"), out2 = dir.resolve("o2.safetensors");
    String[] sizes = {"--tokens", "61", "--heads", "4", "--kv-heads", "2", "--head-dim", "64", "--seed", "3"};
    assertEquals(0, CliRun.run(concat(new String[] {"generate", "--out", bf.toString(), "--dtype", "bf16"}, sizes)).code());
    assertEquals(0, CliRun.run(concat(new String[] {"generate", "--out", f32.toString()}, sizes)).code());
    Result r = CliRun.run("score", "--qkv", bf.toString(), "--prefix", "3", "--visual", "40", "--prune", "10",
        "--backend", "cpu", "--dtype", "bf16", "--out", out1.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("cpu bf16"), r.out());
    // An F32 file is rounded to bf16 on the way in: the same results as the BF16 file of the same draw.
    assertEquals(0, CliRun.run("score", "--qkv", f32.toString(), "--prefix", "3", "--visual", "40", "--prune", "10",
        "--backend", "cpu", "--dtype", "bf16", "--out", out2.toString()).code());
    try (SafetensorsFile in = SafetensorsFile.open(bf); SafetensorsFile res = SafetensorsFile.open(out1);
        SafetensorsFile res2 = SafetensorsFile.open(out2)) {
      in.require("q", DType.BF16, 61, 4, 64);
      AttentionShape shape = new AttentionShape(61, 4, 2, 64);
      Data q = Data.bf16(in.bytes("q").asShortBuffer()), k = Data.bf16(in.bytes("k").asShortBuffer()),
          v = Data.bf16(in.bytes("v").asShortBuffer());
      float[] o = new float[(int) shape.qLength()], lse = new float[(int) shape.lseLength()];
      float[] self = new float[40], cross = new float[40];
      Kernels.attention(shape, q, k, v, Data.of(o), Data.of(lse));
      Kernels.scores(shape, new Spans(3, 40), q, k, Data.of(lse), Data.of(self), Data.of(cross));
      res.require("out", DType.F32, 61, 4, 64);
      res.require("lse", DType.F32, 4, 61);
      assertArrayEquals(o, res.readFloats("out"));
      assertArrayEquals(lse, res.readFloats("lse"));
      assertArrayEquals(self, res.readFloats("self"));
      assertArrayEquals(cross, res.readFloats("cross"));
      res.require("keep", DType.I64, 51);
      for (String name : new String[] {"out", "lse", "self", "cross"})
        assertArrayEquals(res.readFloats(name), res2.readFloats(name), name);
      assertArrayEquals(res.readLongs("keep"), res2.readLongs("keep"));
      assertEquals("bf16", res.metadata().get("dtype"));
    }
  }

  private static String[] concat(String[] a, String[] b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  static void oneLineError(Result r, int code, String fragment) {
    assertEquals(code, r.code(), r.err());
    assertTrue(r.err().contains(fragment), "expected '" + fragment + "' in: " + r.err());
    assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
  }

  @Test
  void badArgumentsAndFilesGiveOneLine() throws Exception {
    Path qkv = dir.resolve("qkv.safetensors");
    CliRun.run("generate", "--out", qkv.toString(), "--tokens", "20", "--heads", "2", "--kv-heads", "2", "--head-dim", "8");
    String out = dir.resolve("o.safetensors").toString();
    oneLineError(CliRun.run("score", "--qkv", qkv.toString(), "--prefix", "5", "--visual", "30", "--out", out), 2, "must be <= n (20)");
    oneLineError(CliRun.run("score", "--qkv", qkv.toString(), "--prefix", "0", "--visual", "10", "--prune", "11", "--out", out), 2, "--prune");
    oneLineError(CliRun.run("score", "--qkv", dir.resolve("nope").toString(), "--prefix", "0", "--visual", "1", "--out", out), 1, "no such file");
    oneLineError(CliRun.run("score", "--qkv", qkv.toString(), "--prefix", "x", "--visual", "1", "--out", out), 2, "--prefix");
    oneLineError(CliRun.run("generate", "--out", out, "--heads", "6", "--kv-heads", "4"), 2, "multiple of kvHeads");
    Path wrong = dir.resolve("wrong.safetensors");
    new SafetensorsWriter().putFloats("q", new float[24], 2, 3, 4).putFloats("k", new float[12], 2, 3, 2)
        .putFloats("v", new float[12], 2, 3, 2).write(wrong);
    oneLineError(CliRun.run("score", "--qkv", wrong.toString(), "--prefix", "0", "--visual", "1", "--out", out), 1, "tensor 'k' must have shape");
    Path corrupt = dir.resolve("corrupt.safetensors");
    Files.writeString(corrupt, "garbage that is not a safetensors file");
    oneLineError(CliRun.run("score", "--qkv", corrupt.toString(), "--prefix", "0", "--visual", "1", "--out", out), 1, "header length");
  }

  @Test
  void scoreBackendAndDtypeOptions() throws Exception {
    Path qkv = dir.resolve("small.safetensors"), out = dir.resolve("o.safetensors");
    assertEquals(0, CliRun.run("generate", "--out", qkv.toString(), "--tokens", "40", "--heads", "2", "--kv-heads", "2",
        "--head-dim", "64").code());
    String in = qkv.toString(), o = out.toString();
    oneLineError(CliRun.run("score", "--qkv", in, "--prefix", "2", "--visual", "20", "--backend", "cpu", "--dtype", "fp16",
        "--out", o), 2, "--dtype fp16 needs --backend cuda");
    oneLineError(CliRun.run("score", "--qkv", in, "--prefix", "2", "--visual", "20", "--dtype", "fp8", "--out", o), 2, "dtype must be one of");
    oneLineError(CliRun.run("score", "--qkv", in, "--prefix", "2", "--visual", "20", "--backend", "tpu", "--out", o), 2, "backend must be one of");
    Result cpu = CliRun.run("score", "--qkv", in, "--prefix", "2", "--visual", "20", "--backend", "cpu", "--out", o);
    assertEquals(0, cpu.code(), cpu.err());
    assertTrue(cpu.out().startsWith("cpu fp32"), cpu.out());
    if (!io.fitprune.kernels.Kernels.cudaAvailable()) {
      oneLineError(CliRun.run("score", "--qkv", in, "--prefix", "2", "--visual", "20", "--backend", "cuda", "--out", o), 1,
          "CUDA backend unavailable");
      System.out.println("CUDA CLI run skipped: " + io.fitprune.kernels.Kernels.info().cudaStatus());
    } else {
      Result r = CliRun.run("score", "--qkv", in, "--prefix", "2", "--visual", "20", "--backend", "cuda", "--dtype", "bf16",
          "--prune", "5", "--out", o);
      assertEquals(0, r.code(), r.err());
      assertTrue(r.out().startsWith("cuda bf16"), r.out());
    }
  }

  /** A packed batch in the input: outputs concatenated in sequence order, keep global and ascending. */
  @Test
  void scoreTakesAPackedBatch() throws Exception {
    Path gen = dir.resolve("gen.safetensors"), qkv = dir.resolve("batch.safetensors"), out = dir.resolve("b.safetensors");
    assertEquals(0, CliRun.run("generate", "--out", gen.toString(), "--tokens", "100", "--heads", "4", "--kv-heads", "2",
        "--head-dim", "64").code());
    long[] cu = {0, 1, 41, 41, 70, 100};
    long[] spans = {0, 1, 3, 30, 0, 0, 2, 0, 5, 25}; // n = 1, a cut, an empty sequence, V = 0, no text rows
    long[] prune = {1, 10, 0, 0, 20};
    Batch batch = Batch.ofOffsets(cu);
    Spans[] sp = new Spans[5];
    for (int b = 0; b < 5; b++) sp[b] = new Spans(spans[2 * b], spans[2 * b + 1]);
    try (SafetensorsFile in = SafetensorsFile.open(gen)) {
      float[] q = in.readFloats("q"), k = in.readFloats("k"), v = in.readFloats("v");
      new SafetensorsWriter().putFloats("q", q, 100, 4, 64).putFloats("k", k, 100, 2, 64).putFloats("v", v, 100, 2, 64)
          .putLongs("cu_seqlens", cu, 6).putLongs("spans", spans, 5, 2).putLongs("prune", prune, 5).write(qkv);
      Result r = CliRun.run("score", "--qkv", qkv.toString(), "--backend", "cpu", "--out", out.toString());
      assertEquals(0, r.code(), r.err());
      BatchShape shape = new BatchShape(batch, 4, 2, 64);
      Kernels.AttentionOutput a = Kernels.attention(shape, q, k, v);
      Kernels.Scores s = Kernels.scores(shape, sp, q, k, a.lse());
      int[] keep = Kernels.selectKeep(batch, sp, s.self(), s.cross(), prune);
      try (SafetensorsFile res = SafetensorsFile.open(out)) {
        res.require("out", DType.F32, 100, 4, 64);
        res.require("lse", DType.F32, 4, 100);
        res.require("self", DType.F32, 56);
        assertArrayEquals(a.out(), res.readFloats("out"));
        assertArrayEquals(a.lse(), res.readFloats("lse"));
        assertArrayEquals(s.self(), res.readFloats("self"));
        assertArrayEquals(s.cross(), res.readFloats("cross"));
        long[] expected = new long[keep.length];
        for (int i = 0; i < keep.length; i++) expected[i] = keep[i];
        assertEquals(100 - 31, expected.length);
        assertArrayEquals(expected, res.readLongs("keep"));
      }
      // --prune K drops K in every sequence when the file has no prune
      Path noPrune = dir.resolve("np.safetensors");
      new SafetensorsWriter().putFloats("q", q, 100, 4, 64).putFloats("k", k, 100, 2, 64).putFloats("v", v, 100, 2, 64)
          .putLongs("cu_seqlens", cu, 6).putLongs("spans", spans, 5, 2).write(noPrune);
      oneLineError(CliRun.run("score", "--qkv", noPrune.toString(), "--backend", "cpu", "--prune", "1", "--out", out.toString()),
          2, "--prune must be in [0, visual of sequence 2 = 0]");
      oneLineError(CliRun.run("score", "--qkv", qkv.toString(), "--backend", "cpu", "--prune", "1", "--out", out.toString()),
          2, "--prune cannot be used with an input holding prune");
      oneLineError(CliRun.run("score", "--qkv", qkv.toString(), "--prefix", "0", "--visual", "1", "--out", out.toString()),
          2, "--prefix/--visual cannot be used");
      Path bad = dir.resolve("bad.safetensors");
      new SafetensorsWriter().putFloats("q", q, 100, 4, 64).putFloats("k", k, 100, 2, 64).putFloats("v", v, 100, 2, 64)
          .putLongs("cu_seqlens", new long[] {0, 50, 40, 100}, 4).putLongs("spans", new long[6], 3, 2).write(bad);
      oneLineError(CliRun.run("score", "--qkv", bad.toString(), "--out", out.toString()), 2, "input cu_seqlens");
      new SafetensorsWriter().putFloats("q", q, 100, 4, 64).putFloats("k", k, 100, 2, 64).putFloats("v", v, 100, 2, 64)
          .putLongs("cu_seqlens", new long[] {0, 50, 100}, 3).putLongs("spans", new long[] {0, 10, 45, 6}, 2, 2).write(bad);
      oneLineError(CliRun.run("score", "--qkv", bad.toString(), "--out", out.toString()), 2, "input spans[1]");
      oneLineError(CliRun.run("score", "--qkv", gen.toString(), "--out", out.toString()), 2, "--prefix and --visual are required");
    }
  }
}
