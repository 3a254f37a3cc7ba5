package io.fitprune.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fitprune.kernels.PagedKvTest.Case;
import io.fitprune.kernels.PagedKvTest.Paged;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The K/V cache calls on the GPU (skipped without a device): paged decode gives the bits of
 * contiguous decode on the device; both, and the prefill over a cached prefix, match a float64
 * reference as closely as the CPU does in fp32, and within twice the error of the reference rounded
 * to fp16/bf16 in those types; appends land on the device where the CPU puts them, bit for bit.
 */
class CudaKvCacheTest {
  private static final ElementType[] TYPES = {ElementType.FP32, ElementType.FP16, ElementType.BF16};

  /** The data as the type holds it (what the device computes on). */
  private static float[] as(float[] x, ElementType t) {
    try (DeviceBuffer b = DeviceBuffer.of(x, t)) {
      return b.toFloats();
    }
  }

  private static Case rounded(Case c, ElementType t) {
    float[][] k = new float[c.k().length][], v = new float[c.v().length][];
    for (int b = 0; b < k.length; b++) {
      k[b] = as(c.k()[b], t);
      v[b] = as(c.v()[b], t);
    }
    return new Case(c.H(), c.G(), c.d(), c.qLen(), c.kvLen(), as(c.q(), t), k, v);
  }

  /** The error a result of type t cannot avoid: the float64 reference rounded to t. */
  private static double roundingError(double[] ref, ElementType t) {
    if (t == ElementType.FP32) return 0;
    float[] f = new float[ref.length];
    for (int i = 0; i < f.length; i++) f[i] = (float) ref[i];
    return Reference.relError(as(f, t), ref);
  }

  /** out within the CPU's fp32 error (or twice the type's rounding) of the reference; lse as tight as fp32 allows. */
  private static void assertClose(float[][] got, double[][] ref, float[][] cpu, ElementType t, String what) {
    double bound = t == ElementType.FP32 ? 4 * Reference.relError(cpu[0], ref[0]) + 1e-6
        : 2 * roundingError(ref[0], t) + 1e-5;
    double err = Reference.relError(got[0], ref[0]);
    assertTrue(err <= bound, what + ": out error " + err + " > " + bound);
    double lerr = Reference.lseError(got[1], ref[1]);
    assertTrue(lerr < 1e-5, what + ": lse error " + lerr);
  }

  @Test
  void pagedDecodeOnTheDeviceIsContiguousDecode() {
    assumeTrue(CudaKernelsTest.device());
    long[][][] cases = {{{1}, {1}}, {{1, 1, 1}, {300, 1, 77}}, {{3, 1}, {129, 4}}, {{1, 2}, {700, 65}}};
    int[][] heads = {{4, 4, 64}, {8, 2, 128}, {6, 3, 64}};
    int seed = 0;
    for (long[][] qk : cases)
      for (int[] hg : heads)
        for (ElementType t : TYPES) {
          int bs = new int[] {1, 16, 7}[seed % 3];
          Case c = rounded(PagedKvTest.data(++seed, hg[0], hg[1], hg[2], qk[0], qk[1], false), t);
          Paged p = PagedKvTest.page(c, bs, seed);
          float scale = seed % 2 == 0 ? BatchShape.defaultScale(hg[2]) : 0.37f;
          BatchShape s = c.shape(scale);
          String what = t + " " + Arrays.toString(hg) + " q" + Arrays.toString(qk[0]) + " kv" + Arrays.toString(qk[1])
              + " bs=" + bs;
          int B = qk[0].length;
          DeviceBuffer[] k = new DeviceBuffer[B], v = new DeviceBuffer[B];
          for (int b = 0; b < B; b++) {
            k[b] = DeviceBuffer.of(c.k()[b], t);
            v[b] = DeviceBuffer.of(c.v()[b], t);
          }
          try (DeviceBuffer q = DeviceBuffer.of(c.q(), t); DeviceBuffer kp = DeviceBuffer.of(p.kPool(), t);
              DeviceBuffer vp = DeviceBuffer.of(p.vPool(), t);
              DeviceBuffer out = DeviceBuffer.allocate(t, s.packed().qLength());
              DeviceBuffer lse = DeviceBuffer.allocate(ElementType.FP32, s.packed().lseLength());
              CudaStream stream = CudaStream.create()) {
            Kernels.decodeAttention(s, q, k, v, c.kvLen(), out, lse);
            float[][] contiguous = {out.toFloats(), lse.toFloats()};
            out.fill(0x7f);
            Kernels.pagedDecodeAttention(s, q, kp, vp, bs, p.table(), c.kvLen(), out, lse, stream);
            stream.synchronize();
            assertArrayEquals(contiguous[0], out.toFloats(), what);
            assertArrayEquals(contiguous[1], lse.toFloats(), what);
            assertClose(contiguous, PagedKvTest.reference(c, scale), PagedKvTest.contiguous(c, false, scale), t, what);
          } finally {
            for (int b = 0; b < B; b++) {
              k[b].close();
              v[b].close();
            }
          }
        }
  }

