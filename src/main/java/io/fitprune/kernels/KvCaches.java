package io.fitprune.kernels;

import static io.fitprune.kernels.HostData.access;
import static io.fitprune.kernels.Kernels.check;
import static io.fitprune.kernels.Kernels.require;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The K/V cache calls behind {@link Kernels}: appending a step's K/V to contiguous or paged
 * caches, decode attention over paged caches, and prefill attention over a cached prefix. Every argument is checked here (block ids and
 * slots included) before the native call, which checks them again.
 */
final class KvCaches {
  private KvCaches() {}

  static void appendKv(BatchShape shape, Data k, Data v, Data[] kCaches,
      Data[] vCaches, long[] kvLengths) {
    Objects.requireNonNull(shape, "shape");
    Batch batch = shape.batch();
    int B = batch.size();
    ElementType dtype = sameType(k, v);
    long[] kvDims = {batch.tokens(), shape.kvHeads(), shape.headDim()};
    k.requireShape("k", "[Nq,G,d]", kvDims);
    v.requireShape("v", "[Nq,G,d]", kvDims);
    requireLength(require(kCaches, "kCaches").length, B, "kCaches");
    requireLength(require(vCaches, "vCaches").length, B, "vCaches");
    requireLength(require(kvLengths, "kvLengths").length, B, "kvLengths");
    long row = (long) shape.kvHeads() * shape.headDim();
    long[] capacity = new long[B];
    for (int b = 0; b < B; b++) {
      for (int kv = 0; kv < 2; kv++) {
        Data cache = kv == 0 ? kCaches[b] : vCaches[b];
        String name = (kv == 0 ? "kCaches[" : "vCaches[") + b + "]";
        if (CpuOps.inputType(require(cache, name), name) != dtype)
          throw new IllegalArgumentException(name + ": expected " + k.elementName() + " like k, got " + cache.elementName());
        cache.requireWritable(name);
      }
      capacity[b] = Math.min(kCaches[b].length(), vCaches[b].length()) / row;
    }
    requireRoom(batch, kvLengths, capacity);
    List<HostData.Access> opened = new ArrayList<>();
    try (var ka = access(k, true, false); var va = access(v, true, false)) {
      long[] kp = new long[B], vp = new long[B];
      for (int b = 0; b < B; b++) {
        kp[b] = address(opened, kCaches[b]);
        vp[b] = address(opened, vCaches[b]);
      }
      check(FitPruneNative.fp_cpu_kv_append(ka.untyped(), va.untyped(), batch.raw(), B, shape.kvHeads(), shape.headDim(),
          dtype.code, kp, vp, capacity, kvLengths));
    } finally {
      for (HostData.Access a : opened) a.close();
    }
  }

  static void appendKv(Data k, Data v, PagedKvCache cache, long[] slots) {
    Objects.requireNonNull(cache, "cache");
    ElementType dtype = sameType(k, v);
    if (CpuOps.inputType(cache.keys(), "cache") != dtype)
      throw new IllegalArgumentException("k: expected " + cache.keys().elementName() + " like the cache, got "
          + k.elementName());
    long n = require(slots, "slots").length, total = (long) cache.numBlocks() * cache.blockSize();
    long[] kvDims = {n, cache.kvHeads(), cache.headDim()};
    k.requireShape("k", "[n,G,d] (n = slots.length)", kvDims);
    v.requireShape("v", "[n,G,d] (n = slots.length)", kvDims);
    requireSlots(slots, total);
    try (var ka = access(k, true, false); var va = access(v, true, false);
        var kc = access(cache.keys(), true, true); var vc = access(cache.values(), true, true)) {
      check(FitPruneNative.fp_cpu_kv_append_paged(ka.untyped(), va.untyped(), n, cache.kvHeads(), cache.headDim(), dtype.code,
          kc.untyped(), vc.untyped(), cache.numBlocks(), cache.blockSize(), slots));
    }
  }

  static void pagedDecodeAttention(BatchShape shape, Data q, Data kPool, Data vPool,
      int blockSize, int[] blockTable, long[] kvLengths, Data out, Data lse) {
    Objects.requireNonNull(shape, "shape");
    Batch batch = shape.batch();
    int B = batch.size();
    AttentionShape all = shape.packed();
    ElementType dtype = CpuBatchOps.decodeQuery(all, q, out, lse);
    int outType = CpuOps.outputType(dtype, out).code;
    for (Data pool : new Data[] {kPool, vPool}) {
      String name = pool == kPool ? "kPool" : "vPool";
      if (CpuOps.inputType(require(pool, name), name) != dtype)
        throw new IllegalArgumentException(name + ": expected " + q.elementName() + " like q, got " + pool.elementName());
    }
    long numBlocks = numBlocks(kPool, vPool, blockSize, shape);
    int maxBlocks = requireTable(batch, blockSize, blockTable, kvLengths, numBlocks);
    try (var qa = access(q, true, false); var oa = access(out, false, true); var la = lse == null ? null : access(lse, false, true);
        var ka = access(kPool, true, false); var va = access(vPool, true, false)) {
      check(FitPruneNative.fp_cpu_paged_decode_attention(qa.untyped(), batch.raw(), B, shape.heads(), shape.kvHeads(),
          shape.headDim(), dtype.code, shape.softmaxScale(), ka.untyped(), va.untyped(), numBlocks, blockSize, blockTable,
          maxBlocks, kvLengths, oa.untyped(), outType, la == null ? null : la.untyped()));
    }
  }

