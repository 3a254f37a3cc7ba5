package io.fitprune.kernels;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;

/**
 * One layer's paged K/V cache in vLLM's layout: pools k and v {@code [numBlocks, blockSize, G, d]}
 * (float32 or bfloat16 in host memory; float32, float16 or bfloat16 on the GPU) and, per sequence,
 * its blocks in order and its length. The tables stay on the host: a call on device pools copies
 * the block table (or the slots) it needs to the device on its stream. Cache row r of a
 * sequence is row {@code r % blockSize} of its block {@code r / blockSize}. FitPrune's layers keep
 * different lengths (a pruning layer keeps every token it saw, later layers only the survivors),
 * so an engine keeps one of these per layer, each with its own tables. Blocks are taken from a
 * free list, lowest id first. Not thread-safe: one engine thread owns a layer's cache at a time.
 */
public final class PagedKvCache implements AutoCloseable {
  private final Data k, v;
  private final int numBlocks, blockSize, kvHeads, headDim;
  private final boolean owned;
  private final BitSet free = new BitSet();
  private final List<int[]> blocks = new ArrayList<>(); // per sequence: its block ids (a prefix in use)
  private final List<Long> lengths = new ArrayList<>();

  private PagedKvCache(Data k, Data v, int numBlocks, int blockSize, int kvHeads, int headDim,
      boolean owned) {
    this.k = k;
    this.v = v;
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.owned = owned;
    free.set(0, numBlocks);
  }

  /** New host pools of {@code type} (FP32 or BF16) for numBlocks blocks of blockSize rows of {@code [G, d]}. */
  public static PagedKvCache allocate(ElementType type, int numBlocks, int blockSize, int kvHeads, int headDim) {
    return allocate(type, numBlocks, blockSize, kvHeads, headDim, false);
  }

  /**
   * New pools as {@link #allocate(ElementType, int, int, int, int)}; with {@code device}, uninitialised
   * {@link DeviceBuffer}s of FP32, FP16 or BF16 (the CUDA kernels run on them).
   */
  public static PagedKvCache allocate(ElementType type, int numBlocks, int blockSize, int kvHeads, int headDim,
      boolean device) {
    long n = poolLength(numBlocks, blockSize, kvHeads, headDim);
    Data k, v;
    if (device) {
      if (!Kernels.require(type, "type").isFloat())
        throw new IllegalArgumentException("type: expected FP32, FP16 or BF16 for a device cache, got " + type);
      k = DeviceBuffer.allocate(type, n);
      try {
        v = DeviceBuffer.allocate(type, n);
      } catch (RuntimeException e) {
        k.close();
        throw e;
      }
    } else if (type == ElementType.FP32) {
      k = Data.allocate(ElementType.FP32, n);
      v = Data.allocate(ElementType.FP32, n);
    } else if (type == ElementType.BF16) {
      k = Data.allocate(ElementType.BF16, n);
      v = Data.allocate(ElementType.BF16, n);
    } else {
      throw new IllegalArgumentException("type: expected FP32 or BF16 for a CPU cache, got " + type);
    }
    return new PagedKvCache(k, v, numBlocks, blockSize, kvHeads, headDim, true);
  }

  /**
   * A cache over pools the caller owns, each exactly {@code [numBlocks, blockSize, G, d]} of one
   * type, both in host memory (FP32 or BF16) or both on the device (FP32, FP16 or BF16).
   */
  public static PagedKvCache over(Data kPool, Data vPool, int numBlocks, int blockSize, int kvHeads,
      int headDim) {
    long n = poolLength(numBlocks, blockSize, kvHeads, headDim);
    boolean device = Kernels.require(kPool, "kPool").onDevice();
    if (Kernels.require(vPool, "vPool").onDevice() != device)
      throw new IllegalArgumentException("vPool: lives " + (device ? "in host memory" : "on the device") + " but kPool "
          + (device ? "on the device" : "in host memory") + "; both pools live in one place");
    ElementType type = device ? CudaOps.floatType((DeviceBuffer) kPool, "kPool") : CpuOps.inputType(kPool, "kPool");
    if (vPool.type() != type)
      throw new IllegalArgumentException("vPool: expected " + kPool.elementName() + " like kPool");
    String dims = "[numBlocks=" + numBlocks + ", blockSize=" + blockSize + ", G=" + kvHeads + ", d=" + headDim + "]";
    kPool.requireShape("kPool", dims, n);
    vPool.requireShape("vPool", dims, n);
    kPool.requireWritable("kPool");
    vPool.requireWritable("vPool");
    return new PagedKvCache(kPool, vPool, numBlocks, blockSize, kvHeads, headDim, false);
  }

