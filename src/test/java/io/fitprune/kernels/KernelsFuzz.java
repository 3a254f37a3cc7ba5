package io.fitprune.kernels;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

/**
 * Randomised calls to the public kernels API, run in a child JVM by {@link KernelsFuzzTest}:
 * shapes, spans, lengths, nulls, closed and read-only buffers, overflowing sizes, and bad
 * arguments straight through the binding. Every call must return or throw one of the documented
 * exceptions; outputs sit between guard floats that must survive every call. Exit 0 when all
 * held, 4 on an unexpected exception or a damaged guard; a JVM crash ends the process itself.
 * Arguments: calls, seed.
 */
public final class KernelsFuzz {
  static final float GUARD = -12345.5f;
  static final int PAD = 16;

  final SplittableRandom rnd;
  int returned, refused;

  KernelsFuzz(long seed) {
    rnd = new SplittableRandom(seed);
  }

  public static void main(String[] args) {
    int calls = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    long seed = args.length > 1 ? Long.parseLong(args[1]) : 1;
    KernelsFuzz f = new KernelsFuzz(seed);
    for (int i = 0; i < calls; i++) {
      int kind = f.rnd.nextInt(15);
      try {
        f.call(kind);
        f.returned++;
      } catch (IllegalArgumentException | NullPointerException | IllegalStateException | FitPruneException e) {
        f.refused++;
      } catch (Throwable t) {
        System.out.println("call " + i + " (kind " + kind + ", seed " + seed + "): unexpected " + t);
        t.printStackTrace(System.out);
        System.exit(4);
      }
    }
    System.out.println("fuzz: " + calls + " calls, " + f.returned + " returned, " + f.refused + " refused");
    System.exit(0);
  }

  // ---- random values: mostly small and plausible, sometimes hostile ----

  long size(int small) {
    switch (rnd.nextInt(12)) {
      case 0: return -1 - rnd.nextInt(3);
      case 1: return Long.MAX_VALUE - rnd.nextInt(3);
      case 2: return Integer.MAX_VALUE + (long) rnd.nextInt(-1, 2);
      case 3: return 1L << rnd.nextInt(31, 63);
      case 4: return Long.MIN_VALUE;
      default: return rnd.nextInt(0, small + 1);
    }
  }

  int intSize(int small) {
    long s = size(small);
    return s == (int) s ? (int) s : (rnd.nextBoolean() ? Integer.MAX_VALUE : Integer.MIN_VALUE);
  }

  /** A length near {@code exact}: usually exact, sometimes off by a little. */
  int near(long exact) {
    if (exact < 0 || exact > 1 << 16) return rnd.nextInt(0, 64);
    return (int) Math.max(0, exact + (rnd.nextInt(6) == 0 ? rnd.nextInt(-2, 3) : 0));
  }

