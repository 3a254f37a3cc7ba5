package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class InteropAndConcurrencyTest {
  static final int N = 150, H = 8, G = 2, D = 64, P = 10, V = 100;
  static final AttentionShape SHAPE = new AttentionShape(N, H, G, D);

  static FloatBuffer direct(float[] a) {
    FloatBuffer b = ByteBuffer.allocateDirect(a.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
    b.put(a).flip();
    return b;
  }

  @Test
  void arraysBuffersPointersAndTensorsGiveTheSameResult() {
    Random rnd = new Random(21);
    float[] q = Reference.gaussian(rnd, SHAPE.qLength()), k = Reference.gaussian(rnd, SHAPE.kvLength()),
        v = Reference.gaussian(rnd, SHAPE.kvLength());
    Kernels.AttentionOutput expected = Kernels.attention(SHAPE, q, k, v);

    FloatBuffer out = direct(new float[q.length]), lse = direct(new float[H * N]);
    Kernels.attention(SHAPE, Data.of(direct(q)), Data.of(direct(k)), Data.of(direct(v)),
        Data.of(out), Data.of(lse));
    float[] got = new float[q.length];
    out.get(got);
    assertArrayEquals(expected.out(), got, "direct buffers");

    try (Data qp = Data.of(new FloatPointer(q)); Data o = Data.allocate(ElementType.FP32, q.length);
        Data l = Data.allocate(ElementType.FP32, H * N)) {
      Kernels.attention(SHAPE, qp, Data.of(new FloatPointer(k)), Data.of(new FloatPointer(v)), o, l);
      assertArrayEquals(expected.out(), o.toFloats(), "pointers");
      assertArrayEquals(expected.lse(), l.toFloats(), "pointers lse");
    }

    // Tensors: zero-copy both ways; the kernel writes straight into the output tensor.
    Tensor qt = TorchOracleTest.tensor(q, N, H, D), kt = TorchOracleTest.tensor(k, N, G, D),
        vt = TorchOracleTest.tensor(v, N, G, D);
    Tensor ot = torch.empty(N, H, D), lt = torch.empty(H, N);
    Kernels.attention(SHAPE, TorchData.floats(qt), TorchData.floats(kt), TorchData.floats(vt), TorchData.floats(ot), TorchData.floats(lt));
    assertArrayEquals(expected.out(), TorchOracleTest.floats(ot), "tensors");
    Tensor self = torch.empty(V), cross = torch.empty(V);
    Kernels.scores(SHAPE, new Spans(P, V), TorchData.floats(qt), TorchData.floats(kt), TorchData.floats(lt), TorchData.floats(self),
        TorchData.floats(cross));
    Kernels.Scores s = Kernels.scores(SHAPE, new Spans(P, V), q, k, expected.lse());
    assertArrayEquals(s.self(), TorchOracleTest.floats(self));
    Tensor keep = torch.empty(N - 30).to(torch.ScalarType.Int);
    Kernels.selectKeep(N, new Spans(P, V), TorchData.floats(self), TorchData.floats(cross), 30, TorchData.ints(keep));
    int[] keepRows = new int[N - 30];
    keep.data_ptr_int().get(keepRows);
    assertArrayEquals(Kernels.selectKeep(N, new Spans(P, V), s.self(), s.cross(), 30), keepRows);
  }

  @Test
  void aTensorOfRunTimeTypeBecomesMemoryOfItsType() {
    try (Tensor f = torch.ones(2, 3); Tensor h = f.to(torch.ScalarType.BFloat16); Tensor i = f.to(torch.ScalarType.Int);
        Tensor d = f.to(torch.ScalarType.Double)) {
      assertTrue(TorchData.of(f) instanceof Data);
      assertTrue(TorchData.of(h) instanceof Data);
      assertTrue(TorchData.of(i) instanceof Data);
      assertEquals(6, TorchData.of(h).length());
      String m = assertThrows(IllegalArgumentException.class, () -> TorchData.of(d)).getMessage();
      assertTrue(m.contains("Double"), m);
    }
  }

  @Test
  void ownedMemoryIsReleasedOnClose() {
    Data d = Data.allocate(ElementType.FP32, 1 << 20);
    assertFalse(d.pointer().isNull());
    d.close();
    assertTrue(d.pointer().isNull(), "deallocated");
  }

  /** Several threads at once: every result bit-identical to the single-threaded one. */
  @Test
  void concurrentCallsMatchOneThread() throws Exception {
    Random rnd = new Random(99);
    int tasks = 12;
    List<float[][]> inputs = new ArrayList<>();
    List<float[][]> expected = new ArrayList<>();
    for (int t = 0; t < tasks; t++) {
      float[] q = Reference.gaussian(rnd, SHAPE.qLength()), k = Reference.gaussian(rnd, SHAPE.kvLength()),
          v = Reference.gaussian(rnd, SHAPE.kvLength());
      inputs.add(new float[][] {q, k, v});
      expected.add(run(q, k, v));
    }
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<float[][]>> futures = new ArrayList<>();
      for (int round = 0; round < 3; round++)
        for (float[][] in : inputs) futures.add(pool.submit(() -> run(in[0], in[1], in[2])));
      for (int i = 0; i < futures.size(); i++) {
        float[][] got = futures.get(i).get();
        float[][] want = expected.get(i % tasks);
        for (int j = 0; j < want.length; j++) assertArrayEquals(want[j], got[j], "task " + i + " output " + j);
      }
    } finally {
      pool.shutdown();
    }
  }

  private static float[][] run(float[] q, float[] k, float[] v) {
    Kernels.AttentionOutput a = Kernels.attention(SHAPE, q, k, v);
    Kernels.Scores s = Kernels.scores(SHAPE, new Spans(P, V), q, k, a.lse());
    int[] keep = Kernels.selectKeep(N, new Spans(P, V), s.self(), s.cross(), 40);
    float[] keepF = new float[keep.length];
    for (int i = 0; i < keep.length; i++) keepF[i] = keep[i];
    return new float[][] {a.out(), a.lse(), s.self(), s.cross(), keepF, Kernels.gatherRows(a.out(), H * D, keep)};
  }

  @Test
  void threadCountDoesNotChangeResults() {
    Random rnd = new Random(5);
    float[] q = Reference.gaussian(rnd, SHAPE.qLength()), k = Reference.gaussian(rnd, SHAPE.kvLength()),
        v = Reference.gaussian(rnd, SHAPE.kvLength());
    int before = Kernels.threads();
    float[][] base = run(q, k, v);
    try {
      for (int t : new int[] {1, 3}) {
        Kernels.useThreads(t);
        assertEquals(t, Kernels.threads());
        float[][] got = run(q, k, v);
        for (int j = 0; j < base.length; j++) assertArrayEquals(base[j], got[j], "threads=" + t + " output " + j);
      }
    } finally {
      Kernels.useThreads(before);
    }
  }

  /**
   * The pool's workers poll for a while after each job before they sleep: calls back to back (taken
   * while polling), calls after a pause longer than the polling (workers woken from sleep) and
   * resizes in between all give the same bits, and none hangs.
   */
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void pollingAndSleepingWorkersGiveTheSameBits() throws InterruptedException {
    Random rnd = new Random(17);
    float[] q = Reference.gaussian(rnd, SHAPE.qLength()), k = Reference.gaussian(rnd, SHAPE.kvLength()),
        v = Reference.gaussian(rnd, SHAPE.kvLength());
    int before = Kernels.threads();
    float[][] base = run(q, k, v);
    try {
      for (int i = 0; i < 60; i++) {
        if (i % 20 == 0) Kernels.useThreads(1 + i / 20 % 3 + 1); // 2, 3, 4 workers
        if (i % 5 == 4) Thread.sleep(2); // past the polling window: the workers sleep
        float[][] got = run(q, k, v);
        for (int j = 0; j < base.length; j++) assertArrayEquals(base[j], got[j], "call " + i + " output " + j);
      }
    } finally {
      Kernels.useThreads(before);
    }
  }
}