  /** Lengths fit the caches: kvLengths[b] + q_len_b <= capacity[b] for every sequence. */
  static void requireRoom(Batch batch, long[] kvLengths, long[] capacity) {
    requireLength(require(kvLengths, "kvLengths").length, batch.size(), "kvLengths");
    for (int b = 0; b < batch.size(); b++) {
      long n = batch.length(b);
      if (kvLengths[b] < 0 || kvLengths[b] > capacity[b] || n > capacity[b] - kvLengths[b])
        throw new IllegalArgumentException("kvLengths[" + b + "] = " + kvLengths[b] + " + " + n
            + " new rows must fit the caches of sequence " + b + " ([cap,G,d] with cap = " + capacity[b] + ")");
    }
  }

  /** Every slot below numBlocks*blockSize (negative: a padding row). */
  static void requireSlots(long[] slots, long total) {
    for (int i = 0; i < slots.length; i++)
      if (slots[i] >= total)
        throw new IllegalArgumentException("slots[" + i + "] = " + slots[i] + " is outside [0, numBlocks*blockSize="
            + total + ") (negative: a padding row, skipped)");
  }

  /** A decode's lengths and block table {@code [B, maxBlocks]} against pools of numBlocks blocks; returns maxBlocks. */
  static int requireTable(Batch batch, int blockSize, int[] blockTable, long[] kvLengths, long numBlocks) {
    int B = batch.size();
    requireLength(require(kvLengths, "kvLengths").length, B, "kvLengths");
    require(blockTable, "blockTable");
    if (B > 0 && blockTable.length % B != 0)
      throw new IllegalArgumentException("blockTable: expected [B=" + B + ", maxBlocks] entries, got " + blockTable.length);
    int maxBlocks = B == 0 ? 0 : blockTable.length / B;
    for (int b = 0; b < B; b++) {
      CpuBatchOps.requireDecodeLength(batch, kvLengths, b);
      long used = (kvLengths[b] + blockSize - 1) / blockSize;
      if (used > maxBlocks)
        throw new IllegalArgumentException("blockTable: sequence " + b + " needs " + used + " blocks for kvLengths[" + b
            + "] = " + kvLengths[b] + ", the table has " + maxBlocks + " per sequence");
      for (int i = 0; i < used; i++) {
        int id = blockTable[b * maxBlocks + i];
        if (id < 0 || id >= numBlocks)
          throw new IllegalArgumentException("blockTable[" + b + "][" + i + "] = " + id + " is outside [0, numBlocks="
              + numBlocks + ") (pools of [numBlocks, blockSize=" + blockSize + ", G, d])");
      }
    }
    return maxBlocks;
  }

  static void attention(BatchShape shape, Batch keys, Data q, Data k, Data v,
      Data out, Data lse) {
    Objects.requireNonNull(shape, "shape");
    Objects.requireNonNull(keys, "keys");
    Batch queries = shape.batch();
    requireKeys(queries, keys);
    AttentionShape all = shape.packed();
    ElementType dtype = CpuOps.inputType(q, k, v);
    int outType = CpuOps.outputType(dtype, out).code;
    long[] kvDims = {keys.tokens(), shape.kvHeads(), shape.headDim()};
    q.requireShape("q", "[Nq,H,d]", all.qDims());
    k.requireShape("k", "[Nk,G,d]", kvDims);
    v.requireShape("v", "[Nk,G,d]", kvDims);
    out.requireShape("out", "[Nq,H,d]", all.qDims());
    CpuOps.requireFp32(require(lse, "lse"), "lse").requireShape("lse", "[H,Nq]", all.lseDims());
    try (var qa = access(q, true, false); var ka = access(k, true, false); var va = access(v, true, false);
        var oa = access(out, false, true); var la = access(lse, false, true)) {
      check(FitPruneNative.fp_cpu_attention_varlen_kv(qa.untyped(), ka.untyped(), va.untyped(), queries.raw(),
          keys.raw(), queries.size(), shape.heads(), shape.kvHeads(), shape.headDim(), dtype.code, shape.softmaxScale(),
          oa.untyped(), outType, la.untyped()));
    }
  }

  /** One key length per sequence, each at least its query count (the keys end with the queries' own). */
  static void requireKeys(Batch queries, Batch keys) {
    Objects.requireNonNull(keys, "keys");
    if (keys.size() != queries.size())
      throw new IllegalArgumentException("keys: expected one length per sequence (" + queries.size() + "), got "
          + keys.size());
    for (int b = 0; b < keys.size(); b++)
      if (keys.length(b) < queries.length(b))
        throw new IllegalArgumentException("keys: sequence " + b + " has " + keys.length(b) + " keys for "
            + queries.length(b) + " queries (its keys end with the queries' own)");
  }

  /** The pools' block count for rows of blockSize*G*d, capped at 2^31-1 (a block id is an int). */
  static long numBlocks(Data kPool, Data vPool, int blockSize, BatchShape shape) {
    if (blockSize <= 0) throw new IllegalArgumentException("blockSize must be > 0, got " + blockSize);
    long rowLength = Lengths.product("pool row blockSize*G*d", blockSize, shape.kvHeads(), shape.headDim());
    return Math.min(Math.min(kPool.length(), vPool.length()) / rowLength, Integer.MAX_VALUE);
  }

  private static ElementType sameType(Data k, Data v) {
    ElementType dtype = CpuOps.inputType(require(k, "k"), "k");
    if (CpuOps.inputType(require(v, "v"), "v") != dtype)
      throw new IllegalArgumentException("v: expected " + k.elementName() + " like k, got " + v.elementName());
    return dtype;
  }

  private static long address(List<HostData.Access> opened, Data data) {
    HostData.Access a = access(data, true, true); // rows outside the append keep their contents
    opened.add(a);
    return a.address();
  }

  private static void requireLength(int got, int expected, String name) {
    if (got != expected)
      throw new IllegalArgumentException(name + ": expected one entry per sequence (" + expected + "), got " + got);
  }
}