  private static long poolLength(int numBlocks, int blockSize, int kvHeads, int headDim) {
    if (numBlocks < 0) throw new IllegalArgumentException("numBlocks must be >= 0, got " + numBlocks);
    if (blockSize <= 0) throw new IllegalArgumentException("blockSize must be > 0, got " + blockSize);
    if (kvHeads <= 0) throw new IllegalArgumentException("kvHeads (G) must be > 0, got " + kvHeads);
    if (headDim <= 0 || headDim > AttentionShape.MAX_HEAD_DIM)
      throw new IllegalArgumentException("headDim (d) must be in [1, " + AttentionShape.MAX_HEAD_DIM + "], got " + headDim);
    long rows = Lengths.product("pool rows numBlocks*blockSize", numBlocks, blockSize, 1);
    return Lengths.product("pool length numBlocks*blockSize*G*d", rows, kvHeads, headDim);
  }

  /** A new empty sequence; returns its id (ids count from 0). */
  public int addSequence() {
    blocks.add(new int[0]);
    lengths.add(0L);
    return blocks.size() - 1;
  }

  /** Cache rows held for sequence {@code seq}. */
  public long length(int seq) {
    return lengths.get(check(seq));
  }

  /**
   * Reserves the next {@code rows} cache rows of {@code seq} (taking blocks as needed) and returns
   * their slots {@code block * blockSize + offset}, the {@code slotMapping} of
   * {@link Kernels#appendKv(Data, Data, PagedKvCache, long[])}; the length grows by rows.
   * Nothing changes when the free blocks do not suffice (an exception says how many are missing).
   */
  public long[] reserve(int seq, int rows) {
    check(seq);
    if (rows < 0) throw new IllegalArgumentException("rows must be >= 0, got " + rows);
    long len = lengths.get(seq), end = len + rows;
    int have = blocks.get(seq).length;
    long need = (end + blockSize - 1) / blockSize - have;
    if (need > free.cardinality())
      throw new IllegalStateException("sequence " + seq + ": " + rows + " more rows need " + need + " more blocks of "
          + blockSize + ", " + free.cardinality() + " of " + numBlocks + " are free");
    int[] ids = Arrays.copyOf(blocks.get(seq), have + (int) Math.max(need, 0));
    for (int i = have; i < ids.length; i++) {
      ids[i] = free.nextSetBit(0);
      free.clear(ids[i]);
    }
    blocks.set(seq, ids);
    lengths.set(seq, end);
    long[] slots = new long[rows];
    for (int i = 0; i < rows; i++) {
      long r = len + i;
      slots[i] = (long) ids[(int) (r / blockSize)] * blockSize + r % blockSize;
    }
    return slots;
  }

  /** Returns the blocks of {@code seq} to the free list; its length becomes 0 (the id stays usable). */
  public void free(int seq) {
    for (int id : blocks.get(check(seq))) free.set(id);
    blocks.set(seq, new int[0]);
    lengths.set(seq, 0L);
  }

  /** The most blocks any of {@code seqs} holds: the row length of {@link #blockTable}. */
  public int maxBlocks(int... seqs) {
    int m = 0;
    for (int s : seqs) m = Math.max(m, blocks.get(check(s)).length);
    return m;
  }

  /** The block table of {@code seqs}: {@code [seqs.length, maxBlocks(seqs)]}, row b the blocks of seqs[b], padded with 0. */
  public int[] blockTable(int... seqs) {
    int m = maxBlocks(seqs);
    int[] table = new int[Math.multiplyExact(seqs.length, m)];
    for (int b = 0; b < seqs.length; b++) {
      int[] ids = blocks.get(seqs[b]);
      System.arraycopy(ids, 0, table, b * m, ids.length);
    }
    return table;
  }

  /** The lengths of {@code seqs}, as {@code kvLengths}. */
  public long[] lengths(int... seqs) {
    long[] out = new long[seqs.length];
    for (int b = 0; b < seqs.length; b++) out[b] = length(seqs[b]);
    return out;
  }

  public Data keys() {
    return k;
  }

  public Data values() {
    return v;
  }

  public int numBlocks() {
    return numBlocks;
  }

  public int blockSize() {
    return blockSize;
  }

  public int kvHeads() {
    return kvHeads;
  }

  public int headDim() {
    return headDim;
  }

  public int freeBlocks() {
    return free.cardinality();
  }

  /** Frees the pools this cache allocated (not those given to {@link #over}). */
  @Override
  public void close() {
    if (!owned) return;
    k.close();
    v.close();
  }

  private int check(int seq) {
    if (seq < 0 || seq >= blocks.size())
      throw new IndexOutOfBoundsException("sequence " + seq + " is not in this cache (" + blocks.size() + " sequences)");
    return seq;
  }
}
