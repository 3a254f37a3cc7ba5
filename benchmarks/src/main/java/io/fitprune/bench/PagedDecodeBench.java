package io.fitprune.bench;

import io.fitprune.kernels.Batch;
import io.fitprune.kernels.BatchShape;
import io.fitprune.kernels.Data;
import io.fitprune.kernels.ElementType;
import io.fitprune.kernels.Kernels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One decode step's attention for 8 requests with caches of 100 to 1100 rows (LLaVA-1.5 heads,
 * H = 32, G = 32, d = 128; one new token each), over the same K/V rows stored two ways:
 * <ul>
 *   <li>{@code contiguous}, {@code contiguousBf16}: per-request caches {@code [cap, G, d]}
 *       ({@code Kernels.decodeAttention});
 *   <li>{@code paged}, {@code pagedBf16}: one pool {@code [numBlocks, blockSize, G, d]} with the
 *       requests' blocks shuffled through it, read through a block table
 *       ({@code Kernels.pagedDecodeAttention}); the same bits as the contiguous call.
 * </ul>
 * paged / contiguous is the cost of the indirection (the target is at most 1.1). On a shared
 * machine the load changes between JMH's separate runs of each method by more than that, so
 * {@code interleaved} and {@code interleavedBf16} also run both layouts alternately in one
 * benchmark (order flipped every call) and add each one's time to its own counter
 * ({@code contiguousNs}, {@code pagedNs}): both see the same load, and their ratio per iteration is
 * the figure to read.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class PagedDecodeBench {
  static final long[] LENGTHS = {100, 240, 380, 520, 660, 800, 950, 1100};
  static final int H = 32, G = 32, D = 128, ROW = G * D;

  @Param({"16"})
  public int blockSize;

  private BatchShape step;
  private long[] kvLen;
  private int[] table;
  private Data q, out, kPool, vPool;
  private Data[] kc, vc;
  private Data bq, bkPool, bvPool;
  private Data[] bkc, bvc;
  private final List<Data> owned = new ArrayList<>();

  @Setup(Level.Trial)
  public void setup() {
    int B = LENGTHS.length;
    long[] ones = new long[B];
    Arrays.fill(ones, 1);
    step = new BatchShape(Batch.ofLengths(ones), H, G, D);
    kvLen = LENGTHS.clone();
    Random rnd = new Random(42);
    int maxBlocks = 0, numBlocks = 0;
    for (long n : LENGTHS) {
      int blocks = (int) ((n + blockSize - 1) / blockSize);
      maxBlocks = Math.max(maxBlocks, blocks);
      numBlocks += blocks;
    }
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < numBlocks; i++) ids.add(i);
    Collections.shuffle(ids, rnd); // blocks scattered as a long-running server leaves them
    table = new int[B * maxBlocks];
    float[] kp = new float[numBlocks * blockSize * ROW], vp = new float[kp.length];
    kc = new Data[B];
    vc = new Data[B];
    bkc = new Data[B];
    bvc = new Data[B];
    int next = 0;
    for (int b = 0; b < B; b++) {
      float[] k = gaussian(rnd, LENGTHS[b] * ROW), v = gaussian(rnd, LENGTHS[b] * ROW);
      kc[b] = floats(k);
      vc[b] = floats(v);
      bkc[b] = bf16(k);
      bvc[b] = bf16(v);
      for (int r = 0; r < LENGTHS[b]; r++) {
        if (r % blockSize == 0) table[b * maxBlocks + r / blockSize] = ids.get(next++);
        int slot = table[b * maxBlocks + r / blockSize] * blockSize + r % blockSize;
        System.arraycopy(k, r * ROW, kp, slot * ROW, ROW);
        System.arraycopy(v, r * ROW, vp, slot * ROW, ROW);
      }
    }
    kPool = floats(kp);
    vPool = floats(vp);
    bkPool = bf16(kp);
    bvPool = bf16(vp);
    float[] qa = gaussian(rnd, (long) B * H * D);
    q = floats(qa);
    bq = bf16(qa);
    out = Data.allocate(ElementType.FP32, (long) B * H * D);
    owned.add(out);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    for (Data d : owned) d.close();
  }

  private static float[] gaussian(Random rnd, long count) {
    float[] a = new float[Math.toIntExact(count)];
    for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
    return a;
  }

  private Data floats(float[] a) {
    Data f = Data.allocate(ElementType.FP32, a.length);
    f.copyFrom(a);
    owned.add(f);
    return f;
  }

  private Data bf16(float[] a) {
    Data b = Data.allocate(ElementType.BF16, a.length);
    b.copyFrom(Data.roundBf16(a).toShorts());
    owned.add(b);
    return b;
  }

  /** Nanoseconds spent in each layout during an iteration of the interleaved benchmarks. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Split {
    public long contiguousNs, pagedNs;
    boolean pagedFirst;

    @Setup(Level.Iteration)
    public void clear() {
      contiguousNs = 0;
      pagedNs = 0;
    }
  }

  @Benchmark
  public Data interleaved(Split t) {
    return alternate(t, false);
  }

  @Benchmark
  public Data interleavedBf16(Split t) {
    return alternate(t, true);
  }

  private Data alternate(Split t, boolean bf16) {
    t.pagedFirst = !t.pagedFirst;
    for (int i = 0; i < 2; i++) {
      boolean paged = t.pagedFirst == (i == 0);
      long t0 = System.nanoTime();
      if (paged) {
        if (bf16) pagedBf16(); else paged();
        t.pagedNs += System.nanoTime() - t0;
      } else {
        if (bf16) contiguousBf16(); else contiguous();
        t.contiguousNs += System.nanoTime() - t0;
      }
    }
    return out;
  }

  @Benchmark
  public Data contiguous() {
    Kernels.decodeAttention(step, q, kc, vc, kvLen, out, null);
    return out;
  }

  @Benchmark
  public Data paged() {
    Kernels.pagedDecodeAttention(step, q, kPool, vPool, blockSize, table, kvLen, out, null);
    return out;
  }

  @Benchmark
  public Data contiguousBf16() {
    Kernels.decodeAttention(step, bq, bkc, bvc, kvLen, out, null);
    return out;
  }

  @Benchmark
  public Data pagedBf16() {
    Kernels.pagedDecodeAttention(step, bq, bkPool, bvPool, blockSize, table, kvLen, out, null);
    return out;
  }
}