  @Test
  void cachedPrefixPrefillOnTheDeviceMatchesTheReference() {
    assumeTrue(CudaKernelsTest.device());
    long[][][] cases = {{{1}, {1}}, {{5}, {5}}, {{17, 0, 3}, {200, 4, 3}}, {{64, 1}, {64, 300}}, {{130}, {1000}}};
    int[][] heads = {{4, 2, 64}, {8, 1, 128}, {6, 6, 64}};
    int seed = 100;
    for (long[][] qk : cases)
      for (int[] hg : heads)
        for (ElementType t : TYPES) {
          Case c = rounded(PagedKvTest.data(++seed, hg[0], hg[1], hg[2], qk[0], qk[1], false), t);
          float scale = seed % 2 == 0 ? BatchShape.defaultScale(hg[2]) : 0.29f;
          BatchShape s = c.shape(scale);
          Batch keys = Batch.ofLengths(qk[1]);
          float[] k = concat(c.k()), v = concat(c.v());
          String what = t + " " + Arrays.toString(hg) + " q" + Arrays.toString(qk[0]) + " k" + Arrays.toString(qk[1]);
          float[][] cpu = new float[2][];
          cpu[0] = new float[(int) s.packed().qLength()];
          cpu[1] = new float[(int) s.packed().lseLength()];
          Kernels.attention(s, keys, Data.of(c.q()), Data.of(k), Data.of(v), Data.of(cpu[0]), Data.of(cpu[1]));
          try (DeviceBuffer q = DeviceBuffer.of(c.q(), t); DeviceBuffer kd = DeviceBuffer.of(k, t);
              DeviceBuffer vd = DeviceBuffer.of(v, t); DeviceBuffer out = DeviceBuffer.allocate(t, s.packed().qLength());
              DeviceBuffer lse = DeviceBuffer.allocate(ElementType.FP32, s.packed().lseLength())) {
            Kernels.attention(s, keys, q, kd, vd, out, lse);
            assertClose(new float[][] {out.toFloats(), lse.toFloats()}, PagedKvTest.reference(c, scale), cpu, t, what);
          }
        }
  }

  @Test
  void appendsOnTheDeviceLandWhereTheCpuPutsThem() {
    assumeTrue(CudaKernelsTest.device());
    int G = 3, d = 64, row = G * d;
    Random rnd = new Random(5);
    BatchShape shape = new BatchShape(Batch.ofLengths(2, 0, 1), 6, G, d);
    long[] kvLen = {3, 1, 0}, cap = {5, 1, 4};
    float[] k = Reference.gaussian(rnd, 3L * row), v = Reference.gaussian(rnd, 3L * row);
    for (ElementType t : TYPES) {
      float[] kt = as(k, t), vt = as(v, t);
      // contiguous: the CPU appends into fp32 arrays of the typed values, the device into typed caches
      float[][] hk = new float[3][], hv = new float[3][];
      DeviceBuffer[] dk = new DeviceBuffer[3], dv = new DeviceBuffer[3];
      try (DeviceBuffer kd = DeviceBuffer.of(kt, t); DeviceBuffer vd = DeviceBuffer.of(vt, t)) {
        for (int b = 0; b < 3; b++) {
          hk[b] = as(Reference.gaussian(rnd, cap[b] * row), t);
          hv[b] = as(Reference.gaussian(rnd, cap[b] * row), t);
          dk[b] = DeviceBuffer.of(hk[b], t);
          dv[b] = DeviceBuffer.of(hv[b], t);
        }
        Data[] hkd = Arrays.stream(hk).map(Data::of).toArray(Data[]::new);
        Data[] hvd = Arrays.stream(hv).map(Data::of).toArray(Data[]::new);
        Kernels.appendKv(shape, Data.of(kt), Data.of(vt), hkd, hvd, kvLen);
        Kernels.appendKv(shape, kd, vd, dk, dv, kvLen);
        for (int b = 0; b < 3; b++) {
          assertArrayEquals(hk[b], dk[b].toFloats(), t + " kCaches[" + b + "]");
          assertArrayEquals(hv[b], dv[b].toFloats(), t + " vCaches[" + b + "]");
        }
        // paged, through PagedKvCache on both sides, with a padding row
        try (PagedKvCache host = PagedKvCache.allocate(ElementType.FP32, 4, 2, G, d);
            PagedKvCache dev = PagedKvCache.allocate(t, 4, 2, G, d, true); CudaStream stream = CudaStream.create()) {
          float[] fill = as(Reference.gaussian(rnd, 8L * row), t);
          host.keys().copyFrom(fill);
          host.values().copyFrom(fill);
          dev.keys().copyFrom(fill);
          dev.values().copyFrom(fill);
          for (PagedKvCache cache : new PagedKvCache[] {host, dev}) {
            cache.addSequence();
            cache.addSequence();
            cache.reserve(1, 1);
          }
          long[] slots = host.reserve(0, 3), devSlots = dev.reserve(0, 3);
          assertArrayEquals(slots, devSlots);
          slots[1] = -1;
          Kernels.appendKv(Data.of(kt), Data.of(vt), host, slots);
          Kernels.appendKv(kd, vd, dev, slots, stream);
          stream.synchronize();
          assertArrayEquals(host.keys().toFloats(), dev.keys().toFloats(), t + " paged k");
          assertArrayEquals(host.values().toFloats(), dev.values().toFloats(), t + " paged v");
        }
      } finally {
        for (int b = 0; b < 3; b++) {
          if (dk[b] != null) dk[b].close();
          if (dv[b] != null) dv[b].close();
        }
      }
    }
  }

  private static float[] concat(float[][] parts) {
    int n = 0;
    for (float[] p : parts) n += p.length;
    float[] all = new float[n];
    int at = 0;
    for (float[] p : parts) {
      System.arraycopy(p, 0, all, at, p.length);
      at += p.length;
    }
    return all;
  }
}
