package io.fitprune.kernels;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

/**
 * Calls that once killed the JVM or wrote past a buffer, run in a child JVM by
 * {@link MemorySafetyTest}. Each must end in a Java exception (or, straight through the binding,
 * an error status); the child prints one line per probe and exits 3 when any probe returned
 * normally.
 */
public final class CrashProbes {
  interface Probe {
    Object call() throws Exception;
  }

  static Map<String, Probe> probes() throws IOException {
    Map<String, Probe> m = new LinkedHashMap<>();
    float[] one = {1f};
    // Span overflow: P + V wraps around in signed 64-bit arithmetic.
    m.put("select-overflow", () -> Kernels.selectKeep(10, new Spans(Long.MAX_VALUE, 1), one, one, 0));
    m.put("select-overflow-visual", () -> Kernels.selectKeep(10, new Spans(1, Long.MAX_VALUE), one, one, 0));
    AttentionShape shape = new AttentionShape(10, 2, 1, 4);
    float[] q = new float[80], kv = new float[40], lse = new float[20];
    m.put("scores-overflow", () -> Kernels.scores(shape, new Spans(Long.MAX_VALUE, 1), q, kv, lse));
    m.put("native-select-overflow", () -> status(FitPruneNative.fp_select_keep(
        new FloatPointer(1), new FloatPointer(1), 10, Long.MAX_VALUE, 1, 0, new IntPointer(10))));
    m.put("native-scores-overflow", () -> status(FitPruneNative.fp_cpu_scores_f32(new FloatPointer(80),
        new FloatPointer(40), new FloatPointer(20), 10, 2, 1, 4, Long.MAX_VALUE, 1, new FloatPointer(1), new FloatPointer(1))));
    m.put("native-select-drop-overflow", () -> status(FitPruneNative.fp_select_keep(
        new FloatPointer(1), new FloatPointer(1), 10, 0, 1, Long.MIN_VALUE, new IntPointer(10))));
    // A C++ exception inside the C API (bad_alloc of an impossible workspace) becomes a status.
    m.put("native-scores-bad-alloc", () -> status(FitPruneNative.fp_cpu_scores_f32(new FloatPointer(1), new FloatPointer(1),
        new FloatPointer(1), Integer.MAX_VALUE, 1, 1, 1024, 0, Integer.MAX_VALUE, new FloatPointer(1), new FloatPointer(1))));
    m.put("native-attention-size-overflow", () -> status(FitPruneNative.fp_cpu_attention_f32(new FloatPointer(1),
        new FloatPointer(1), new FloatPointer(1), Integer.MAX_VALUE, 1 << 30, 1 << 30, 1024, new FloatPointer(1),
        new FloatPointer(1))));
    // Huge allocations: new float[n] with n >= 2^61 threw std::bad_array_new_length in native code.
    m.put("allocate-float-2^61", () -> Data.allocate(ElementType.FP32, 1L << 61));
    m.put("allocate-int-2^61", () -> Data.allocate(ElementType.INT32, 1L << 61));
    m.put("allocate-float-max", () -> Data.allocate(ElementType.FP32, Long.MAX_VALUE));
    m.put("allocate-float-2^60", () -> Data.allocate(ElementType.FP32, 1L << 60)); // representable, but no machine has it
    // Owned memory is freed once, whatever the caller did to its pointer's position; then refused.
    m.put("close-twice-after-position", () -> {
      Data d = Data.allocate(ElementType.FP32, 8);
      d.pointer().position(3);
      d.close();
      d.close();
      return Kernels.gatherRows(new float[8], 1, new int[] {0}).length + d.toFloats().length;
    });
    // A pointer of 4 floats said to hold 4M, used as a gather destination.
    m.put("pointer-capacity", () -> {
      Data dst = Data.of(new FloatPointer(4), 1 << 22);
      int[] index = new int[1 << 22];
      Kernels.gatherRows(Data.of(new float[1]), 1, 1, Data.of(index), dst);
      return dst;
    });
    m.put("pointer-position", () -> Data.of(new FloatPointer(8).position(6), 4));
    m.put("int-pointer-capacity", () -> Data.of(new IntPointer(2), 1000));
    // Read-only memory as an output.
    m.put("read-only-direct", () -> {
      FloatBuffer ro = ByteBuffer.allocateDirect(64).order(ByteOrder.nativeOrder()).asFloatBuffer().asReadOnlyBuffer();
      Kernels.gatherRows(Data.of(new float[16]), 16, 1, Data.of(new int[16]), Data.of(ro));
      return ro;
    });
    m.put("read-only-int", () -> {
      IntBuffer ro = ByteBuffer.allocateDirect(64).order(ByteOrder.nativeOrder()).asIntBuffer().asReadOnlyBuffer();
      Kernels.gatherRows(Data.of(new int[16]), 16, 1, Data.of(new int[16]), Data.of(ro));
      return ro;
    });
    Path file = Files.createTempFile("fitprune-ro", ".bin");
    Files.write(file, new byte[64]);
    file.toFile().deleteOnExit();
    m.put("read-only-mapped", () -> {
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
        FloatBuffer ro = ch.map(FileChannel.MapMode.READ_ONLY, 0, 64).order(ByteOrder.nativeOrder()).asFloatBuffer();
        float[] in = new float[16];
        java.util.Arrays.fill(in, 1f);
        Kernels.gatherRows(Data.of(in), 16, 1, Data.of(new int[16]), Data.of(ro));
        return ro;
      }
    });
    // Shape arithmetic: n*H*d beyond 2^63.
    m.put("shape-q-length", () -> new AttentionShape(Integer.MAX_VALUE, Integer.MAX_VALUE, 1, 1024).qLength());
    m.put("shape-kv-length", () -> new AttentionShape(Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE, 1024).kvLength());
    m.put("gather-rows-overflow", () -> {
      Kernels.gatherRows(Data.of(new float[4]), Long.MAX_VALUE / 2, 4, Data.of(new int[1]), Data.of(new float[4]));
      return null;
    });
    // Array results past the heap this child may use (-Xmx512m): refused before the allocation,
    // not an OutOfMemoryError (which the child does not catch).
    m.put("select-keep-past-heap", () -> Kernels.selectKeep(Integer.MAX_VALUE - 9, new Spans(0, 0), new float[0],
        new float[0], 0));
    m.put("to-array-past-heap", () -> {
      try (Data d = Data.allocate(ElementType.FP32, 1L << 28)) {
        return d.toFloats();
      }
    });
    return m;
  }

  /** A non-OK status is the expected outcome of a call straight through the binding. */
  static Object status(int st) {
    if (st != FitPruneNative.FP_OK) throw new FitPruneException(st, FitPruneNative.fp_last_error());
    return st;
  }

  public static void main(String[] args) throws IOException {
    int returned = 0;
    java.util.List<String> only = java.util.List.of(args); // names to run; all when empty
    for (var e : probes().entrySet()) {
      if (!only.isEmpty() && !only.contains(e.getKey())) continue;
      System.out.println("probe " + e.getKey() + " ...");
      System.out.flush();
      try {
        Object r = e.getValue().call();
        System.out.println("probe " + e.getKey() + ": RETURNED " + r);
        returned++;
      } catch (Exception ex) {
        System.out.println("probe " + e.getKey() + ": " + ex.getClass().getSimpleName() + ": " + ex.getMessage());
      }
    }
    System.exit(returned == 0 ? 0 : 3);
  }
}
