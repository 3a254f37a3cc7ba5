package io.fitprune.cli;

import io.fitprune.io.DType;
import io.fitprune.io.SafetensorsWriter;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Writes random q, k, v of one layer, the input `score` expects, for trying the tool out. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Write a random q/k/v safetensors file (one attention layer) for `score`.")
final class GenerateCommand implements Callable<Integer> {
  @Option(names = "--out", required = true, description = "Output safetensors file.")
  Path out;

  @Option(names = "--tokens", defaultValue = "650", description = "Sequence length n (default: ${DEFAULT-VALUE}, LLaVA-1.5).")
  int n;

  @Option(names = "--heads", defaultValue = "32", description = "Query heads H (default: ${DEFAULT-VALUE}).")
  int heads;

  @Option(names = "--kv-heads", defaultValue = "32", description = "Key/value heads G (default: ${DEFAULT-VALUE}).")
  int kvHeads;

  @Option(names = "--head-dim", defaultValue = "128", description = "Head dimension d (default: ${DEFAULT-VALUE}).")
  int headDim;

  @Option(names = "--dtype", defaultValue = "fp32", description = "fp32 or bf16 (default: ${DEFAULT-VALUE}).")
  String dtype;

  @Option(names = "--seed", defaultValue = "1", description = "Random seed (default: ${DEFAULT-VALUE}).")
  long seed;

  @Override
  public Integer call() throws Exception {
    CliPaths.output("--out", out);
    io.fitprune.kernels.AttentionShape shape;
    try {
      shape = new io.fitprune.kernels.AttentionShape(n, heads, kvHeads, headDim); // validates the sizes
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--tokens/--heads/--kv-heads/--head-dim: " + e.getMessage());
    }
    MemoryCheck.arrayLength("--tokens * --heads * --head-dim", shape.qLength());
    MemoryCheck.require("--tokens/--heads/--kv-heads/--head-dim", 0, 4.0 * (shape.qLength() + 2 * shape.kvLength()) * 2);
    ElementType type = ElementType.parseFloat(dtype);
    if (type == ElementType.FP16) throw new IllegalArgumentException("--dtype must be fp32 or bf16, got fp16");
    Random rnd = new Random(seed);
    SafetensorsWriter w = new SafetensorsWriter();
    put(w, type, "q", gaussian(rnd, (long) n * heads * headDim), n, heads, headDim);
    put(w, type, "k", gaussian(rnd, (long) n * kvHeads * headDim), n, kvHeads, headDim);
    put(w, type, "v", gaussian(rnd, (long) n * kvHeads * headDim), n, kvHeads, headDim);
    w.metadata("generator", "fitprune generate --seed " + seed + " --dtype " + type);
    w.write(out);
    System.out.printf("wrote %s: %s q [%d,%d,%d], k and v [%d,%d,%d]%n", out, type, n, heads, headDim, n, kvHeads, headDim);
    return 0;
  }

  private static void put(SafetensorsWriter w, ElementType type, String name, float[] values, long... shape) {
    if (type == ElementType.BF16) w.putShorts(name, DType.BF16, Data.roundBf16(values).toShorts(), shape);
    else w.putFloats(name, values, shape);
  }

  private static float[] gaussian(Random rnd, long count) {
    float[] a = new float[(int) count]; // checked by the caller
    for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
    return a;
  }
}
