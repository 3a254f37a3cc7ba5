package io.fitprune.cli;

import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.io.TensorInfo;
import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Backend;
import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.Bf16;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.DeviceBuffer;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * One layer's attention, FitPrune scores and (optionally) the kept rows, from a q/k/v file: one
 * sequence with --prefix/--visual, or a packed batch described in the file itself
 * ({@code cu_seqlens} I64 [B+1], {@code spans} I64 [B,2] of (prefix, visual), optional
 * {@code prune} I64 [B]). Batch outputs: {@code self}/{@code cross} concatenated in sequence
 * order, {@code keep} global row indices, ascending.
 */
@Command(name = "score", mixinStandardHelpOptions = true, description = "Attention, FitPrune scores and kept rows for one layer's q/k/v (one sequence or a packed batch).")
final class ScoreCommand implements Callable<Integer> {
  @Option(names = "--qkv", required = true, description = "Safetensors with q [n,H,d], k [n,G,d], v [n,G,d] (RoPE applied), all F32 "
      + "or all BF16; for a packed batch also cu_seqlens I64 [B+1], spans I64 [B,2] (prefix, visual) and optionally prune I64 [B].")
  Path qkv;

  @Option(names = "--prefix", description = "Prefix length P: visual tokens start at row P (one sequence; not with cu_seqlens).")
  Long prefix;

  @Option(names = "--visual", description = "Number of visual tokens V (one sequence; not with cu_seqlens).")
  Long visual;

  @Option(names = "--prune", description = "Drop this many visual tokens (in every sequence of a batch without `prune`) and write `keep`.")
  Long prune;

  @Option(names = "--out", required = true, description = "Output safetensors: out, lse, self, cross[, keep].")
  Path out;

  @Option(names = "--backend", defaultValue = "auto",
      description = "cpu, cuda or auto (cuda when a device is present; default ${DEFAULT-VALUE}).")
  String backend;

  @Option(names = "--dtype", defaultValue = "fp32",
      description = "Compute type of q/k/v: fp32, fp16 or bf16 (fp16: cuda only; inputs are rounded to it; default ${DEFAULT-VALUE}).")
  String dtype;

  /** Sequences in one packed input: each costs its own work items and bookkeeping in every pass. */
  static final int MAX_SEQUENCES = 1 << 16;

  /** The sequences of the input, their spans and how many visual tokens to drop in each (null: no selection). */
  private record Request(Batch batch, Spans[] spans, long[] drop) {
    long visual() {
      long v = 0;
      for (Spans sp : spans) v += sp.visual();
      return v;
    }
  }

  @Override
  public Integer call() throws Exception {
    CliPaths.input("--qkv", qkv);
    CliPaths.output("--out", out);
    Backend requested = Backend.parse(backend);
    ElementType type = ElementType.parseFloat(dtype);
    if (requested == Backend.CPU && type == ElementType.FP16)
      throw new IllegalArgumentException("--dtype " + type + " needs --backend cuda (the CPU backend computes in fp32 and bf16)");
    try (SafetensorsFile in = SafetensorsFile.open(qkv)) {
      TensorInfo first = in.tensors().get("q");
      boolean bf16 = first != null && first.dtype() == DType.BF16;
      TensorInfo q = bf16 ? in.require("q", DType.BF16, -1, -1, -1) : in.requireFloats("q", -1, -1, -1);
      long n = q.shape()[0];
      TensorInfo k = bf16 ? in.require("k", DType.BF16, n, -1, q.shape()[2]) : in.requireFloats("k", n, -1, q.shape()[2]);
      if (bf16) in.require("v", DType.BF16, k.shape());
      else in.requireFloats("v", k.shape());
      Request req = in.tensors().containsKey("cu_seqlens") ? batchRequest(in, n) : singleRequest(n);
      BatchShape shape;
      try {
        shape = new BatchShape(req.batch(), MemoryCheck.arrayLength("heads", q.shape()[1]),
            MemoryCheck.arrayLength("kv heads", k.shape()[1]), MemoryCheck.arrayLength("head dim", q.shape()[2]));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--qkv " + qkv + ": q " + q.shapeString() + ", k " + k.shapeString() + ": " + e.getMessage());
      }
      // Outputs live natively and again as Java arrays for the writer: check before allocating any.
      String what = "--qkv " + qkv + " (q " + q.shapeString() + ")";
      AttentionShape packed = shape.packed();
      long outFloats = packed.qLength() + packed.lseLength() + 2 * req.visual();
      MemoryCheck.arrayLength(what + ": out bytes", 4 * (long) MemoryCheck.arrayLength(what + ": out", packed.qLength()));
      MemoryCheck.require(what, 4.0 * outFloats, 4.0 * outFloats);
      for (String name : new String[] {"q", "k", "v"}) { // NaN or infinity: a clear error, not a plausible answer
        long[] dims = in.tensors().get(name).shape();
        try {
          Kernels.requireFinite(name, name.equals("q") ? "[n,H,d]" : "[n,G,d]", fp32(in, name), dims);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("--qkv " + qkv + ": " + e.getMessage());
        }
      }

      boolean cuda = Kernels.choose(requested, type) == Backend.CUDA;
      long visual = req.visual();
      AttentionShape all = shape.packed();
      // CPU: the mapped tensors in place, fp32 out; CUDA: device copies of type, out of type
      try (Data qd = input(in, "q", cuda, type); Data kd = input(in, "k", cuda, type); Data vd = input(in, "v", cuda, type);
          Data o = output(cuda ? type : ElementType.FP32, all.qLength(), cuda);
          Data lse = output(ElementType.FP32, all.lseLength(), cuda);
          Data self = output(ElementType.FP32, visual, cuda); Data cross = output(ElementType.FP32, visual, cuda)) {
        long t0 = 0, t1 = 0, t2 = 0;
        for (int run = 0; run < 2; run++) { // the second run is timed: the first pages in the file or loads the kernels
          t0 = System.nanoTime();
          Kernels.attention(shape, qd, kd, vd, o, lse);
          t1 = System.nanoTime();
          Kernels.scores(shape, req.spans(), qd, kd, lse, self, cross);
          t2 = System.nanoTime();
        }
        float[] s = self.toFloats(), c = cross.toFloats();
        int[] keep = req.drop() == null ? null : Kernels.selectKeep(req.batch(), req.spans(), s, c, req.drop());
        writeResult(cuda ? "cuda" : "cpu", type, shape, req, o.toFloats(), lse.toFloats(), s, c, keep, t1 - t0, t2 - t1);
      }
    }
    return 0;
  }

