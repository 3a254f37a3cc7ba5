// Decode attention over per-sequence K/V caches, included after kernels.hpp by kernels_<isa>.cpp.
//
// One work item per (sequence, block of a.groups adjacent kv groups, key split), all of a
// sequence's groups where the rows are few: per group, its H/G query heads times the sequence's
// new tokens are the rows, so each cached key and value is read once for all of them. Decoding is
// bound by reading the caches, so an item walks them 16 keys at a time through all its groups,
// whole rows together. When the batch has too few items for the cores, long caches are also
// split along the keys (a.splits > 1): each split keeps its own softmax state in a.partial,
// merged per row afterwards.
//
// One kernel for both element types T of q and the caches (float, or bf16 with fp32 accumulation):
// - q.k reads each key row in place and sums its products in 16 lanes, by fused multiply-adds
//   (fp32) or by dot2 on element pairs (bf16: vdpbf16ps, or the same function through
//   conversions), then adds the lanes by one fixed tree.
// - P*V multiplies fp32 probabilities by v converted exactly to fp32 in registers (a bf16 is the
//   top half of an fp32). The prefill rounds P to bf16 to feed vdpbf16ps, which is worth it where
//   the matrix products bound the time; a decode step does only a few multiply-adds per cached
//   value it reads (one per head of the group), so it keeps the output at fp32 accuracy instead
//   (a bf16 probability is off by up to 2^-9). fp32 P also lets one code path serve both types.
// - Dot products and row sums are kept in 16 lanes whatever the vector width, and every
//   multiply-add is fused (`fused`), so each result is added in the same order on every ISA path:
//   bf16 decode gives the same bits on all of them (fp32 too, but for the generic path's rare
//   double rounding).

// A key's q.k in kSumLanes lanes: each lane takes one element (fp32, fused multiply-adds) or one
// element pair (bf16, dot2) per step, in element order; lane_sums16 then adds the lanes by one
// fixed tree. Keys are read in place, row by row: a decode row meets each key once, so packing K
// into key-per-lane tiles (as the prefill does, to share them over 32 query rows) costs more than
// the products, and the 16 lanes make the sum's order the same on every path.
constexpr int kSumLanes = 16;
constexpr int kDotVecs = kSumLanes / W;
template <class T> constexpr int kDotStep = kBf16<T> ? 2 * kSumLanes : kSumLanes;  // elements a step takes
constexpr int kDotPad = kDecodeDotPad;  // q rows are zero-padded to a multiple of this (decode_scratch_floats)
static_assert(kDotPad == 2 * kSumLanes, "a bf16 q.k step takes 2 x 16 lanes of elements");
inline int dot_dim(int d) { return (d + kDotPad - 1) / kDotPad * kDotPad; }
inline void dot_step(Vec* acc, const float* q, const float* k) {
  for (int h = 0; h < kDotVecs; ++h) acc[h] = fused(Vec::load(q + h * W), Vec::load(k + h * W), acc[h]);
}
inline void dot_step(Vec* acc, const bf16* q, const bf16* k) {
  for (int h = 0; h < kDotVecs; ++h) acc[h] = dot2(acc[h], Pairs::load(q + 2 * h * W), Pairs::load(k + 2 * h * W));
}

// Keys a work item takes through all its groups at a time: 16, one lane_sums16 for q.k, and an
// output row stays in registers over them for P*V. 16 rows' pieces are adjacent streams. (For
// one token over 32 layers of 665-row caches: 8 or 32 keys 7-10% slower, 64 16-20%.)
constexpr int kQkKeys = 16, kPvKeys = 16;

