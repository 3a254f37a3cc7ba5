package io.fitprune.cli;

import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsFile;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.io.TensorInfo;
import io.fitprune.kernels.AttentionShape;
import io.fitprune.kernels.Backend;
import io.fitprune.kernels.Bf16Data;
import io.fitprune.kernels.CudaKernels;
import io.fitprune.kernels.DeviceBuffer;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.FloatData;
import io.fitprune.kernels.IntData;
import io.fitprune.kernels.Kernels;
import io.fitprune.kernels.Spans;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** One layer's attention, FitPrune scores and (optionally) the kept rows, from a q/k/v file. */
@Command(name = "score", mixinStandardHelpOptions = true, description = "Attention, FitPrune scores and kept rows for one layer's q/k/v.")
final class ScoreCommand implements Callable<Integer> {
  @Option(names = "--qkv", required = true,
      description = "Safetensors with q [n,H,d], k [n,G,d], v [n,G,d] (RoPE applied), all F32 or all BF16.")
  Path qkv;

  @Option(names = "--prefix", required = true, description = "Prefix length P: visual tokens start at row P.")
  long prefix;

  @Option(names = "--visual", required = true, description = "Number of visual tokens V.")
  long visual;

  @Option(names = "--prune", description = "Drop this many visual tokens and write `keep`.")
  Long prune;

  @Option(names = "--out", required = true, description = "Output safetensors: out, lse, self, cross[, keep].")
  Path out;

  @Option(names = "--backend", defaultValue = "auto",
      description = "cpu, cuda or auto (cuda when a device is present; default ${DEFAULT-VALUE}).")
  String backend;

  @Option(names = "--dtype", defaultValue = "fp32",
      description = "Compute type of q/k/v: fp32, fp16 or bf16 (fp16: cuda only; inputs are rounded to it; default ${DEFAULT-VALUE}).")
  String dtype;

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
      DType stored = first != null && first.dtype() == DType.BF16 ? DType.BF16 : DType.F32;
      TensorInfo q = in.require("q", stored, -1, -1, -1);
      long n = q.shape()[0];
      TensorInfo k = in.require("k", stored, n, -1, q.shape()[2]);
      in.require("v", stored, k.shape());
      AttentionShape shape;
      try {
        shape = new AttentionShape(n, MemoryCheck.arrayLength("heads", q.shape()[1]), MemoryCheck.arrayLength("kv heads",
            k.shape()[1]), MemoryCheck.arrayLength("head dim", q.shape()[2]));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--qkv " + qkv + ": q " + q.shapeString() + ", k " + k.shapeString() + ": " + e.getMessage());
      }
      Spans spans;
      try {
        spans = new Spans(prefix, visual);
        spans.requireWithin(n);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--prefix/--visual: " + e.getMessage());
      }
      if (prune != null && (prune < 0 || prune > visual))
        throw new IllegalArgumentException("--prune must be in [0, --visual=" + visual + "], got " + prune);
      // Outputs live natively and again as Java arrays for the writer: check before allocating any.
      String what = "--qkv " + qkv + " (q " + q.shapeString() + ")";
      long outFloats = shape.qLength() + shape.lseLength() + 2 * visual;
      MemoryCheck.arrayLength(what + ": out bytes", 4 * (long) MemoryCheck.arrayLength(what + ": out", shape.qLength()));
      MemoryCheck.require(what, 4.0 * outFloats, 4.0 * outFloats);
      for (String name : new String[] {"q", "k", "v"}) { // NaN or infinity: a clear error, not a plausible answer
        long[] dims = in.tensors().get(name).shape();
        try {
          Kernels.requireFinite(name, name.equals("q") ? "[n,H,d]" : "[n,G,d]", fp32(in, name), dims);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("--qkv " + qkv + ": " + e.getMessage());
        }
      }

