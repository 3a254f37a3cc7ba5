package io.fitprune.kernels;

import static io.fitprune.kernels.Kernels.require;

import java.util.Objects;

/**
 * The CUDA side of the K/V cache calls of {@link Kernels}, on {@link DeviceBuffer}s: appends to
 * contiguous and paged caches, paged decode attention and prefill over a cached prefix. The host
 * tables (lengths, block tables, slots, cache addresses) are checked here with the CPU path's
 * checks ({@link KvCaches}), then handed to the C API, which copies what the kernels read to the
 * device on the call's stream. Every call only enqueues work: no synchronisation, no read-back.
 */
final class CudaKvOps {
  private CudaKvOps() {}

  static void appendKv(BatchShape shape, DeviceBuffer k, DeviceBuffer v, DeviceBuffer[] kCaches,
      DeviceBuffer[] vCaches, long[] kvLengths, CudaStream stream) {
    Objects.requireNonNull(shape, "shape");
    Batch batch = shape.batch();
    int B = batch.size();
    ElementType t = sameType(k, v);
    long row = (long) shape.kvHeads() * shape.headDim();
    long[] kvDims = {batch.tokens(), shape.kvHeads(), shape.headDim()};
    k.requireShape("k", "[Nq,G,d]", kvDims);
    v.requireShape("v", "[Nq,G,d]", kvDims);
    requireCount(require(kCaches, "kCaches").length, B, "kCaches");
    requireCount(require(vCaches, "vCaches").length, B, "vCaches");
    long[] capacity = new long[B], kp = new long[B], vp = new long[B];
    for (int b = 0; b < B; b++) {
      for (int kv = 0; kv < 2; kv++) {
        DeviceBuffer c = kv == 0 ? kCaches[b] : vCaches[b];
        String name = (kv == 0 ? "kCaches[" : "vCaches[") + b + "]";
        if (require(c, name).type() != t)
          throw new IllegalArgumentException(name + ": expected " + t + " like k, got " + c.type());
      }
      capacity[b] = Math.min(kCaches[b].length(), vCaches[b].length()) / row;
      kp[b] = kCaches[b].pointer().address();
      vp[b] = vCaches[b].pointer().address();
    }
    KvCaches.requireRoom(batch, kvLengths, capacity);
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_kv_append(k.pointer(), v.pointer(), batch.raw(), B, shape.kvHeads(),
        shape.headDim(), t.code, kp, vp, capacity, kvLengths, stream.pointer()));
  }

  static void appendKv(DeviceBuffer k, DeviceBuffer v, PagedKvCache cache, long[] slots, CudaStream stream) {
    Objects.requireNonNull(cache, "cache");
    ElementType t = sameType(k, v);
    if (cache.keys().type() != t)
      throw new IllegalArgumentException("k: expected " + cache.keys().type() + " like the cache, got " + t);
    long n = require(slots, "slots").length;
    long[] kvDims = {n, cache.kvHeads(), cache.headDim()};
    k.requireShape("k", "[n,G,d] (n = slots.length)", kvDims);
    v.requireShape("v", "[n,G,d] (n = slots.length)", kvDims);
    KvCaches.requireSlots(slots, (long) cache.numBlocks() * cache.blockSize());
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_kv_append_paged(k.pointer(), v.pointer(), n, cache.kvHeads(), cache.headDim(),
        t.code, cache.keys().pointer(), cache.values().pointer(), cache.numBlocks(), cache.blockSize(), slots,
        stream.pointer()));
  }

  static void pagedDecodeAttention(BatchShape shape, DeviceBuffer q, DeviceBuffer kPool, DeviceBuffer vPool,
      int blockSize, int[] blockTable, long[] kvLengths, DeviceBuffer out, DeviceBuffer lse, CudaStream stream) {
    Objects.requireNonNull(shape, "shape");
    AttentionShape all = shape.packed();
    CudaOps.requireHeadDim(all);
    ElementType t = CudaOps.floatType(q, "q");
    CudaOps.require(q, "q", t, all.qLength(), "[Nq,H,d]");
    CudaOps.require(out, "out", t, all.qLength(), "[Nq,H,d]");
    if (lse != null) CudaOps.require(lse, "lse", ElementType.FP32, all.lseLength(), "[H,Nq]");
    for (DeviceBuffer pool : new DeviceBuffer[] {kPool, vPool}) {
      String name = pool == kPool ? "kPool" : "vPool";
      if (require(pool, name).type() != t)
        throw new IllegalArgumentException(name + ": expected " + t + " like q, got " + pool.type());
    }
    long numBlocks = KvCaches.numBlocks(kPool, vPool, blockSize, shape);
    int maxBlocks = KvCaches.requireTable(shape.batch(), blockSize, blockTable, kvLengths, numBlocks);
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_paged_decode_attention(q.pointer(), shape.batch().raw(), shape.batch().size(),
        shape.heads(), shape.kvHeads(), shape.headDim(), t.code, shape.softmaxScale(), kPool.pointer(), vPool.pointer(),
        numBlocks, blockSize, blockTable, maxBlocks, kvLengths, out.pointer(), lse == null ? null : lse.pointer(),
        stream.pointer()));
  }

  static void attention(BatchShape shape, Batch keys, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
      DeviceBuffer out, DeviceBuffer lse, CudaStream stream) {
    Objects.requireNonNull(shape, "shape");
    Batch queries = shape.batch();
    KvCaches.requireKeys(queries, keys);
    AttentionShape all = shape.packed();
    CudaOps.requireHeadDim(all);
    ElementType t = CudaOps.floatType(q, "q");
    long kvLength = Lengths.product("k [Nk,G,d]", keys.tokens(), shape.kvHeads(), shape.headDim());
    CudaOps.require(q, "q", t, all.qLength(), "[Nq,H,d]");
    CudaOps.require(k, "k", t, kvLength, "[Nk,G,d]");
    CudaOps.require(v, "v", t, kvLength, "[Nk,G,d]");
    CudaOps.require(out, "out", t, all.qLength(), "[Nq,H,d]");
    CudaOps.require(lse, "lse", ElementType.FP32, all.lseLength(), "[H,Nq]");
    Objects.requireNonNull(stream, "stream");
    CudaBackend.requireDevice();
    Kernels.check(FitPruneNative.fp_cuda_attention_varlen_kv(q.pointer(), k.pointer(), v.pointer(), queries.raw(),
        keys.raw(), queries.size(), shape.heads(), shape.kvHeads(), shape.headDim(), t.code, shape.softmaxScale(),
        out.pointer(), t.code, lse.pointer(), stream.pointer()));
  }

  private static ElementType sameType(DeviceBuffer k, DeviceBuffer v) {
    ElementType t = require(k, "k").type();
    if (require(v, "v").type() != t) throw new IllegalArgumentException("v: expected " + t + " like k, got " + v.type());
    return t;
  }

  private static void requireCount(int got, int expected, String name) {
    if (got != expected)
      throw new IllegalArgumentException(name + ": expected one entry per sequence (" + expected + "), got " + got);
  }
}