// s[r][jj] = scale * qs[r] . kr[jj] for rows r < rows and keys jj < cnt (qs rows dot_dim(d) apart,
// zero-padded; zeros: d zero elements). 16 keys at a time, their lanes summed together; keys
// past cnt read zeros, and a row's last d % kDotStep elements are copied zero-padded, so no read
// leaves a row.
template <class T>
inline void qk_dots(const T* qs, int64_t rows, const T* const* kr, int cnt, int d, const T* zeros, float scale,
                    float* s) {
  constexpr int E = kDotStep<T>;
  const int qd = dot_dim(d), full = d / E * E, tail = d - full;
  const Vec sc = Vec::set1(scale);
  for (int j0 = 0; j0 < cnt; j0 += 16) {
    const T* k[16];
    for (int jj = 0; jj < 16; ++jj) k[jj] = j0 + jj < cnt ? kr[j0 + jj] : zeros;
    T kt[16][E];  // the rows' tails
    if (tail)
      for (int jj = 0; jj < 16; ++jj)
        for (int c = 0; c < E; ++c) kt[jj][c] = c < tail ? k[jj][full + c] : T(0);
    for (int64_t r = 0; r < rows; ++r) {
      const T* q = qs + r * qd;
      Vec acc[16 * kDotVecs];
      for (auto& x : acc) x = Vec::zero();
      for (int c = 0; c < full; c += E)
        for (int jj = 0; jj < 16; ++jj) dot_step(acc + jj * kDotVecs, q + c, k[jj] + c);
      if (tail)
        for (int jj = 0; jj < 16; ++jj) dot_step(acc + jj * kDotVecs, q + full, kt[jj]);
      alignas(64) float sums[16];
      lane_sums16(acc, sums);
      for (int x = 0; x < 16; x += W) (Vec::load(sums + x) * sc).store(s + r * BK + j0 + x);
    }
  }
}

// o[0:d] += p * v[0:d], fused on every path.
inline void axpy(float p, const float* v, int d, float* o) {
  const Vec pv = Vec::set1(p);
  int c = 0;
  for (; c + W <= d; c += W) fused(pv, Vec::load(v + c), Vec::load(o + c)).store(o + c);
  if (c < d) fused(pv, Vec::load_partial(v + c, d - c), Vec::load_partial(o + c, d - c)).store_partial(o + c, d - c);
}

// V elements as fp32, exactly: W at a time, or one.
inline Vec load_v(const float* p) { return Vec::load(p); }
inline Vec load_v(const bf16* p) { return load_bf16(p); }
inline float v_at(const float* p, int c) { return p[c]; }
inline float v_at(const bf16* p, int c) { return bf16_to_float(p[c]); }

// The order of an output row's elements while it accumulates: with bf16 V, each whole chunk of 2W
// elements is kept as its W even elements then its W odd ones, which is how one load of 2W bf16
// widens (a shift and a mask, where widening W at a time takes a shuffle per W); the elements
// past the last whole chunk stay in place. Every step on o is element-wise, so the order changes
// no bits; o_in_order puts a finished row back.
template <class T>
inline void o_in_order(float* o, int d) {
  if constexpr (kBf16<T>) {
    float t[2 * W];
    for (int c = 0; c + 2 * W <= d; c += 2 * W) {
      for (int i = 0; i < W; ++i) {
        t[2 * i] = o[c + i];
        t[2 * i + 1] = o[c + W + i];
      }
      for (int i = 0; i < 2 * W; ++i) o[c + i] = t[i];
    }
  }
}
// acc[0], acc[1] += p * (the even, the odd elements of 2W bf16 at v); fp32 V: acc[0..1] += p * v[0..2W).
inline void pv_chunk(Vec pv, const bf16* v, Vec* acc) {
  const Pairs x = Pairs::load(v);
  acc[0] = fused(pv, x.even(), acc[0]);
  acc[1] = fused(pv, x.odd(), acc[1]);
}
inline void pv_chunk(Vec pv, const float* v, Vec* acc) {
  acc[0] = fused(pv, Vec::load(v), acc[0]);
  acc[1] = fused(pv, Vec::load(v + W), acc[1]);
}

