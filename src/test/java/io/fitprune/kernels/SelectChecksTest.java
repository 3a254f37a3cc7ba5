package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * One select check on each side of the binding: every Java entry point (arrays, Data, a
 * backend, CUDA buffers) refuses the same arguments with the same message, and the CPU and CUDA
 * C entry points refuse the same spans with the same status and message, overflow included.
 */
class SelectChecksTest {
  record Bad(long n, long prefix, long visual, long drop) {}

  static final List<Bad> BAD = List.of(new Bad(10, Long.MAX_VALUE, 1, 0), new Bad(10, 1, Long.MAX_VALUE, 0),
      new Bad(10, 4, 7, 0), new Bad(10, 0, 5, 6), new Bad(10, 0, 5, -1), new Bad(-2, 0, 0, 0),
      new Bad(1L << 31, 0, 0, 0), new Bad(10, 5, 5, Long.MIN_VALUE), new Bad(10, 0, 5, Long.MAX_VALUE));

  static String message(Executable call) {
    return assertThrows(IllegalArgumentException.class, call).getMessage();
  }

  @Test
  void everyJavaEntryPointGivesTheSameMessage() {
    for (Bad b : BAD) {
      Spans s = new Spans(b.prefix(), b.visual());
      float[] one = new float[5];
      List<String> got = new ArrayList<>();
      got.add(message(() -> Kernels.selectKeep(b.n(), s, one, one, b.drop())));
      got.add(message(() -> Kernels.selectKeep(Backend.CPU, b.n(), s, one, one, b.drop())));
      got.add(message(() -> Kernels.selectKeep(b.n(), s, Data.of(one), Data.of(one), b.drop(),
          Data.of(new int[10]))));
      got.add(message(() -> Kernels.selectKeep(b.n(), s, null, null, b.drop(), null)));
      for (String m : got) assertEquals(got.get(0), m, "for " + b);
      assertTrue(got.get(0).contains("n must be") || got.get(0).contains("spans:") || got.get(0).contains("drop (k)"),
          got.get(0));
    }
  }

  @Test
  void cpuAndCudaCChecksAgree() {
    FloatPointer f = new FloatPointer(64);
    IntPointer keep = new IntPointer(64);
    for (Bad b : BAD) {
      int cpu = FitPruneNative.fp_select_keep(f, f, b.n(), b.prefix(), b.visual(), b.drop(), keep);
      String cpuMsg = FitPruneNative.fp_last_error();
      assertEquals(FitPruneNative.FP_ERR_ARG, cpu, b + ": " + cpuMsg);
      if (FitPruneNative.fp_cuda_compiled() == 1) { // the checks run before any device is touched
        assertEquals(cpu, FitPruneNative.fp_cuda_select_keep(f, f, b.n(), b.prefix(), b.visual(), b.drop(), keep, null));
        assertEquals(cpuMsg, FitPruneNative.fp_last_error());
      }
      if (b.n() >= 0 && b.n() < (1L << 31) && b.drop() == 0) { // span errors of the score pass
        int st = FitPruneNative.fp_cpu_scores_f32(f, f, f, b.n(), 1, 1, 64, b.prefix(), b.visual(), f, f);
        String msg = FitPruneNative.fp_last_error();
        assertEquals(FitPruneNative.FP_ERR_ARG, st, msg);
        assertTrue(msg.startsWith("spans must satisfy"), msg);
        if (FitPruneNative.fp_cuda_compiled() == 1) {
          assertEquals(st, FitPruneNative.fp_cuda_scores(f, f, f, b.n(), 1, 1, 64, 0, 0.125f, b.prefix(), b.visual(), f, f, null));
          assertEquals(msg, FitPruneNative.fp_last_error());
        }
      }
    }
  }
}
