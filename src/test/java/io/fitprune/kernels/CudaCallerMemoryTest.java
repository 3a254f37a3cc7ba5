package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;

/**
 * CUDA on the caller's memory and stream: wrapped device pointers, stream forms that only
 * enqueue, the device status word. Validation and the C API's checks run everywhere (fake
 * addresses never reach a kernel: every case fails before a launch); the kernels run where a
 * device exists.
 */
class CudaCallerMemoryTest {
  private static final AttentionShape SHAPE = new AttentionShape(203, 4, 2, 64);
  private static final Spans SPANS = new Spans(11, 150);
  private static final long BASE = 0x7f0000000000L; // a fake, 256-byte aligned device address

  private static DeviceBuffer fake(ElementType t, long length, int slot) {
    return DeviceBuffer.wrap(BASE + ((long) slot << 32), t, length);
  }

  // ---- everywhere ----

  @Test
  void wrapValidatesAndNeverOwns() {
    var e = assertThrows(IllegalArgumentException.class, () -> DeviceBuffer.wrap(0, ElementType.FP16, 4));
    assertTrue(e.getMessage().contains("null device pointer"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> DeviceBuffer.wrap(BASE + 2, ElementType.FP32, 4));
    assertTrue(e.getMessage().contains("not aligned to fp32"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> DeviceBuffer.wrap(BASE, ElementType.FP32, -1));
    e = assertThrows(IllegalArgumentException.class, () -> DeviceBuffer.wrap(BASE, ElementType.FP32, Long.MAX_VALUE / 2));
    assertTrue(e.getMessage().contains("overflow"), e.getMessage());
    assertThrows(NullPointerException.class, () -> DeviceBuffer.wrap(BASE, null, 4));
    DeviceBuffer b = DeviceBuffer.wrap(BASE + 2, ElementType.BF16, 5);
    assertEquals(BASE + 2, b.pointer().address());
    assertEquals(10, b.bytes());
    assertTrue(b.toString().contains("wrapped"), b.toString());
    b.close(); // no native call: the memory is the caller's
    assertThrows(IllegalStateException.class, b::pointer);
    assertEquals(0, CudaStream.wrap(0).handle());
    assertEquals(CudaStream.DEFAULT, CudaStream.wrap(0));
    CudaStream s = CudaStream.wrap(0x1234);
    s.close(); // the caller's stream: left alone
    assertEquals(0x1234, s.pointer().address());
  }

  @Test
  void streamFormsValidateBeforeAnyNativeCall() {
    DeviceBuffer q = fake(ElementType.FP16, SHAPE.qLength(), 0), k = fake(ElementType.FP16, SHAPE.kvLength(), 1),
        v = fake(ElementType.FP16, SHAPE.kvLength(), 2), out = fake(ElementType.FP16, SHAPE.qLength(), 3),
        lse = fake(ElementType.FP32, SHAPE.lseLength(), 4), self = fake(ElementType.FP32, SPANS.visual(), 5),
        cross = fake(ElementType.FP32, SPANS.visual(), 6), shortKeep = fake(ElementType.INT32, 10, 7);
    CudaStream s = CudaStream.wrap(0x1234);
    var e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.attention(SHAPE, q, k, v, fake(ElementType.FP16, 7, 8), lse, s));
    assertTrue(e.getMessage().startsWith("out: expected " + SHAPE.qLength()), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> Kernels.attention(SHAPE, q, k, v, out, out, s));
    assertTrue(e.getMessage().startsWith("lse: expected fp32"), e.getMessage());
    assertThrows(NullPointerException.class, () -> Kernels.attention(SHAPE, q, k, v, out, lse, null));
    assertThrows(NullPointerException.class, () -> Kernels.scores(SHAPE, SPANS, q, k, lse, self, cross, null));
    e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.selectKeep(SHAPE.tokens(), SPANS, self, cross, 40, shortKeep, null, s));
    assertTrue(e.getMessage().startsWith("keep: expected 163"), e.getMessage());
    DeviceBuffer keep = fake(ElementType.INT32, SHAPE.tokens() - 40, 7);
    assertThrows(NullPointerException.class, () -> Kernels.selectKeep(SHAPE.tokens(), SPANS, self, cross, 40, keep, null, s));
    DeviceStatus noStatus = null;
    e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.gatherRows(q, 203, 256, fake(ElementType.INT32, 204, 9), q, noStatus, s));
    assertTrue(e.getMessage().startsWith("dst: expected at least 52224"), e.getMessage());
    // The same memory through a second, longer wrapper is in place too.
    DeviceBuffer sameAsQ = DeviceBuffer.wrap(q.pointer().address(), ElementType.FP16, 2 * SHAPE.qLength());
    e = assertThrows(IllegalArgumentException.class,
        () -> Kernels.gatherRows(q, 203, 256, fake(ElementType.INT32, 204, 9), sameAsQ, noStatus, s));
    assertTrue(e.getMessage().contains("in-place gather cannot produce more rows (204) than src has (203)"), e.getMessage());
    assertThrows(NullPointerException.class,
        () -> Kernels.gatherRows(q, 203, 256, fake(ElementType.INT32, 5, 9), q, noStatus, s));
  }

  @Test
  void withoutADeviceTheStreamFormsFailWithOneLine() {
    assumeFalse(Kernels.cudaAvailable(), "a CUDA device is present");
    DeviceBuffer q = fake(ElementType.FP16, SHAPE.qLength(), 0), k = fake(ElementType.FP16, SHAPE.kvLength(), 1),
        out = fake(ElementType.FP16, SHAPE.qLength(), 3), lse = fake(ElementType.FP32, SHAPE.lseLength(), 4);
    for (Runnable r : new Runnable[] {
        () -> Kernels.attention(SHAPE, q, k, k, out, lse, CudaStream.DEFAULT),
        DeviceStatus::allocate,
        CudaStream::create,
        () -> CudaStream.wrap(0x1234).synchronize()}) {
      FitPruneException e = assertThrows(FitPruneException.class, r::run);
      assertEquals(FitPruneNative.FP_ERR_UNAVAILABLE, e.status());
      assertTrue(e.getMessage().startsWith("CUDA backend unavailable: "), e.getMessage());
    }
  }

  /** The C API of the new calls checks its arguments before any device work (a status, never a launch). */
  @Test
  void cApiRejectsBadArgumentsBeforeAnyDeviceWork() {
    boolean compiled = FitPruneNative.fp_cuda_compiled() == 1;
    int arg = compiled ? FitPruneNative.FP_ERR_ARG : FitPruneNative.FP_ERR_UNAVAILABLE;
    Pointer a = new RawPointer(BASE), b = new RawPointer(BASE + 16), idx = new RawPointer(BASE + (1L << 32));
    assertEquals(arg, FitPruneNative.fp_cuda_select_keep_async(null, null, 10, 0, 5, 6, null, null, null));
    expectMessage(compiled, "drop must be in");
    assertEquals(arg, FitPruneNative.fp_cuda_select_keep_async(a, a, 10, 6, 5, 1, b, null, null));
    expectMessage(compiled, "prefix + visual <= n");
    assertEquals(arg, FitPruneNative.fp_cuda_select_keep(a, null, 10, 0, 5, 1, b, null));
    expectMessage(compiled, "null score pointer");
    assertEquals(arg, FitPruneNative.fp_cuda_status_check(null, null));
    expectMessage(compiled, "null status word");
    // dst overlaps src by one row without being src
    assertEquals(arg, FitPruneNative.fp_cuda_gather_rows(a, 4, 32, idx, 2, b, null, null));
    expectMessage(compiled, "overlaps src");
    // in place, more rows out than in
    assertEquals(arg, FitPruneNative.fp_cuda_gather_rows(a, 4, 32, idx, 5, a, null, null));
    expectMessage(compiled, "count (5) must be <= rows (4)");
    assertEquals(arg, FitPruneNative.fp_cuda_gather_rows(a, Long.MAX_VALUE / 2, 4, idx, 1, b, null, null));
    expectMessage(compiled, "overflows");
  }

  private static void expectMessage(boolean compiled, String part) {
    if (compiled) assertTrue(FitPruneNative.fp_last_error().contains(part), FitPruneNative.fp_last_error());
  }

  // ---- with a device ----

  /**
   * Attention, scores, select and an in-place gather on wrapped memory (the addresses of buffers
   * allocated here stand in for a torch tensor's data_ptr) on a stream of our own, checked once at
   * the end: identical to the synchronous calls.
   */
  @Test
  void streamFormsOnWrappedMemoryMatchTheSynchronousCalls() {
    assumeTrue(CudaKernelsTest.device(), "no CUDA device");
    Random rnd = new Random(21);
    float[] q = Reference.gaussian(rnd, SHAPE.qLength()), k = Reference.gaussian(rnd, SHAPE.kvLength()),
        v = Reference.gaussian(rnd, SHAPE.kvLength());
    long n = SHAPE.tokens(), drop = 60, width = (long) SHAPE.heads() * SHAPE.headDim();
    ElementType t = ElementType.BF16;
    try (DeviceBuffer oq = DeviceBuffer.of(q, t); DeviceBuffer ok = DeviceBuffer.of(k, t); DeviceBuffer ov = DeviceBuffer.of(v, t);
        DeviceBuffer oout = DeviceBuffer.allocate(t, SHAPE.qLength());
        DeviceBuffer olse = DeviceBuffer.allocate(ElementType.FP32, SHAPE.lseLength());
        DeviceBuffer os = DeviceBuffer.allocate(ElementType.FP32, SPANS.visual());
        DeviceBuffer oc = DeviceBuffer.allocate(ElementType.FP32, SPANS.visual());
        DeviceBuffer okeep = DeviceBuffer.allocate(ElementType.INT32, n - drop);
        CudaStream stream = CudaStream.create(); DeviceStatus status = DeviceStatus.allocate()) {
      DeviceBuffer wq = wrapOf(oq), wk = wrapOf(ok), wv = wrapOf(ov), wout = wrapOf(oout), wlse = wrapOf(olse),
          ws = wrapOf(os), wc = wrapOf(oc), wkeep = wrapOf(okeep);
      Kernels.attention(SHAPE, wq, wk, wv, wout, wlse, stream);
      Kernels.scores(SHAPE, SPANS, wq, wk, wlse, ws, wc, stream);
      Kernels.selectKeep(n, SPANS, ws, wc, drop, wkeep, status, stream);
      Kernels.gatherRows(wout, n, width, wkeep, wout, status, stream); // in place
      status.check(stream);

      Kernels.AttentionOutput sync = Kernels.attention(Backend.CUDA, t, SHAPE, q, k, v);
      Kernels.Scores syncScores = Kernels.scores(Backend.CUDA, t, SHAPE, SPANS, q, k, sync.lse());
      int[] keep = Kernels.selectKeep(Backend.CUDA, n, SPANS, syncScores.self(), syncScores.cross(), drop);
      assertArrayEquals(sync.lse(), olse.toFloats(), "lse");
      assertArrayEquals(syncScores.self(), os.toFloats(), "self");
      assertArrayEquals(keep, okeep.toInts(), "keep");
      float[] compacted = oout.toFloats();
      float[] expected = Kernels.gatherRows(sync.out(), width, keep);
      assertArrayEquals(expected, java.util.Arrays.copyOf(compacted, expected.length), "in-place gather");
    }
  }

  @Test
  void theStatusWordReportsBadDataWhenChecked() {
    assumeTrue(CudaKernelsTest.device(), "no CUDA device");
    float[] self = new float[300], cross = new float[300];
    java.util.Arrays.fill(self, 0.5f);
    java.util.Arrays.fill(cross, 1f);
    self[200] = Float.NaN;
    self[42] = Float.NaN;
    try (CudaStream stream = CudaStream.create(); DeviceStatus status = DeviceStatus.allocate();
        DeviceBuffer s = DeviceBuffer.of(self, ElementType.FP32); DeviceBuffer c = DeviceBuffer.of(cross, ElementType.FP32);
        DeviceBuffer keep = DeviceBuffer.allocate(ElementType.INT32, 400 - 10)) {
      Kernels.selectKeep(400, new Spans(50, 300), s, c, 10, keep, status, stream); // no error yet: nothing read back
      FitPruneException e = assertThrows(FitPruneException.class, () -> status.check(stream));
      assertEquals(FitPruneNative.FP_ERR_VALUE, e.status());
      assertTrue(e.getMessage().contains("NaN at visual token 42"), e.getMessage()); // the smallest, deterministically
      status.check(stream); // cleared

      float[] src = new float[10 * 8];
      for (int i = 0; i < src.length; i++) src[i] = i + 1;
      try (DeviceBuffer d = DeviceBuffer.of(src, ElementType.FP32); DeviceBuffer idx = DeviceBuffer.of(new int[] {3, 10, -1, 2});
          DeviceBuffer out = DeviceBuffer.allocate(ElementType.FP32, 4 * 8)) {
        out.fill(0x7f);
        Kernels.gatherRows(d, 10, 8, idx, out, status, stream);
        e = assertThrows(FitPruneException.class, () -> status.check(stream));
        assertEquals(FitPruneNative.FP_ERR_INDEX, e.status());
        assertTrue(e.getMessage().contains("output row 1"), e.getMessage());
        float[] got = out.toFloats();
        for (int c2 = 0; c2 < 8; c2++) {
          assertEquals(src[3 * 8 + c2], got[c2]);
          assertEquals(0f, got[8 + c2], "a bad row is zero-filled");
          assertEquals(src[2 * 8 + c2], got[3 * 8 + c2]);
        }
      }
    }
  }

  private static DeviceBuffer wrapOf(DeviceBuffer owned) {
    return DeviceBuffer.wrap(owned.pointer().address(), owned.type(), owned.length());
  }
}