// o[0:d] += p[jj] * vr[jj][0:d] for jj < cnt, key after key: per element the fused steps of one
// axpy per key, in the same order, so the same bits; but kPvVecs vectors of o stay in registers
// across the keys, and V is read where it lies, in its stored type (bf16 widened in registers, o
// in the order above). A decode step does only a few multiply-adds per value it reads, so the
// loads and stores of o per key, and a widened copy of each V tile, would cost more than the
// reading.
template <class T>
inline void pv_row(const float* p, int cnt, const T* const* vr, int d, float* o) {
  constexpr int U = kPvVecs;
  static_assert(U % 2 == 0, "pv_row takes 2W elements a step");
  int c = 0;
  for (; c + U * W <= d; c += U * W) {
    Vec acc[U];
    for (int u = 0; u < U; ++u) acc[u] = Vec::load(o + c + u * W);
    for (int jj = 0; jj < cnt; ++jj) {
      const Vec pv = Vec::set1(p[jj]);
      for (int u = 0; u < U; u += 2) pv_chunk(pv, vr[jj] + c + u * W, acc + u);
    }
    for (int u = 0; u < U; ++u) acc[u].store(o + c + u * W);
  }
  for (; c + 2 * W <= d; c += 2 * W) {
    Vec acc[2] = {Vec::load(o + c), Vec::load(o + c + W)};
    for (int jj = 0; jj < cnt; ++jj) pv_chunk(Vec::set1(p[jj]), vr[jj] + c, acc);
    acc[0].store(o + c);
    acc[1].store(o + c + W);
  }
  for (; c + W <= d; c += W) {
    Vec acc = Vec::load(o + c);
    for (int jj = 0; jj < cnt; ++jj) acc = fused(Vec::set1(p[jj]), load_v(vr[jj] + c), acc);
    acc.store(o + c);
  }
  for (; c < d; ++c) {  // fewer than W left: the same fused steps, one element at a time
    float acc = o[c];
    for (int jj = 0; jj < cnt; ++jj) acc = __builtin_fmaf(p[jj], v_at(vr[jj], c), acc);
    o[c] = acc;
  }
}

// Where row j of a cache lies (the item's first group's columns included): a contiguous cache
// [cap,G,d], or a paged pool [blocks, block_size, G, d] through the sequence's block table
// (checked by the API).
template <class T>
struct FlatRows {
  const T* base;
  int64_t ld;
  const T* row(int64_t j) const { return base + j * ld; }
};
template <class T>
struct PagedRows {
  const T* pool;
  const int32_t* table;
  int64_t bs, ld;
  const T* row(int64_t j) const { return pool + ((int64_t)table[j / bs] * bs + j % bs) * ld; }
};

// rows[jj] = row j0 + jj of a cache, jj < cnt, walking the layout: one division per call, not per
// row (a decode item does only a few multiply-adds per row it reads, so per-row address
// arithmetic would show).
template <class T>
inline void row_pointers(const FlatRows<T>& v, int64_t j0, int cnt, const T** rows) {
  const T* p = v.row(j0);
  for (int jj = 0; jj < cnt; ++jj, p += v.ld) rows[jj] = p;
}
template <class T>
inline void row_pointers(const PagedRows<T>& v, int64_t j0, int cnt, const T** rows) {
  int64_t block = j0 / v.bs, off = j0 % v.bs;
  const T* p = v.row(j0);
  for (int jj = 0; jj < cnt; ++jj) {
    rows[jj] = p;
    if (++off < v.bs) {
      p += v.ld;
    } else if (jj + 1 < cnt) {  // the next block is read only when a row of it is
      off = 0;
      p = v.pool + (int64_t)v.table[++block] * v.bs * v.ld;
    }
  }
}

static_assert(kSumLanes % W == 0 && BK % kSumLanes == 0, "sum lanes");