      Backend chosen = Kernels.choose(requested, type);
      if (chosen == Backend.CUDA) {
        runCuda(in, shape, spans, type);
        return 0;
      }
      try (FloatData o = FloatData.allocate(shape.qLength()); FloatData lse = FloatData.allocate(shape.lseLength());
          FloatData self = FloatData.allocate(visual); FloatData cross = FloatData.allocate(visual)) {
        Runnable attention, scores;
        if (type == ElementType.BF16) {
          Bf16Data qd = bf16(in, "q"), kd = bf16(in, "k"), vd = bf16(in, "v");
          attention = () -> Kernels.attention(shape, qd, kd, vd, o, lse);
          scores = () -> Kernels.scores(shape, spans, qd, kd, lse, self, cross);
        } else {
          FloatData qd = fp32(in, "q"), kd = fp32(in, "k"), vd = fp32(in, "v");
          attention = () -> Kernels.attention(shape, qd, kd, vd, o, lse);
          scores = () -> Kernels.scores(shape, spans, qd, kd, lse, self, cross);
        }
        long t0 = 0, t1 = 0, t2 = 0;
        for (int run = 0; run < 2; run++) { // the second run is timed: the first pages in the mapped file
          t0 = System.nanoTime();
          attention.run();
          t1 = System.nanoTime();
          scores.run();
          t2 = System.nanoTime();
        }

        int[] keep = null;
        if (prune != null) {
          try (IntData kept = IntData.allocate(n - prune)) {
            Kernels.selectKeep(n, spans, self, cross, prune, kept);
            keep = kept.toArray();
          }
        }
        writeResult("cpu", type, shape, o.toArray(), lse.toArray(), self.toArray(), cross.toArray(), keep,
            t1 - t0, t2 - t1);
      }
    }
    return 0;
  }

  /** The same on the GPU: q/k/v uploaded as {@code type}, results read back as float32. */
  private void runCuda(SafetensorsFile in, AttentionShape shape, Spans spans, ElementType type) throws Exception {
    long n = shape.tokens();
    try (DeviceBuffer q = DeviceBuffer.of(floats(in, "q"), type); DeviceBuffer k = DeviceBuffer.of(floats(in, "k"), type);
        DeviceBuffer v = DeviceBuffer.of(floats(in, "v"), type);
        DeviceBuffer o = DeviceBuffer.allocate(type, shape.qLength());
        DeviceBuffer lse = DeviceBuffer.allocate(ElementType.FP32, shape.lseLength());
        DeviceBuffer self = DeviceBuffer.allocate(ElementType.FP32, visual);
        DeviceBuffer cross = DeviceBuffer.allocate(ElementType.FP32, visual)) {
      long t0 = 0, t1 = 0, t2 = 0;
      for (int run = 0; run < 2; run++) { // the second run is timed: the first loads the kernels
        t0 = System.nanoTime();
        CudaKernels.attention(shape, q, k, v, o, lse);
        t1 = System.nanoTime();
        CudaKernels.scores(shape, spans, q, k, lse, self, cross);
        t2 = System.nanoTime();
      }
      int[] keep = null;
      if (prune != null) {
        try (DeviceBuffer kept = DeviceBuffer.allocate(ElementType.INT32, n - prune)) {
          CudaKernels.selectKeep(n, spans, self, cross, prune, kept);
          keep = kept.toInts();
        }
      }
      writeResult("cuda", type, shape, o.toFloats(), lse.toFloats(), self.toFloats(), cross.toFloats(), keep,
          t1 - t0, t2 - t1);
    }
  }

  /** An input as bf16: a BF16 tensor zero-copy from the mapped file, an F32 one rounded. */
  private static Bf16Data bf16(SafetensorsFile in, String name) throws java.io.IOException {
    if (in.tensors().get(name).dtype() == DType.BF16) return Bf16Data.of(in.bytes(name).asShortBuffer());
    return Bf16Data.round(in.readFloats(name));
  }

  /** An input as float32: an F32 tensor zero-copy from the mapped file, a BF16 one widened (exactly). */
  private static FloatData fp32(SafetensorsFile in, String name) throws java.io.IOException {
    if (in.tensors().get(name).dtype() == DType.F32) return FloatData.of(in.floats(name));
    return FloatData.of(floats(in, name));
  }

  private static float[] floats(SafetensorsFile in, String name) throws java.io.IOException {
    if (in.tensors().get(name).dtype() == DType.F32) return in.readFloats(name);
    java.nio.ShortBuffer b = in.bytes(name).asShortBuffer();
    float[] out = new float[b.remaining()];
    for (int i = 0; i < out.length; i++) out[i] = Bf16Data.toFloat(b.get(i));
    return out;
  }

  /** Writes OUT (keep as int64, as numpy indexes) and prints the one-line summary; both backends end here. */
  private void writeResult(String backendName, ElementType type, AttentionShape shape, float[] o, float[] lse,
      float[] self, float[] cross, int[] keep, long attentionNs, long scoresNs) throws java.io.IOException {
    long n = shape.tokens();
    SafetensorsWriter w = new SafetensorsWriter()
        .putFloats("out", o, n, shape.heads(), shape.headDim())
        .putFloats("lse", lse, shape.heads(), n)
        .putFloats("self", self, visual)
        .putFloats("cross", cross, visual);
    String kept = "";
    if (keep != null) {
      long[] wide = new long[keep.length];
      for (int i = 0; i < keep.length; i++) wide[i] = keep[i];
      w.putLongs("keep", wide, wide.length);
      kept = String.format(", kept %d of %d rows", keep.length, n);
    }
    w.metadata("prefix", Long.toString(prefix)).metadata("visual", Long.toString(visual))
        .metadata("backend", backendName).metadata("dtype", type.toString()).write(out);
    double flops = 2.0 * n * (n + 1) * shape.headDim() * shape.heads(); // causal: half of 4*n^2*d*H
    System.out.printf("%s %s n=%d H=%d G=%d d=%d P=%d V=%d: attention %.3f ms (%.1f GFLOP/s), scores %.3f ms%s -> %s%n",
        backendName, type, n, shape.heads(), shape.kvHeads(), shape.headDim(), prefix, visual, attentionNs / 1e6,
        flops / attentionNs, scoresNs / 1e6, kept, out);
  }
}