  /** An input on the CPU (bf16 or fp32 as the dtype says, zero-copy where the file allows) or on the device as {@code type}. */
  private static Data input(SafetensorsFile in, String name, boolean cuda, ElementType type) throws java.io.IOException {
    if (cuda) return DeviceBuffer.of(floats(in, name), type);
    return type == ElementType.BF16 ? bf16(in, name) : fp32(in, name);
  }

  private static Data output(ElementType type, long length, boolean cuda) {
    return cuda ? DeviceBuffer.allocate(type, length) : Data.allocate(type, length);
  }

  private Request singleRequest(long n) {
    if (prefix == null || visual == null)
      throw new IllegalArgumentException("--prefix and --visual are required unless the input holds cu_seqlens");
    Spans spans;
    try {
      spans = new Spans(prefix, visual);
      spans.requireWithin(n);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--prefix/--visual: " + e.getMessage());
    }
    if (prune != null && (prune < 0 || prune > visual))
      throw new IllegalArgumentException("--prune must be in [0, --visual=" + visual + "], got " + prune);
    return new Request(Batch.single(n), new Spans[] {spans}, prune == null ? null : new long[] {prune});
  }

  /** cu_seqlens, spans and prune from the input, each checked and named as in the file. */
  private Request batchRequest(SafetensorsFile in, long n) throws java.io.IOException {
    if (prefix != null || visual != null)
      throw new IllegalArgumentException("--prefix/--visual cannot be used with an input holding cu_seqlens (spans come from the file)");
    in.require("cu_seqlens", DType.I64, -1);
    long[] cu = in.readLongs("cu_seqlens");
    Batch batch;
    try {
      batch = Batch.ofOffsets(cu);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("input cu_seqlens: " + e.getMessage());
    }
    if (batch.tokens() != n)
      throw new IllegalArgumentException("input cu_seqlens must end at n = " + n + " (the rows of q), got " + batch.tokens());
    int B = batch.size();
    if (B > MAX_SEQUENCES)
      throw new IllegalArgumentException("input cu_seqlens holds " + B + " sequences, more than the " + MAX_SEQUENCES
          + " one packed call takes");
    in.require("spans", DType.I64, B, 2);
    long[] flat = in.readLongs("spans");
    Spans[] spans = new Spans[B];
    for (int b = 0; b < B; b++) {
      long P = flat[2 * b], V = flat[2 * b + 1], len = batch.length(b);
      if (P < 0 || V < 0 || P > len || V > len - P)
        throw new IllegalArgumentException("input spans[" + b + "] = (" + P + ", " + V
            + "): need 0 <= prefix, 0 <= visual, prefix + visual <= the sequence's length " + len);
      spans[b] = new Spans(P, V);
    }
    long[] drop = null;
    if (in.tensors().containsKey("prune")) {
      if (prune != null) throw new IllegalArgumentException("--prune cannot be used with an input holding prune");
      in.require("prune", DType.I64, B);
      drop = in.readLongs("prune");
    } else if (prune != null) {
      drop = new long[B];
      java.util.Arrays.fill(drop, prune);
    }
    if (drop != null)
      for (int b = 0; b < B; b++)
        if (drop[b] < 0 || drop[b] > spans[b].visual())
          throw new IllegalArgumentException((prune != null ? "--prune" : "input prune[" + b + "]") + " must be in [0, visual of sequence "
              + b + " = " + spans[b].visual() + "], got " + drop[b]);
    return new Request(batch, spans, drop);
  }