// Online softmax of one decode row, in place (base-2 logits sr, BK wide, masked entries -inf):
// sr becomes the probabilities, the running max m and the kSumLanes lane sums l are updated, and
// the output row o is rescaled to the new max. (The prefill's softmax_probs keeps W lane sums,
// whose order depends on the path.)
inline void decode_softmax_row(float* sr, float& m, float* l, float* o, int d) {
  Vec mx = Vec::load(sr);
  for (int x = W; x < BK; x += W) mx = max(mx, Vec::load(sr + x));
  const float tile_max = mx.hmax();  // a max is exact in any order
  const float m_new = tile_max > m ? tile_max : m;
  if (m_new == -__builtin_inff()) {  // nothing visible yet for this row
    for (int x = 0; x < BK; x += W) Vec::zero().store(sr + x);
    return;
  }
  const Vec mv = Vec::set1(m_new);
  Vec sum[kSumLanes / W];
  for (int h = 0; h < kSumLanes / W; ++h) sum[h] = Vec::zero();
  for (int x = 0; x < BK; x += kSumLanes)
    for (int h = 0; h < kSumLanes / W; ++h) {
      const Vec p = vexp2(Vec::load(sr + x + h * W) - mv);
      p.store(sr + x + h * W);
      sum[h] = sum[h] + p;
    }
  const float alpha = __builtin_exp2f(m - m_new);
  for (int h = 0; h < kSumLanes / W; ++h) fused(Vec::load(l + h * W), Vec::set1(alpha), sum[h]).store(l + h * W);
  m = m_new;
  if (alpha != 1.f) scale_row(o, d, alpha);
}

inline float sum_lanes(const float* l) {
  float s = 0.f;
  for (int i = 0; i < kSumLanes; ++i) s += l[i];
  return s;
}

// The normalised row o to out at element offset `at`, in the output's type (o is put back in order in place).
template <class T>
inline void store_out(const DecodeArgs<T>& a, int64_t at, float* o) {
  o_in_order<T>(o, a.d);
  if (a.out_f32)
    write_row(o, a.d, static_cast<float*>(a.out) + at);
  else
    write_row(o, a.d, static_cast<T*>(a.out) + at);
}