  float[] floats(int n) {
    if (rnd.nextInt(40) == 0) return null;
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-2, 2);
    return a;
  }

  int[] ints(int n, int bound) {
    if (rnd.nextInt(40) == 0) return null;
    int[] a = new int[n];
    for (int i = 0; i < n; i++) a[i] = rnd.nextInt(8) == 0 ? rnd.nextInt() : rnd.nextInt(Math.max(1, bound));
    return a;
  }

  AttentionShape shape() {
    if (rnd.nextInt(8) == 0) return new AttentionShape(size(24), intSize(4), intSize(4), intSize(16));
    int g = rnd.nextInt(1, 3);
    AttentionShape s = new AttentionShape(rnd.nextInt(0, 24), g * rnd.nextInt(1, 3), g, rnd.nextInt(1, 17));
    return rnd.nextInt(4) == 0 ? s.withSoftmaxScale(scale()) : s;
  }

  /** A softmax scale: mostly plausible, sometimes extreme (finite, huge or tiny), sometimes invalid. */
  float scale() {
    return switch (rnd.nextInt(8)) {
      case 0 -> badScale();
      case 1 -> rnd.nextBoolean() ? Float.MAX_VALUE : Float.MIN_VALUE;
      default -> (float) rnd.nextDouble(0.01, 2);
    };
  }

  float badScale() {
    float[] bad = {0f, -0f, -1f, -Float.MIN_VALUE, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    return bad[rnd.nextInt(bad.length)];
  }

  Spans spans(long n) {
    if (rnd.nextInt(6) == 0) return new Spans(size(8), size(8));
    long p = n <= 0 ? 0 : rnd.nextLong(0, n + 1);
    long v = n - p <= 0 ? 0 : rnd.nextLong(0, n - p + 1);
    return new Spans(p, v);
  }

  /** Memory of length n in one of the kinds callers hold; outputs get guards on both sides. */
  Data floatData(int n, Guarded g) {
    switch (rnd.nextInt(6)) {
      case 0: {
        Data d = Data.allocate(ElementType.FP32, n);
        if (rnd.nextInt(4) == 0) d.close();  // closed before use
        return d;
      }
      case 1: {
        FloatBuffer b = ByteBuffer.allocateDirect(4 * Math.max(1, n)).order(ByteOrder.nativeOrder()).asFloatBuffer();
        b.limit(n);
        return Data.of(rnd.nextInt(4) == 0 ? b.asReadOnlyBuffer() : b);
      }
      case 2: {
        FloatPointer p = new FloatPointer(n + 2 * PAD);
        for (int i = 0; i < n + 2 * PAD; i++) p.put(i, GUARD);
        g.add(p, n);
        // A length past the allocation (refused); within it, the guards are the caller's own memory.
        return Data.of(p.position(PAD), rnd.nextInt(8) == 0 ? n + PAD + rnd.nextInt(1, 1 << 20) : n);
      }
      case 3: return Data.of(new FloatPointer(Math.max(1, n)).limit(n));
      case 4: return rnd.nextInt(20) == 0 ? null : Data.of(new float[near(n)]);
      default: return Data.of(new float[n]);
    }
  }

  Data bf16Data(int n) {
    switch (rnd.nextInt(4)) {
      case 0: {
        Data d = Data.allocate(ElementType.BF16, n);
        if (rnd.nextInt(4) == 0) d.close();
        return d;
      }
      case 1: return Data.bf16(new org.bytedeco.javacpp.ShortPointer(Math.max(1, n)).limit(n),
          rnd.nextInt(6) == 0 ? n + rnd.nextInt(1, 1 << 20) : n);
      case 2: return rnd.nextInt(20) == 0 ? null : Data.bf16(new short[near(n)]);
      default: return Data.roundBf16(floats(n) == null ? new float[n] : floats(n));
    }
  }

  Data intData(int n, int bound, Guarded g) {
    switch (rnd.nextInt(4)) {
      case 0: {
        Data d = Data.allocate(ElementType.INT32, n);
        if (rnd.nextInt(4) == 0) d.close();
        return d;
      }
      case 1: {
        IntPointer p = new IntPointer(n + 2 * PAD);
        for (int i = 0; i < n + 2 * PAD; i++) p.put(i, (int) GUARD);
        g.add(p, n);
        return Data.of(p.position(PAD), n);
      }
      case 2: return rnd.nextInt(20) == 0 ? null : Data.of(ints(n, bound));
      default: return Data.of(new int[near(n)]);
    }
  }

  /** Guard elements around pointer-backed memory, checked after each call. */
  static final class Guarded {
    final java.util.List<Object[]> list = new java.util.ArrayList<>();

    void add(Object pointer, int n) {
      list.add(new Object[] {pointer, n});
    }

    void check() {
      for (Object[] e : list) {
        int n = (Integer) e[1];
        for (int i = 0; i < PAD; i++) {
          boolean ok = e[0] instanceof FloatPointer p
              ? p.get(i - p.position()) == GUARD && p.get(PAD + n + i - p.position()) == GUARD
              : ((IntPointer) e[0]).get(i - ((IntPointer) e[0]).position()) == (int) GUARD
                  && ((IntPointer) e[0]).get(PAD + n + i - ((IntPointer) e[0]).position()) == (int) GUARD;
          if (!ok) throw new AssertionError("a kernel wrote outside its buffer of " + n + " elements");
        }
      }
    }
  }

  // ---- the calls ----

  /**
   * The K/V cache calls on device memory, arguments mostly right: real buffers when there is a GPU,
   * else wrapped fake addresses (every call is then refused before it reaches the device).
   */
  void kvOnDevice() {
    java.util.List<DeviceBuffer> held = new java.util.ArrayList<>();
    boolean real = Kernels.cudaAvailable();
    java.util.function.BiFunction<ElementType, Long, DeviceBuffer> dev = (t, n) -> {
      DeviceBuffer b = real ? DeviceBuffer.allocate(t, n) : DeviceBuffer.wrap(1 << 20, t, n);
      held.add(b);
      return b;
    };
    try {
      int B = rnd.nextInt(1, 4), G = rnd.nextInt(1, 3), H = G * rnd.nextInt(1, 3), d = rnd.nextInt(6) == 0 ? rnd.nextInt(1, 200) : 64;
      ElementType t = ElementType.values()[rnd.nextInt(ElementType.values().length)];
      long[] qLen = new long[B], kv = new long[B];
      for (int b = 0; b < B; b++) {
        qLen[b] = rnd.nextInt(rnd.nextInt(10) == 0 ? 0 : 1, 4);
        kv[b] = rnd.nextInt(8) == 0 ? size(8) : qLen[b] + rnd.nextInt(0, 20);
      }
      BatchShape s = new BatchShape(Batch.ofLengths(qLen), H, G, d, rnd.nextInt(10) == 0 ? Float.NaN : 0.3f);
      long nq = s.batch().tokens(), row = (long) G * d;
      CudaStream stream = rnd.nextBoolean() ? CudaStream.DEFAULT : null;
      DeviceBuffer q = dev.apply(t, (long) near(nq * H * d)), out = dev.apply(t, (long) near(nq * H * d));
      DeviceBuffer lse = rnd.nextInt(4) == 0 ? null : dev.apply(ElementType.FP32, (long) near(nq * H));
      switch (rnd.nextInt(4)) {
        case 0 -> {
          DeviceBuffer[] kc = new DeviceBuffer[B], vc = new DeviceBuffer[B];
          for (int b = 0; b < B; b++) {
            kc[b] = dev.apply(t, (long) near(Math.min(kv[b] + 4, 64) * row));
            vc[b] = dev.apply(t, (long) near(Math.min(kv[b] + 4, 64) * row));
          }
          DeviceBuffer k = dev.apply(t, (long) near(nq * row)), v = dev.apply(t, (long) near(nq * row));
          long[] at = new long[B];
          for (int b = 0; b < B; b++) at[b] = Math.max(-1, kv[b] - qLen[b]);
          if (stream == null) Kernels.appendKv(s, k, v, kc, vc, at);
          else Kernels.appendKv(s, k, v, kc, vc, at, stream);
        }
        case 1 -> {
          int blocks = rnd.nextInt(0, 12), bs = rnd.nextInt(1, 9), rows = rnd.nextInt(0, 6);
          DeviceBuffer kp = dev.apply(t, (long) near((long) blocks * bs * row)), vp = dev.apply(t, (long) near((long) blocks * bs * row));
          long[] slots = new long[rows];
          for (int i = 0; i < rows; i++) slots[i] = rnd.nextInt(10) == 0 ? size(8) : rnd.nextLong(-1, Math.max(1, (long) blocks * bs));
          DeviceBuffer k = dev.apply(t, (long) near(rows * row)), v = dev.apply(t, (long) near(rows * row));
          PagedKvCache cache = PagedKvCache.over(kp, vp, blocks, bs, G, d);
          if (stream == null) Kernels.appendKv(k, v, cache, slots);
          else Kernels.appendKv(k, v, cache, slots, stream);
        }
        case 2 -> {
          int bs = rnd.nextInt(1, 9), blocks = rnd.nextInt(0, 12), maxBlocks = rnd.nextInt(0, 6);
          DeviceBuffer kp = dev.apply(t, (long) near((long) blocks * bs * row)), vp = dev.apply(t, (long) near((long) blocks * bs * row));
          int[] table = new int[rnd.nextInt(10) == 0 ? B * maxBlocks + 1 : B * maxBlocks];
          for (int i = 0; i < table.length; i++) table[i] = rnd.nextInt(12) == 0 ? (int) size(8) : rnd.nextInt(0, Math.max(1, blocks));
          if (stream == null) Kernels.pagedDecodeAttention(s, q, kp, vp, bs, table, kv, out, lse);
          else Kernels.pagedDecodeAttention(s, q, kp, vp, bs, table, kv, out, lse, stream);
        }
        default -> {
          long[] kLen = new long[B];
          for (int b = 0; b < B; b++) kLen[b] = rnd.nextInt(8) == 0 ? rnd.nextInt(0, 3) : qLen[b] + rnd.nextInt(0, 20);
          Batch keys = Batch.ofLengths(kLen);
          long nk = keys.tokens();
          DeviceBuffer k = dev.apply(t, (long) near(nk * row)), v = dev.apply(t, (long) near(nk * row));
          if (stream == null) Kernels.attention(s, keys, q, k, v, out, lse);
          else Kernels.attention(s, keys, q, k, v, out, lse, stream);
        }
      }
      if (real) CudaStream.DEFAULT.synchronize();
    } finally {
      for (DeviceBuffer b : held) b.close();
    }
  }

  void call(int kind) {
    Guarded g = new Guarded();
    try {
      switch (kind) {
        case 0 -> {
          AttentionShape s = shape();
          long unused = s.qLength() + s.kvLength() + s.lseLength();
        }
        case 1 -> {
          AttentionShape s = shape();
          Kernels.attention(s, floats(near(s.qLength())), floats(near(s.kvLength())), floats(near(s.kvLength())));
        }
        case 2 -> {
          AttentionShape s = shape();
          int q = near(s.qLength()), kv = near(s.kvLength()), l = near(s.lseLength());
          Kernels.attention(s, floatData(q, g), floatData(kv, g), floatData(kv, g), floatData(q, g), floatData(l, g));
        }
        case 3 -> {
          AttentionShape s = shape();
          Spans sp = spans(s.tokens());
          Kernels.scores(s, sp, floats(near(s.qLength())), floats(near(s.kvLength())), floats(near(s.lseLength())));
        }
        case 4 -> {
          AttentionShape s = shape();
          Spans sp = spans(s.tokens());
          int v = near(sp.visual());
          Kernels.scores(s, sp, floatData(near(s.qLength()), g), floatData(near(s.kvLength()), g),
              floatData(near(s.lseLength()), g), floatData(v, g), floatData(v, g));
        }
        case 5 -> {
          long n = rnd.nextInt(5) == 0 ? size(30) : rnd.nextInt(0, 30);
          Spans sp = spans(n);
          long drop = rnd.nextInt(5) == 0 ? size(10) : (sp.visual() > 0 ? rnd.nextLong(0, sp.visual() + 1) : 0);
          int v = near(sp.visual());
          if (rnd.nextBoolean()) {
            Kernels.selectKeep(rnd.nextBoolean() ? Backend.AUTO : Backend.CPU, n, sp, floats(v), floats(v), drop);
          } else {
            Kernels.selectKeep(n, sp, floatData(v, g), floatData(v, g), drop, intData(near(n - drop), 1, g));
          }
        }
        case 6 -> {
          int width = rnd.nextInt(6) == 0 ? intSize(8) : rnd.nextInt(1, 8);
          int rows = rnd.nextInt(0, 10);
          Kernels.gatherRows(floats(rows * Math.max(1, Math.min(width, 8))), width, ints(rnd.nextInt(0, 12), rows));
        }
        case 7 -> {
          long rows = rnd.nextInt(6) == 0 ? size(10) : rnd.nextInt(0, 10);
          long width = rnd.nextInt(6) == 0 ? size(8) : rnd.nextInt(1, 8);
          int count = rnd.nextInt(0, 12);
          int srcLen = near(rows * width), dstLen = near((long) count * width);
          Data src = floatData(srcLen, g);
          Data dst = rnd.nextInt(4) == 0 ? src : floatData(dstLen, g);
          if (rnd.nextBoolean()) {
            Kernels.gatherRows(src, rows, width, intData(count, (int) Math.min(rows, 16), g), dst);
          } else {
            Kernels.gatherRows(intData(srcLen, 100, g), rows, width, intData(count, (int) Math.min(rows, 16), g),
                intData(dstLen, 1, g));
          }
        }
        case 10 -> {  // bf16 inputs
          AttentionShape s = shape();
          int q = near(s.qLength()), kv = near(s.kvLength()), l = near(s.lseLength());
          if (rnd.nextBoolean()) {
            Kernels.attention(s, bf16Data(q), bf16Data(kv), bf16Data(kv), floatData(q, g), floatData(l, g));
          } else {
            Spans sp = spans(s.tokens());
            int v = near(sp.visual());
            Kernels.scores(s, sp, bf16Data(q), bf16Data(kv), floatData(l, g), floatData(v, g), floatData(v, g));
          }
        }
        case 11 -> {  // decode over ragged caches, fp32 or bf16, arguments mostly right
          int B = rnd.nextInt(1, 4), G = rnd.nextInt(1, 3), H = G * rnd.nextInt(1, 3), d = rnd.nextInt(1, 17);
          long[] qLen = new long[B], kv = new long[B];
          for (int b = 0; b < B; b++) {
            qLen[b] = rnd.nextInt(rnd.nextInt(10) == 0 ? 0 : 1, 3);
            kv[b] = rnd.nextInt(8) == 0 ? size(8) : qLen[b] + rnd.nextInt(0, 70);
          }
          BatchShape s = new BatchShape(Batch.ofLengths(qLen), H, G, d);
          boolean bf16 = rnd.nextBoolean();
          int caches = rnd.nextInt(10) == 0 ? B + rnd.nextInt(-1, 2) : B;
          Data[] kc = new Data[Math.max(0, caches)], vc = new Data[kc.length];
          for (int b = 0; b < kc.length; b++) {
            int n = near(b < B ? kv[b] * G * d : 8);
            kc[b] = bf16 ? bf16Data(n) : floatData(n, g);
            vc[b] = bf16 ? bf16Data(n) : floatData(n, g);
          }
          long nq = s.batch().tokens();
          Data q = bf16 ? bf16Data(near(nq * H * d)) : floatData(near(nq * H * d), g);
          Data out = rnd.nextBoolean() ? floatData(near(nq * H * d), g) : bf16Data(near(nq * H * d));
          Data lse = rnd.nextInt(3) == 0 ? null : floatData(near(nq * H), g);
          Kernels.decodeAttention(s, q, kc, vc, rnd.nextInt(20) == 0 ? new long[B + 1] : kv, out, lse);
        }
        case 13 -> {  // paged K/V: append by slots, then decode through block tables, arguments mostly right
          int B = rnd.nextInt(1, 4), G = rnd.nextInt(1, 3), H = G * rnd.nextInt(1, 3), d = rnd.nextInt(1, 17);
          int bs = rnd.nextInt(8) == 0 ? (int) size(8) : rnd.nextInt(1, 9), blocks = rnd.nextInt(0, 12);
          boolean bf16 = rnd.nextBoolean();
          int pool = near((long) blocks * Math.max(bs, 0) * G * d);
          Data kp = bf16 ? bf16Data(pool) : floatData(pool, g), vp = bf16 ? bf16Data(pool) : floatData(pool, g);
          int rows = rnd.nextInt(0, 6);
          long[] slots = new long[rnd.nextInt(10) == 0 ? rows + 1 : rows];
          for (int i = 0; i < slots.length; i++)
            slots[i] = rnd.nextInt(10) == 0 ? size(8) : rnd.nextLong(-1, Math.max(1, (long) blocks * Math.max(bs, 1)));
          Data k = bf16 ? bf16Data(near((long) rows * G * d)) : floatData(near((long) rows * G * d), g);
          Data v = bf16 ? bf16Data(near((long) rows * G * d)) : floatData(near((long) rows * G * d), g);
          if (rnd.nextBoolean()) {
            Kernels.appendKv(k, v, PagedKvCache.over(kp, vp, blocks, bs, G, d), slots);
          } else {
            long[] qLen = new long[B], kv = new long[B];
            int maxBlocks = rnd.nextInt(0, 6);
            int[] table = new int[rnd.nextInt(10) == 0 ? B * maxBlocks + 1 : B * maxBlocks];
            for (int i = 0; i < table.length; i++) table[i] = rnd.nextInt(12) == 0 ? (int) size(8) : rnd.nextInt(0, Math.max(1, blocks));
            for (int b = 0; b < B; b++) {
              qLen[b] = rnd.nextInt(rnd.nextInt(10) == 0 ? 0 : 1, 3);
              kv[b] = rnd.nextInt(8) == 0 ? size(8) : qLen[b] + rnd.nextInt(0, Math.max(1, maxBlocks * Math.max(bs, 1)));
            }
            BatchShape s = new BatchShape(Batch.ofLengths(qLen), H, G, d, rnd.nextInt(10) == 0 ? Float.NaN : 0.3f);
            long nq = s.batch().tokens();
            Data q = bf16 ? bf16Data(near(nq * H * d)) : floatData(near(nq * H * d), g);
            Data out = rnd.nextBoolean() ? floatData(near(nq * H * d), g) : bf16Data(near(nq * H * d));
            Data lse = rnd.nextInt(3) == 0 ? null : floatData(near(nq * H), g);
            Kernels.pagedDecodeAttention(s, q, kp, vp, bs, table, kv, out, lse);
          }
        }
        case 14 -> kvOnDevice();
        case 12 -> {  // decode dense layers: 1 to 3 weights of any stored type, sizes mostly right
          long rows = rnd.nextInt(8) == 0 ? size(8) : rnd.nextInt(0, 20), in = rnd.nextInt(8) == 0 ? size(8) : rnd.nextInt(1, 70);
          int count = rnd.nextInt(20) == 0 ? 9 : rnd.nextInt(1, 4);
          Weight[] w = new Weight[count];
          Data[] y = new Data[count];
          for (int i = 0; i < count; i++) {
            long out = rnd.nextInt(8) == 0 ? size(8) : rnd.nextInt(1, 50);
            ElementType t = ElementType.values()[rnd.nextInt(ElementType.values().length)];
            int n = near(Math.max(0, Math.min(1 << 20, out * in)));
            org.bytedeco.javacpp.Pointer mem = t == ElementType.FP32 || t == ElementType.INT32
                ? new FloatPointer(Math.max(1, n)).limit(n) : new org.bytedeco.javacpp.ShortPointer(Math.max(1, n)).limit(n);
            w[i] = Weight.of("w" + i, mem, t, out, in);
            y[i] = floatData(near(Math.max(0, rows * out)), g);
          }
          Data x = floatData(near(Math.max(0, rows * in)), g);
          if (count == 2 && rnd.nextBoolean()) Kernels.linearSwiglu(x, rows, w[0], w[1], y[0], y[1]);
          else Kernels.linear(x, rows, w, y, rnd.nextBoolean());
        }
        case 8 -> {  // straight through the binding, with arguments the C checks must refuse
          long n = rnd.nextInt(0, 30), bad = size(8) < 0 ? -1 : Long.MAX_VALUE - rnd.nextInt(4);
          FloatPointer a = new FloatPointer(64), b = new FloatPointer(64);
          IntPointer keep = new IntPointer(64);
          long[] cache = {a.address(), b.address()};
          int st = switch (rnd.nextInt(10)) {
            case 9 -> {  // a softmax scale that is not finite and > 0, every other argument valid
              int f32 = FitPruneNative.FP_DTYPE_F32, len = rnd.nextInt(0, 3);
              long[] cu = {0, len}, sp = {0, len};
              FloatPointer c = new FloatPointer(64);
              yield switch (rnd.nextInt(6)) {
                case 0 -> FitPruneNative.fp_cpu_attention(a, a, a, len, 1, 1, 8, f32, badScale(), b, f32, c);
                case 1 -> FitPruneNative.fp_cpu_scores(a, a, a, len, 1, 1, 8, f32, badScale(), 0, len, b, c);
                case 2 -> FitPruneNative.fp_cpu_attention_scores(a, a, a, len, 1, 1, 8, f32, badScale(), b, f32, c, 0,
                    len, a, b);
                case 3 -> FitPruneNative.fp_cpu_attention_varlen(a, a, a, cu, 1, 1, 1, 8, f32, badScale(), b, f32, c);
                case 4 -> FitPruneNative.fp_cpu_scores_varlen(a, a, a, cu, 1, 1, 1, 8, f32, badScale(), sp, b, c);
                default -> FitPruneNative.fp_cpu_attention_scores_varlen(a, a, a, cu, 1, 1, 1, 8, f32, badScale(), b, f32,
                    c, sp, a, b);
              };
            }
            case 6 -> FitPruneNative.fp_cpu_paged_decode_attention(a, new long[] {0, 1}, 1, 1, 1, 8,
                FitPruneNative.FP_DTYPE_F32, 0.25f, a, b, rnd.nextInt(0, 3), 4,
                new int[] {rnd.nextBoolean() ? (int) Math.max(bad, Integer.MIN_VALUE) : 3}, 1, new long[] {rnd.nextInt(1, 5)},
                b, FitPruneNative.FP_DTYPE_F32, null);
            case 7 -> FitPruneNative.fp_cpu_kv_append_paged(a, b, rnd.nextInt(1, 3), 1, 8, FitPruneNative.FP_DTYPE_F32,
                a, b, rnd.nextBoolean() ? bad : 2, 4, new long[] {8, bad});
            case 8 -> FitPruneNative.fp_cpu_kv_append(a, b, new long[] {0, rnd.nextInt(1, 4)}, 1, 1, 8,
                FitPruneNative.FP_DTYPE_F32, cache, cache, new long[] {rnd.nextBoolean() ? -1 - rnd.nextInt(3) : 2}, new long[] {2});
            case 5 -> FitPruneNative.fp_cpu_linear(a, rnd.nextBoolean() ? bad : 1, rnd.nextBoolean() ? bad : 8,
                rnd.nextInt(-1, 2) == 0 ? 9 : 1, cache, new int[] {rnd.nextInt(3, 9)}, new long[] {n}, cache, rnd.nextInt(4, 8));
            case 0 -> FitPruneNative.fp_select_keep(a, b, n, bad, 1, 0, keep);
            case 1 -> FitPruneNative.fp_select_keep(a, b, n, 1, bad, 0, keep);
            case 2 -> FitPruneNative.fp_cpu_scores_f32(a, b, a, n, 1, 1, 1, bad, rnd.nextInt(0, 3), a, b);
            case 3 -> FitPruneNative.fp_cpu_decode_attention(a, new long[] {0, bad}, 1, 1, 1, 8,
                rnd.nextInt(0, 3), 0.25f, cache, cache, new long[] {n}, b, FitPruneNative.FP_DTYPE_F32, a);
            default -> FitPruneNative.fp_cpu_gather_rows_f32(a, rnd.nextInt(0, 4), bad, keep, rnd.nextInt(1, 4), b);
          };
          if (st == FitPruneNative.FP_OK) throw new AssertionError("the C API accepted an invalid argument");
          Kernels.check(st);
        }
        default -> {
          int k = rnd.nextInt(4) == 0 ? rnd.nextInt(40, 64) : rnd.nextInt(0, 16);
          long len = rnd.nextInt(8) == 0 ? -1 : 1L << k;
          try (Data d = rnd.nextBoolean() ? Data.allocate(ElementType.FP32, len) : null;
              Data e = d == null ? Data.allocate(ElementType.INT32, len) : null) {
            if (d != null && d.length() > 0) ((org.bytedeco.javacpp.FloatPointer) d.pointer()).put(d.length() - 1, 1f);
            if (e != null && e.length() > 0) ((org.bytedeco.javacpp.IntPointer) e.pointer()).put(e.length() - 1, 1);
          }
        }
      }
    } finally {
      g.check();
    }
  }
}
