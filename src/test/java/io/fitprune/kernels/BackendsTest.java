package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

class BackendsTest {
  @Test
  void loadsAndReportsBackendsWithoutAGpu() {
    BackendInfo info = BackendInfo.query();
    assertTrue(info.cpuIsas().contains(Isa.GENERIC));
    assertTrue(info.cpuIsas().contains(info.cpuIsa()), "active path is supported");
    assertTrue(info.cpuThreads() >= 1);
    assertNotNull(info.cudaStatus());
    if (!info.cudaAvailable()) {
      assertTrue(info.cudaStatus().startsWith("unavailable"), info.cudaStatus());
      // Without a device every CUDA entry point fails cleanly, with a reason.
      assertNull(FitPruneNative.fp_cuda_malloc(16));
      assertFalse(FitPruneNative.fp_last_error().isEmpty());
    }
  }

  @Test
  void bestPathIsChosenByDefault() {
    Kernels.useIsa(null);
    var isas = Kernels.supportedIsas();
    assertEquals(isas.get(isas.size() - 1), Kernels.isa());
  }

  /** The CUDA gather against the CPU one; runs only where a device exists. */
  @Test
  void cudaGatherMatchesCpu() {
    BackendInfo info = BackendInfo.query();
    if (!info.cudaAvailable()) System.out.println("CUDA test skipped: " + info.cudaStatus());
    assumeTrue(info.cudaAvailable(), "CUDA test skipped: " + info.cudaStatus());
    int rows = 300, width = 4096 + 4;
    float[] src = Reference.gaussian(new Random(4), (long) rows * width);
    int[] index = {0, 3, 4, 100, 299, 17};
    float[] expected = Kernels.gatherRows(src, width, index);
    Pointer dSrc = FitPruneNative.fp_cuda_malloc(4L * src.length);
    Pointer dIdx = FitPruneNative.fp_cuda_malloc(4L * index.length);
    Pointer dDst = FitPruneNative.fp_cuda_malloc(4L * expected.length);
    try {
      Kernels.check(FitPruneNative.fp_cuda_memcpy(dSrc, new FloatPointer(src), 4L * src.length, FitPruneNative.FP_COPY_H2D));
      Kernels.check(FitPruneNative.fp_cuda_memcpy(dIdx, new IntPointer(index), 4L * index.length, FitPruneNative.FP_COPY_H2D));
      Kernels.check(FitPruneNative.fp_cuda_gather_rows_f32(new FloatPointer(dSrc), rows, width, new IntPointer(dIdx),
          index.length, new FloatPointer(dDst)));
      FloatPointer back = new FloatPointer(expected.length);
      Kernels.check(FitPruneNative.fp_cuda_memcpy(back, dDst, 4L * expected.length, FitPruneNative.FP_COPY_D2H));
      float[] got = new float[expected.length];
      back.get(got);
      assertArrayEquals(expected, got);
    } finally {
      FitPruneNative.fp_cuda_free(dSrc);
      FitPruneNative.fp_cuda_free(dIdx);
      FitPruneNative.fp_cuda_free(dDst);
    }
  }
}