template <class T>
void decode_impl(const DecodeArgs<T>& a) {
  const int d = a.d, H = a.H, G = a.G, group = H / G, qd = dot_dim(d);
  const int64_t ldq = (int64_t)H * d, ldkv = (int64_t)G * d;
  const float qscale = a.qscale;

  const int64_t S = a.splits, ldp = d + 2;  // partial row: max, sum, unnormalised output
  const int NG = a.groups, NB = (G + NG - 1) / NG;  // kv groups per item, blocks of them per sequence
  const int64_t per_group = decode_scratch_floats(d, a.max_rows);
  // The same item over either cache layout: only where key row j lies differs. kc and vc point at
  // the first group's columns; the item's groups are adjacent in every row.
  auto item_of = [&](int64_t item, int worker, const auto& kc, const auto& vc) {
    const int64_t bi = item / (NB * S), sp = item % S;
    const int64_t b = a.order[bi];
    const int g0 = (int)(item / S % NB) * NG, ng = G - g0 < NG ? G - g0 : NG;
    const int64_t q0 = a.cu_q[b], qn = a.cu_q[b + 1] - q0, kv = a.kv_len[b], rows = qn * group;
    const int64_t chunk = ceil_div(ceil_div(kv, S), kQkKeys) * kQkKeys;
    const int64_t j_lo = sp * chunk, j_hi = min_of(kv, j_lo + chunk);
    const int64_t past = kv - qn;  // cache rows before the first new token
    float* const scratch = a.scratch + (int64_t)worker * NG * per_group;
    // group gi's state: q rows [rows][qd] (exact; the logits are scaled), output rows, logits,
    // maxima and lane sums [rows][kSumLanes]; after group 0's, d zeros for qk_dots
    auto qs_of = [&](int gi) { return reinterpret_cast<T*>(scratch + gi * per_group); };
    auto o_of = [&](int gi) { return scratch + gi * per_group + rows * qd; };
    auto s_of = [&](int gi) { return o_of(gi) + rows * d; };
    auto m_of = [&](int gi) { return s_of(gi) + rows * BK; };
    auto l_of = [&](int gi) { return m_of(gi) + rows; };
    T* const zeros = reinterpret_cast<T*>(l_of(0) + rows * kSumLanes);
    for (int c = 0; c < d; ++c) zeros[c] = T(0);
    for (int gi = 0; gi < ng; ++gi) {
      const int g = g0 + gi;
      T* qs = qs_of(gi);
      float *o = o_of(gi), *m = m_of(gi), *l = l_of(gi);
      // row r: new token t = r / group, head h = g*group + r % group
      for (int64_t r = 0; r < rows; ++r) {
        const T* src = a.q + (q0 + r / group) * ldq + (int64_t)(g * group + r % group) * d;
        for (int c = 0; c < qd; ++c) qs[r * qd + c] = c < d ? src[c] : T(0);
        for (int c = 0; c < d; ++c) o[r * d + c] = 0.f;
        m[r] = -__builtin_inff();
        for (int x = 0; x < kSumLanes; ++x) l[r * kSumLanes + x] = 0.f;
      }
    }
    // keys of the tile at j0 (cnt of them) that row r may see: new token r / group sees the
    // cache up to itself
    auto visible_keys = [&](int64_t r, int64_t j0, int cnt) {
      const int64_t visible = past + r / group + 1 - j0;
      return visible < 0 ? 0 : (int)min_of<int64_t>(visible, cnt);
    };
    for (int64_t j0 = j_lo; j0 < j_hi; j0 += BK) {
      const int cnt = (int)min_of<int64_t>(BK, j_hi - j0);
      // keys the last row sees (the first rows may see fewer): only these are read
      const int seen = (int)min_of<int64_t>(cnt, past + qn - j0);
      // q.k, then P*V, a few keys at a time through all the item's groups: those rows' pieces
      // are read together, so the caches are read as a few adjacent streams, which the hardware
      // prefetchers follow, rather than one group's d elements of each of BK rows at a time.
      // (the rows are found once for the item's first group; group gi lies gi*d further on)
      for (int kb = 0; kb < seen; kb += kQkKeys) {
        const int n = min_of(kQkKeys, seen - kb);
        const T *k0[kQkKeys], *kr[kQkKeys];
        row_pointers(kc, j0 + kb, n, k0);
        for (int gi = 0; gi < ng; ++gi) {
          for (int jj = 0; jj < n; ++jj) kr[jj] = k0[jj] + (int64_t)gi * d;
          qk_dots(qs_of(gi), rows, kr, n, d, zeros, qscale, s_of(gi) + kb);
        }
      }
      for (int gi = 0; gi < ng; ++gi) {
        float *o = o_of(gi), *s = s_of(gi), *m = m_of(gi), *l = l_of(gi);
        for (int64_t r = 0; r < rows; ++r) {
          float* sr = s + r * BK;
          for (int jj = visible_keys(r, j0, cnt); jj < BK; ++jj) sr[jj] = -__builtin_inff();
          decode_softmax_row(sr, m[r], l + r * kSumLanes, o + r * d, d);
        }
      }
      for (int kb = 0; kb < seen; kb += kPvKeys) {
        const int n = min_of(kPvKeys, seen - kb);
        const T *v0[kPvKeys], *vr[kPvKeys];
        row_pointers(vc, j0 + kb, n, v0);
        for (int gi = 0; gi < ng; ++gi) {
          for (int jj = 0; jj < n; ++jj) vr[jj] = v0[jj] + (int64_t)gi * d;
          float *o = o_of(gi), *s = s_of(gi);
          for (int64_t r = 0; r < rows; ++r) {
            const int upto = min_of(visible_keys(r, j0, cnt) - kb, n);
            if (upto > 0) pv_row(s + r * BK + kb, upto, vr, d, o + r * d);
          }
        }
      }
    }
    for (int gi = 0; gi < ng; ++gi) {
      const int g = g0 + gi;
      const int64_t pair_item = (bi * G + g) * S + sp;  // this group's split, numbered as the merge reads it
      float *o = o_of(gi), *m = m_of(gi), *l = l_of(gi);
      for (int64_t r = 0; r < rows; ++r) {
        const float lr = sum_lanes(l + r * kSumLanes);
        if (S > 1) {  // this split's state; the merge below normalises
          float* part = a.partial + (pair_item * a.max_rows + r) * ldp;
          part[0] = m[r];
          part[1] = lr;
          for (int c = 0; c < d; ++c) part[2 + c] = o[r * d + c];
          continue;
        }
        const int64_t row = q0 + r / group;
        const int h = g * group + (int)(r % group);
        scale_row(o + r * d, d, 1.f / lr);
        store_out(a, row * ldq + (int64_t)h * d, o + r * d);
        if (a.lse) a.lse[(int64_t)h * a.nq + row] = (m[r] + __builtin_log2f(lr)) * kLn2;
      }
    }
  };
  auto body = [&](int64_t item, int worker) {
    const int64_t b = a.order[item / (NB * S)], gd = (item / S % NB) * NG * d;
    if (a.block_table) {
      const int32_t* table = a.block_table + b * a.max_blocks;
      item_of(item, worker, PagedRows<T>{a.k_pool + gd, table, a.block_size, ldkv},
              PagedRows<T>{a.v_pool + gd, table, a.block_size, ldkv});
    } else {
      item_of(item, worker, FlatRows<T>{a.k_cache[b] + gd, ldkv}, FlatRows<T>{a.v_cache[b] + gd, ldkv});
    }
  };
  parallel_items(a.batch * NB * S, body);
  if (S == 1) return;

  // Merge the splits of each (sequence, kv group): rescale to the largest max (a split that saw
  // no key of a row has max -inf and weighs 0; split 0 always sees key 0).
  auto merge = [&](int64_t pair, int worker) {
    const int64_t b = a.order[pair / G];
    const int g = (int)(pair % G);
    const int64_t q0 = a.cu_q[b], rows = (a.cu_q[b + 1] - q0) * group;
    float* acc = a.scratch + (int64_t)worker * NG * per_group;  // one fp32 row
    for (int64_t r = 0; r < rows; ++r) {
      const float* part = a.partial + (pair * S * a.max_rows + r) * ldp;
      const int64_t step = a.max_rows * ldp;  // from one split's row to the next
      float M = -__builtin_inff();
      for (int64_t sp = 0; sp < S; ++sp) M = part[sp * step] > M ? part[sp * step] : M;
      float L = 0.f;
      const int64_t row = q0 + r / group;
      const int h = g * group + (int)(r % group);
      for (int c = 0; c < d; ++c) acc[c] = 0.f;
      for (int64_t sp = 0; sp < S; ++sp) {
        const float* p = part + sp * step;
        const float f = __builtin_exp2f(p[0] - M);
        L = __builtin_fmaf(p[1], f, L);  // fused on every path (the compiler would contract it on some only)
        axpy(f, p + 2, d, acc);
      }
      scale_row(acc, d, 1.f / L);
      store_out(a, row * ldq + (int64_t)h * d, acc);
      if (a.lse) a.lse[(int64_t)h * a.nq + row] = (M + __builtin_log2f(L)) * kLn2;
    }
  };
  parallel_items(a.batch * G, merge);
}

void decode(const DecodeArgs<float>& a) { decode_impl(a); }
void decode(const DecodeArgs<bf16>& a) { decode_impl(a); }