  /** An input as bf16: a BF16 tensor zero-copy from the mapped file, an F32 one rounded. */
  private static Data bf16(SafetensorsFile in, String name) throws java.io.IOException {
    if (in.tensors().get(name).dtype() == DType.BF16) return Data.bf16(in.bytes(name).asShortBuffer());
    return Data.roundBf16(in.readFloats(name));
  }

  /** An input as float32: an F32 tensor zero-copy from the mapped file, F64 converted, a BF16 one widened (exactly). */
  private static Data fp32(SafetensorsFile in, String name) throws java.io.IOException {
    if (in.tensors().get(name).dtype() != DType.BF16) return Data.of(in.floats(name));
    return Data.of(floats(in, name));
  }

  private static float[] floats(SafetensorsFile in, String name) throws java.io.IOException {
    if (in.tensors().get(name).dtype() != DType.BF16) return in.readFloats(name); // F32, or F64 converted
    java.nio.ShortBuffer b = in.bytes(name).asShortBuffer();
    float[] out = new float[b.remaining()];
    for (int i = 0; i < out.length; i++) out[i] = Bf16.toFloat(b.get(i));
    return out;
  }

  private static float[] slice(float[] a, long from, long count) {
    return java.util.Arrays.copyOfRange(a, Math.toIntExact(from), Math.toIntExact(from + count));
  }

  /**
   * The CPU backend refuses outputs that overflowed from finite inputs; the CUDA kernels do not
   * check, so their results read back get the same rule here: out, lse, self and cross finite, and
   * |lse| below 2^24 (beyond it the score pass's probabilities are rounding noise).
   */
  private static void requireFiniteResults(BatchShape shape, float[] o, float[] lse, float[] self, float[] cross) {
    long n = shape.batch().tokens();
    int H = shape.heads(), d = shape.headDim();
    for (int i = 0; i < lse.length; i++)
      if (!(Math.abs(lse[i]) < 0x1p24f))
        throw overflow("lse [H,n] is " + lse[i] + " at [" + i / n + ", " + i % n + "] (head " + i / n + ", row " + i % n + ")");
    for (int i = 0; i < o.length; i++)
      if (!Float.isFinite(o[i])) {
        long row = i / ((long) H * d), head = i / d % H;
        throw overflow("out [n,H,d] is not finite at [" + row + ", " + head + ", " + i % d + "] (row " + row + ", head " + head + ")");
      }
    for (int i = 0; i < self.length; i++)
      if (!Float.isFinite(self[i]) || !Float.isFinite(cross[i]))
        throw overflow((Float.isFinite(self[i]) ? "cross" : "self") + " [V] is not finite at [" + i + "]");
  }

  private static io.fitprune.kernels.FitPruneException overflow(String what) {
    return new io.fitprune.kernels.FitPruneException(io.fitprune.kernels.FitPruneNative.FP_ERR_VALUE,
        "cuda: " + what + " although q, k and v are finite: q*k is too large for the attention's float32");
  }

  /** Writes OUT (keep as int64, as numpy indexes) and prints the one-line summary; both backends end here. */
  private void writeResult(String backendName, ElementType type, BatchShape shape, Request req, float[] o, float[] lse,
      float[] self, float[] cross, int[] keep, long attentionNs, long scoresNs) throws java.io.IOException {
    if (backendName.equals("cuda")) requireFiniteResults(shape, o, lse, self, cross);
    long n = shape.batch().tokens(), visualAll = req.visual();
    SafetensorsWriter w = new SafetensorsWriter()
        .putFloats("out", o, n, shape.heads(), shape.headDim())
        .putFloats("lse", lse, shape.heads(), n)
        .putFloats("self", self, visualAll)
        .putFloats("cross", cross, visualAll);
    String kept = "";
    if (keep != null) {
      long[] wide = new long[keep.length];
      for (int i = 0; i < keep.length; i++) wide[i] = keep[i];
      w.putLongs("keep", wide, wide.length);
      kept = String.format(", kept %d of %d rows", keep.length, n);
    }
    int B = shape.batch().size();
    String spans;
    if (B == 1) {
      w.metadata("prefix", Long.toString(req.spans()[0].prefix())).metadata("visual", Long.toString(req.spans()[0].visual()));
      spans = "P=" + req.spans()[0].prefix() + " V=" + req.spans()[0].visual();
    } else {
      w.metadata("batch", Integer.toString(B));
      spans = "B=" + B + " V=" + visualAll;
    }
    w.metadata("backend", backendName).metadata("dtype", type.toString()).write(out);
    double flops = 0;
    for (int b = 0; b < B; b++) { // causal: half of 4*n^2*d*H per sequence
      long nb = shape.batch().length(b);
      flops += 2.0 * nb * (nb + 1) * shape.headDim() * shape.heads();
    }
    System.out.printf("%s %s n=%d H=%d G=%d d=%d %s: attention %.3f ms (%.1f GFLOP/s), scores %.3f ms%s -> %s%n",
        backendName, type, n, shape.heads(), shape.kvHeads(), shape.headDim(), spans, attentionNs / 1e6,
        flops / attentionNs, scoresNs / 1e6, kept, out);
  }
}
