// Attention forward and FitPrune score pass, written once over `Vec` (simd.h). Included by
// kernels_<isa>.cpp inside namespace fp::<isa>; the tile loops, packing and softmax are shared,
// only the vector type and register blocking differ per instruction set.
//
// Templated on the element type T of q, k, v: float, or bf16 with fp32 accumulation (dot2 over
// element pairs: vdpbf16ps on avx512bf16, the same function through conversions elsewhere) and
// probabilities rounded to bf16 for p*v, as FlashAttention does. Softmax, LSE and scores are fp32.
//
// Scores are kept in base 2: the logits are scaled by softmax_scale * log2(e) (qscale; by default
// log2(e)/sqrt(d)), so exp becomes exp2 and the natural-log LSE is recovered as ln2 * (m + log2 l).

constexpr int W = Vec::W;
constexpr int BQ = kBlockQ, BK = kBlockK;
constexpr float kLog2e = 1.4426950408889634f, kLn2 = 0.6931471805599453f;
constexpr int kRowGroup = 8;  // attention rows taken through a key block together
static_assert(BK % (kQkVecs * W) == 0 && BQ % kRowGroup == 0 && kRowGroup % kQkRows == 0 && kRowGroup % kPvRows == 0,
              "tile shapes");

template <class T> constexpr T min_of(T a, T b) { return a < b ? a : b; }

template <class T> constexpr bool kBf16 = false;
template <> constexpr bool kBf16<bf16> = true;

// dst [words][BK] = the transpose of src [cnt][words] (row stride ld words), zero-padded to BK
// keys: the K packing of both element types, on 32-bit words.
inline void pack_words(const uint32_t* src, int64_t ld, int cnt, int words, uint32_t* dst) {
  int j0 = 0;
#if defined(FP_HAVE_TRANSPOSE16)
  for (; j0 + 16 <= cnt; j0 += 16) {
    int c0 = 0;
    for (; c0 + 16 <= words; c0 += 16) transpose16(src + j0 * ld + c0, ld, dst + c0 * BK + j0, BK);
    for (int jj = j0; jj < j0 + 16; ++jj)
      for (int c = c0; c < words; ++c) dst[c * BK + jj] = src[jj * ld + c];
  }
#endif
  for (int jj = j0; jj < cnt; ++jj)
    for (int c = 0; c < words; ++c) dst[c * BK + jj] = src[jj * ld + c];
  for (int c = 0; c < words; ++c)
    for (int jj = cnt; jj < BK; ++jj) dst[c * BK + jj] = 0;
}

// Keys [j0, j0+cnt) of kv-group g, transposed to [d][BK] and zero-padded: a q*k^T tile then
// reads contiguous key vectors and broadcasts one q element per step.
inline void pack_k_block(const float* k, int G, int d, int g, int64_t j0, int cnt, float* dst) {
  const int64_t ld = (int64_t)G * d;
  pack_words(reinterpret_cast<const uint32_t*>(k + j0 * ld + (int64_t)g * d), ld, cnt, d,
             reinterpret_cast<uint32_t*>(dst));
}

// bf16: the same as [d/2][BK][2], each key's element pair (2c, 2c+1) adjacent: one dot2 step
// takes a pair of q elements against W keys' pairs. A pair is adjacent in k too, so this is the
// same transpose on 32-bit words (an even d keeps rows word-aligned; an odd d's last word, half
// past the row, is written separately with a zero element).
inline void pack_k_block(const bf16* k, int G, int d, int g, int64_t j0, int cnt, bf16* dst) {
  const int64_t ld = (int64_t)G * d;
  const bf16* src = k + j0 * ld + (int64_t)g * d;
  uint32_t* out = reinterpret_cast<uint32_t*>(dst);
  if (d % 2 == 0) {
    pack_words(reinterpret_cast<const uint32_t*>(src), ld / 2, cnt, d / 2, out);
    return;
  }
  const int np = pair_dim(d) / 2;
  for (int jj = 0; jj < BK; ++jj)
    for (int c = 0; c < np; ++c) {
      const uint32_t lo = jj < cnt ? src[jj * ld + 2 * c] : 0;
      const uint32_t hi = jj < cnt && 2 * c + 1 < d ? src[jj * ld + 2 * c + 1] : 0;
      out[c * BK + jj] = lo | hi << 16;
    }
}

// Runs fn(slot, g, kb, cnt, block) for every key block kb (cnt keys) of every group g of every
// packed sequence, in parallel; block = G*kb0 + g*nkb + kb of its sequence is where it is packed.
// Items run group-minor: consecutive items read adjacent columns of the same key rows, which
// streams through memory (group-major items read rows G*d apart).
template <class F>
void for_key_blocks(int G, const SeqSlot* seqs, int64_t count, F&& fn) {
  auto body = [&](int64_t item, int) {
    const SeqSlot& s = seqs[slot_of(seqs, count, &SeqSlot::kb0, item / G)];
    const int64_t nkb = ceil_div(s.keys, BK), local = item - G * s.kb0;
    const int64_t kb = local / G, g = local % G;
    fn(s, (int)g, kb, (int)min_of<int64_t>(BK, s.keys - kb * BK), G * s.kb0 + g * nkb + kb);
  };
  parallel_items(G * seqs[count].kb0, body);
}

// Packs the keys [key0, key0+keys) of every sequence and group: block (g, kb) of a sequence at
// (G*kb0 + g*nkb + kb) * BK*pair_dim(d).
template <class T>
void pack_k(const T* k, int G, int d, const SeqSlot* seqs, int64_t count, T* packed) {
  for_key_blocks(G, seqs, count, [&](const SeqSlot& s, int g, int64_t kb, int cnt, int64_t block) {
    pack_k_block(k, G, d, g, s.key0 + kb * BK, cnt, packed + block * (int64_t)BK * pair_dim(d));
  });
}

// One row of the packed V: the words (r0[c], r1[c]) for c < d, then zeros up to dv; a null r1
// (or r0) stands for a padding key. Its own function, so that d is a value the stores cannot
// alias: the loop then vectorises.
inline void pack_v_row(const bf16* r0, const bf16* r1, int d, int dv, uint32_t* row) {
  int c = 0;
  if (r1)
    for (; c < d; ++c) row[c] = r0[c] | (uint32_t)r1[c] << 16;
  else if (r0)
    for (; c < d; ++c) row[c] = r0[c];
  for (; c < dv; ++c) row[c] = 0;
}

// Keys [j0, j0+cnt) of bf16 v's group g as [BK/2][vec_dim(d)][2]: the pair (key 2j, key 2j+1)
// of each column adjacent, so p*v takes a pair of probabilities against W columns' pairs.
inline void pack_v_block(const bf16* v, int G, int d, int g, int64_t j0, int cnt, bf16* dst) {
  const int64_t ld = (int64_t)G * d;
  const int dv = vec_dim(d);
  for (int jp = 0; jp < BK / 2; ++jp) {
    const int j = 2 * jp;
    const bf16* r0 = v + (j0 + j) * ld + (int64_t)g * d;
    pack_v_row(j < cnt ? r0 : nullptr, j + 1 < cnt ? r0 + ld : nullptr, d, dv,
               reinterpret_cast<uint32_t*>(dst) + (int64_t)jp * dv);
  }
}

// Starts loading rows [i0, i0+rows) of head h (d elements each) into the cache, to read them or
// (Write) to overwrite them: a head's rows are H*d apart, a stride the hardware prefetchers
// follow poorly.
template <int Write = 0, class T>
inline void prefetch_rows(const T* x, int H, int d, int h, int64_t i0, int rows) {
  const int64_t ld = (int64_t)H * d;
  for (int r = 0; r < rows; ++r) {
    const char* row = reinterpret_cast<const char*>(x + (i0 + r) * ld + (int64_t)h * d);
    for (int64_t b = 0; b < (int64_t)d * (int64_t)sizeof(T); b += 64) __builtin_prefetch(row + b, Write);
  }
}

// Rows [i0, i0+rows) of head h into qs [BQ][pair_dim(d)]; padding rows and columns are zero.
// q stays exact (bf16 cannot hold q times the scale exactly); qk_tile scales the fp32 logits.
template <class T>
void pack_q(const T* q, int H, int d, int h, int64_t i0, int rows, T* qs) {
  const int64_t ld = (int64_t)H * d;
  const int pd = pair_dim(d);
  for (int r = 0; r < BQ; ++r) {
    const T* src = q + (i0 + r) * ld + (int64_t)h * d;
    for (int c = 0; c < pd; ++c) qs[r * pd + c] = r < rows && c < d ? src[c] : T(0);
  }
}

// The dot-product step of each element type: fp32 takes one element of the reduction at a time
// (fma), bf16 a pair of elements (dot2). Operands: W lanes of packed data, or one broadcast.
inline Vec lanes(const float* p) { return Vec::load(p); }
inline Pairs lanes(const bf16* p) { return Pairs::load(p); }
inline Vec bcast(const float* p) { return Vec::set1(*p); }
inline Pairs bcast(const bf16* p) { return Pairs::set1(p); }
inline Vec madd(Vec acc, Vec a, Vec b) { return fma(a, b, acc); }
inline Vec madd(Vec acc, Pairs a, Pairs b) { return dot2(acc, a, b); }
template <class T> constexpr int kStep = kBf16<T> ? 2 : 1;

// s [r_lo, r_hi) x [c0, c0 + NV*W) = scale * q rows * kt (packed K block), register-blocked
// kQkRows x NV vectors: per step, NV vectors of keys against one broadcast q element (or pair)
// per row.
template <int NV, class T>
inline void qk_cols(const T* qs, const T* kt, int d, Vec sc, float* s, int c0, int r_lo, int r_hi) {
  constexpr int E = kStep<T>;
  const int pd = pair_dim(d), steps = kBf16<T> ? pd : d;
  for (int r0 = r_lo; r0 < r_hi; r0 += kQkRows) {
    Vec acc[kQkRows][NV];
    for (int r = 0; r < kQkRows; ++r)
      for (int x = 0; x < NV; ++x) acc[r][x] = Vec::zero();
    const T* kp = kt + c0 * E;
    const T* qp = qs + r0 * pd;
    for (int c = 0; c < steps; c += E, kp += E * BK) {
      decltype(lanes(kp)) kv[NV];
      for (int x = 0; x < NV; ++x) kv[x] = lanes(kp + x * E * W);
      for (int r = 0; r < kQkRows; ++r) {
        const auto b = bcast(qp + r * pd + c);
        for (int x = 0; x < NV; ++x) acc[r][x] = madd(acc[r][x], b, kv[x]);
      }
    }
    for (int r = 0; r < kQkRows; ++r)
      for (int x = 0; x < NV; ++x) (acc[r][x] * sc).store(s + (r0 + r) * BK + c0 + x * W);
  }
}

// s [BQ][BK] = scale * qs [BQ][d] * kt for rows [r_lo, r_hi) and the first `keys` keys, rounded
// up to whole vectors (the rest of s is left as it was: keys the rows cannot see).
template <class T>
inline void qk_tile(const T* qs, const T* kt, int d, float scale, float* s, int r_lo = 0, int r_hi = BQ,
                    int keys = BK) {
  constexpr int CW = kQkVecs * W;
  const Vec sc = Vec::set1(scale);
  for (int c0 = 0; c0 < keys; c0 += CW) {
    const int nv = min_of(kQkVecs, (keys - c0 + W - 1) / W);
    if (nv == kQkVecs) qk_cols<kQkVecs>(qs, kt, d, sc, s, c0, r_lo, r_hi);
    else if (nv == 1) qk_cols<1>(qs, kt, d, sc, s, c0, r_lo, r_hi);
    else if (nv == 2) qk_cols<min_of(2, kQkVecs)>(qs, kt, d, sc, s, c0, r_lo, r_hi);
    else qk_cols<min_of(3, kQkVecs)>(qs, kt, d, sc, s, c0, r_lo, r_hi);
  }
}

// p*v's starting accumulator for W (or w) columns of output row r: the row rescaled to the
// softmax's new max, alpha[r] * o, or 0 for a null alpha (the first key block, so o needs no
// clearing). x * 1 is x: a row whose max did not move keeps its bits.
inline Vec rescaled(const float* o, const float* alpha, int r) {
  return alpha ? Vec::load(o) * Vec::set1(alpha[r]) : Vec::zero();
}
inline Vec rescaled(const float* o, int w, const float* alpha, int r) {
  return alpha ? Vec::load_partial(o, w) * Vec::set1(alpha[r]) : Vec::zero();
}

// o [BQ][d] = alpha[r] * o (or 0) + p [BQ][:cnt] * v rows [cnt][d] (row stride ldv),
// register-blocked.
inline void pv_tile(const float* p, const float* alpha, int cnt, const float* v, int64_t ldv, int d, float* o,
                    int r_lo, int r_hi) {
  constexpr int CW = kPvVecs * W;
  int c0 = 0;
  for (; c0 + CW <= d; c0 += CW) {
    for (int r0 = r_lo; r0 < r_hi; r0 += kPvRows) {
      Vec acc[kPvRows][kPvVecs];
      for (int r = 0; r < kPvRows; ++r)
        for (int x = 0; x < kPvVecs; ++x) acc[r][x] = rescaled(o + (r0 + r) * d + c0 + x * W, alpha, r0 + r);
      const float* vr = v + c0;
      for (int j = 0; j < cnt; ++j, vr += ldv) {
        Vec vv[kPvVecs];
        for (int x = 0; x < kPvVecs; ++x) vv[x] = Vec::load(vr + x * W);
        for (int r = 0; r < kPvRows; ++r) {
          const Vec b = Vec::set1(p[(r0 + r) * BK + j]);
          for (int x = 0; x < kPvVecs; ++x) acc[r][x] = fma(b, vv[x], acc[r][x]);
        }
      }
      for (int r = 0; r < kPvRows; ++r)
        for (int x = 0; x < kPvVecs; ++x) acc[r][x].store(o + (r0 + r) * d + c0 + x * W);
    }
  }
  for (; c0 < d; c0 += W) {  // head dims that are not a multiple of CW: one vector at a time
    const int w = min_of(W, d - c0);
    for (int r0 = r_lo; r0 < r_hi; r0 += kPvRows) {
      Vec acc[kPvRows];
      for (int r = 0; r < kPvRows; ++r) acc[r] = rescaled(o + (r0 + r) * d + c0, w, alpha, r0 + r);
      const float* vr = v + c0;
      for (int j = 0; j < cnt; ++j, vr += ldv) {
        const Vec vv = Vec::load_partial(vr, w);
        for (int r = 0; r < kPvRows; ++r) acc[r] = fma(Vec::set1(p[(r0 + r) * BK + j]), vv, acc[r]);
      }
      for (int r = 0; r < kPvRows; ++r) acc[r].store_partial(o + (r0 + r) * d + c0, w);
    }
  }
}

// bf16: o [BQ][vec_dim(d)] = alpha[r] * o (or 0) + p [BQ][BK] (bf16) * packed v block, NV
// vectors of columns from c0.
template <int NV>
inline void pv_cols(const bf16* p, const float* alpha, int cnt, const bf16* vb, int dv, int c0, float* o,
                    int r_lo, int r_hi) {
  for (int r0 = r_lo; r0 < r_hi; r0 += kPvRows) {
    Vec acc[kPvRows][NV];
    for (int r = 0; r < kPvRows; ++r)
      for (int x = 0; x < NV; ++x) acc[r][x] = rescaled(o + (r0 + r) * dv + c0 + x * W, alpha, r0 + r);
    const bf16* vp = vb + c0 * 2;
    for (int j = 0; j < cnt; j += 2, vp += 2 * dv) {
      Pairs vv[NV];
      for (int x = 0; x < NV; ++x) vv[x] = lanes(vp + x * 2 * W);
      for (int r = 0; r < kPvRows; ++r) {
        const Pairs b = bcast(p + (r0 + r) * BK + j);
        for (int x = 0; x < NV; ++x) acc[r][x] = madd(acc[r][x], b, vv[x]);
      }
    }
    for (int r = 0; r < kPvRows; ++r)
      for (int x = 0; x < NV; ++x) acc[r][x].store(o + (r0 + r) * dv + c0 + x * W);
  }
}

// An odd cnt reads one padding key: its probability is 0 (masked) and its packed v row is 0.
inline void pv_tile(const bf16* p, const float* alpha, int cnt, const bf16* vb, int d, float* o, int r_lo, int r_hi) {
  const int dv = vec_dim(d);
  int c0 = 0;
  for (; c0 + kPvVecs * W <= dv; c0 += kPvVecs * W) pv_cols<kPvVecs>(p, alpha, cnt, vb, dv, c0, o, r_lo, r_hi);
  for (; c0 < dv; c0 += W) pv_cols<1>(p, alpha, cnt, vb, dv, c0, o, r_lo, r_hi);
}

// Probabilities for p*v, two vectors at a time: fp32 in place, or rounded to bf16 (what p*v then
// multiplies exactly).
inline void store_p(Vec lo, Vec hi, float* dst) {
  lo.store(dst);
  hi.store(dst + W);
}
inline void store_p(Vec lo, Vec hi, bf16* dst) { store_bf16x2(lo, hi, dst); }

// One output row, normalised, to fp32 or bf16 (round to nearest even; NaN stays NaN).
inline void write_row(const float* o, int d, float* dst) {
  for (int c = 0; c < d; ++c) dst[c] = o[c];
}
inline void write_row(const float* o, int d, bf16* dst) {
  for (int c = 0; c < d; ++c) {
    uint32_t b;
    __builtin_memcpy(&b, &o[c], 4);
    dst[c] = (b & 0x7fffffffu) > 0x7f800000u ? (bf16)((b >> 16) | 0x40u) : (bf16)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
  }
}

inline void scale_row(float* row, int d, float a) {
  const Vec av = Vec::set1(a);
  int c = 0;
  for (; c + W <= d; c += W) (Vec::load(row + c) * av).store(row + c);
  if (c < d) (Vec::load_partial(row + c, d - c) * av).store_partial(row + c, d - c);
}

template <class T> inline T max_of(T a, T b) { return a > b ? a : b; }

// Fused scores: rows [i0, i0+rows) of one head are done; head_max[i - P][j] = max(head_max,
// logit - LSE) for every visual key j the row sees (j <= i - P for visual rows, all for text
// rows). Max is order-free, so the result does not depend on which head arrives first; the
// lock only keeps two heads of one query block from interleaving their read-modify-writes.
// i0 and the rows are within f's sequence.
inline void fold_head_max(const FusedScores& f, const float* tile, const float* lse2, int64_t i0, int rows,
                          int* lock) {
  const int64_t P = f.prefix, V = f.visual;
  for (unsigned spins = 0; __atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE);) spin_pause(spins);
  for (int r = 0; r < rows; ++r) {
    const int64_t i = i0 + r;
    if (i < P) continue;
    const int64_t seen = min_of<int64_t>(V, i - P + 1);
    const Vec lv = Vec::set1(lse2[r]);
    float* mrow = f.head_max + (i - P) * f.ldm;
    const float* trow = tile + r * f.ldm;
    int64_t j = 0;
    for (; j + W <= seen; j += W) max(Vec::load(mrow + j), Vec::load(trow + j) - lv).store(mrow + j);
    if (j < seen) {
      const int w = (int)(seen - j);
      max(Vec::load_partial(mrow + j, w), Vec::load_partial(trow + j, w) - lv).store_partial(mrow + j, w);
    }
  }
  __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

// Online softmax of one row of a tile (base-2 logits sr, BK wide, masked entries -inf, and all
// entries from `keys` on masked): the probabilities go to pr (which may be sr), the running max m
// and the per-lane sums l (W floats) are updated. Returns the factor that rescales the row's
// output to the new max (1 when it did not move); the attention applies it as p*v loads the row,
// saving a pass over it. Masked entries add exact zeros, so skipping those past `keys` changes
// no bit.
template <class P>
inline float softmax_probs(const float* sr, P* pr, float& m, float* l, int keys) {
  const int end = (keys + 2 * W - 1) / (2 * W) * (2 * W);
  Vec mx = Vec::load(sr);
  for (int x = W; x < end; x += W) mx = max(mx, Vec::load(sr + x));
  const float tile_max = mx.hmax();
  const float m_new = tile_max > m ? tile_max : m;
  if (m_new == -__builtin_inff()) {  // nothing visible yet for this row
    for (int x = 0; x < BK; x += 2 * W) store_p(Vec::zero(), Vec::zero(), pr + x);
    return 1.f;
  }
  const Vec mv = Vec::set1(m_new);
  Vec sum = Vec::zero();
  int x = 0;
  for (; x < end; x += 2 * W) {
    const Vec p0 = vexp2(Vec::load(sr + x) - mv), p1 = vexp2(Vec::load(sr + x + W) - mv);
    store_p(p0, p1, pr + x);
    sum = sum + (p0 + p1);
  }
  for (; x < BK; x += 2 * W) store_p(Vec::zero(), Vec::zero(), pr + x);
  const float alpha = __builtin_exp2f(m - m_new);
  fma(Vec::load(l), Vec::set1(alpha), sum).store(l);
  m = m_new;
  return alpha;
}

// Work items are (sequence, head, query block): sequences heaviest first, each head-major and,
// within a head, the longest rows (last query blocks) first: consecutive items share one head's
// K/V, which then stays in cache, and the short blocks fill the tail of the schedule. Every block
// is computed from its own sequence alone, so a sequence gives the same bits in any batch. The
// fused scores (a.fused) hold one head-max per sequence, so they too are per sequence.
template <class T>
void attention_impl(const AttentionArgs<T>& a) {
  const int d = a.d, H = a.H, group = a.H / a.G;
  const int64_t ldq = (int64_t)H * d, ldv = (int64_t)a.G * d;
  const int ldo = kBf16<T> ? vec_dim(d) : d;  // the bf16 p*v writes whole vectors of columns
  const float qscale = a.qscale;
  // K (and bf16 V) key blocks are packed by the first items that need them, not in a pass of
  // their own: the items of one head run together, so the packed blocks are then read from cache
  // instead of going out to memory and back. An item packs the blocks [0, kb_end) of its group
  // that no other worker has taken, then waits for those another worker is packing.
  auto pack_blocks = [&](const SeqSlot& sq, int g, int64_t kblock0, int64_t kb_end) {
    for (int64_t kb = 0; kb < kb_end; ++kb) {
      int* flag = a.packed + kblock0 + kb;
      int free_flag = 0;
      if (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0 ||
          !__atomic_compare_exchange_n(flag, &free_flag, 1, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        continue;
      const int64_t j0 = sq.key0 + kb * BK, block = kblock0 + kb;
      const int cnt = (int)min_of<int64_t>(BK, sq.keys - kb * BK);
      pack_k_block(a.k, a.G, d, g, j0, cnt, a.packed_k + block * (int64_t)BK * pair_dim(d));
      if constexpr (kBf16<T>) pack_v_block(a.v, a.G, d, g, j0, cnt, a.packed_v + block * (int64_t)BK * vec_dim(d));
      __atomic_store_n(flag, 2, __ATOMIC_RELEASE);
    }
    for (int64_t kb = 0; kb < kb_end; ++kb)
      for (unsigned spins = 0; __atomic_load_n(a.packed + kblock0 + kb, __ATOMIC_ACQUIRE) != 2;) spin_pause(spins);
  };

  auto body = [&](int64_t item, int worker) {
    const int64_t slot = slot_of(a.seqs, a.count, &SeqSlot::item0, item);
    const SeqSlot& sq = a.seqs[slot];
    const FusedScores* fs = a.fused ? a.fused + slot : nullptr;
    const int64_t P = fs ? fs->prefix : 0, V = fs ? fs->visual : 0, ldt = fs ? fs->ldm : 0;
    // A cached prefix: the sequence's keys are its keys rows, of which the queries are the last n,
    // so query row i sees keys [0, past + i].
    const int64_t n = sq.len, past = sq.keys - n, nqb = ceil_div(n, BQ), nkb = ceil_div(sq.keys, BK);
    const int64_t local = item - sq.item0;
    const int h = (int)(local / nqb), g = h / group;
    const int64_t qb = nqb - 1 - local % nqb;
    const int64_t i0 = qb * BQ;  // within the sequence
    const int rows = (int)min_of<int64_t>(BQ, n - i0);
    const int64_t kblock0 = a.G * sq.kb0 + g * nkb;  // this group's first packed block
    float* base = a.scratch + worker * attention_scratch_floats(d);
    T* qs = reinterpret_cast<T*>(base);
    float* o = base + BQ * vec_dim(d);
    float* s = o + BQ * vec_dim(d);
    // fp32 probabilities overwrite the logits; bf16 ones go to their own tile.
    T* pt = kBf16<T> ? reinterpret_cast<T*>(s + BQ * BK) : reinterpret_cast<T*>(s);
    float* m = s + 2 * BQ * BK;
    float* l = m + BQ;  // [BQ][W]: the row sums per lane, reduced once at the end
    float* alpha = l + BQ * W;  // [BQ]: each row's rescale for the current key block
    // Fused scores: rows at or past the prefix keep their logits against the visual keys.
    const bool keep = fs && i0 + rows > P && V > 0;
    float* tile = keep ? fs->tiles + worker * fs->tile_floats : nullptr;
    pack_q(a.q, H, d, h, sq.start + i0, rows, qs);
    // The next items are most likely this head's next two query blocks (one per worker).
    for (int64_t nb = qb - 1; nb >= 0 && nb >= qb - 2; --nb) prefetch_rows(a.q, H, d, h, sq.start + nb * BQ, BQ);
    if (a.out_f32)  // and this block's output rows, written at its end
      prefetch_rows<1>(static_cast<const float*>(a.out), H, d, h, sq.start + i0, rows);
    else
      prefetch_rows<1>(static_cast<const T*>(a.out), H, d, h, sq.start + i0, rows);
    for (int r = 0; r < BQ; ++r) {
      m[r] = -__builtin_inff();
      Vec::zero().store(l + r * W);
    }

    const int64_t kb_end = (past + i0 + rows - 1) / BK + 1;  // causal: no key block past the last row
    pack_blocks(sq, g, kblock0, kb_end);
    for (int64_t kb = 0; kb < kb_end; ++kb) {
      const int64_t j0 = kb * BK;
      const int cnt = (int)min_of<int64_t>(BK, sq.keys - j0);
      const T* kt = a.packed_k + (kblock0 + kb) * (int64_t)BK * pair_dim(d);
      const bool diagonal = j0 + BK - 1 > past + i0;  // the tile reaches the diagonal or the end
      const float* rescale = kb ? alpha : nullptr;  // the first block starts the output
      // A group of rows at a time through q*k^T, softmax and p*v: the group's logits, probabilities
      // and output rows stay in L1 between the three steps. On the diagonal a group computes only
      // the keys its last row sees; the others are masked and would only add exact zeros.
      for (int r_lo = 0; r_lo < rows; r_lo += kRowGroup) {  // groups past the block's last row: padding only
        const int r_hi = r_lo + kRowGroup;
        const int keys = diagonal ? (int)min_of<int64_t>(cnt, past + i0 + r_hi - j0) : cnt;
        qk_tile(qs, kt, d, qscale, s, r_lo, r_hi, keys);
        for (int r = r_lo; r < r_hi; ++r) {
          int seen = BK;
          if (diagonal) {  // mask what row r cannot see
            const int64_t visible = past + i0 + r - j0 + 1;
            int jj = seen = visible < 0 ? 0 : (int)min_of<int64_t>(visible, cnt);
            for (; jj < BK && jj % W; ++jj) s[r * BK + jj] = -__builtin_inff();
            for (; jj < BK; jj += W) Vec::set1(-__builtin_inff()).store(s + r * BK + jj);
          }
          if (keep && r < rows) {  // these logits against visual keys, before the softmax overwrites them
            const int64_t lo = max_of(j0, P), hi = min_of(j0 + cnt, P + V);
            if (lo < hi) __builtin_memcpy(tile + r * ldt + (lo - P), s + r * BK + (lo - j0), (size_t)(hi - lo) * sizeof(float));
          }
          alpha[r] = softmax_probs(s + r * BK, pt + r * BK, m[r], l + r * W, seen);
        }
        if constexpr (kBf16<T>)
          pv_tile(pt, rescale, keys, a.packed_v + (kblock0 + kb) * (int64_t)BK * vec_dim(d), d, o, r_lo, r_hi);
        else
          pv_tile(pt, rescale, keys, a.v + (sq.key0 + j0) * ldv + (int64_t)g * d, ldv, d, o, r_lo, r_hi);
      }
    }
    for (int r = 0; r < rows; ++r) {
      const float lr = Vec::load(l + r * W).hsum();
      scale_row(o + r * ldo, d, 1.f / lr);
      const int64_t at = (sq.start + i0 + r) * ldq + (int64_t)h * d;
      if (a.out_f32)
        write_row(o + r * ldo, d, static_cast<float*>(a.out) + at);
      else
        write_row(o + r * ldo, d, static_cast<T*>(a.out) + at);
      a.lse[(int64_t)h * a.n + sq.start + i0 + r] = (m[r] + __builtin_log2f(lr)) * kLn2;
      m[r] += __builtin_log2f(lr);  // now the base-2 LSE, for the fused scores
    }
    if (keep) fold_head_max(*fs, tile, m, i0, rows, fs->locks + qb);
  };
  parallel_items(a.seqs[a.count].item0, body);
}

// Score pass: for each block of visual or text query rows, the head-max M[i,j] over all heads is
// built in a [BQ][visual] buffer (the max sits inside the row sum, so heads cannot be summed
// separately), then masked causally and summed per key column into that block's partial row.
// exp is monotonic, so max_h exp(s_h - lse_h) = exp(max_h (s_h - lse_h)): the buffer keeps the
// max of the normalised logits and takes one exp per (row, key) at the end instead of one per
// head, which turns an exp-bound pass into a matmul-bound one.
// Row block `item` of the score pass: text blocks first (they see every visual key), then visual
// blocks, the last (longest) first.
struct ScoreBlock {
  bool text;
  int64_t i0;
  int rows;
};
inline ScoreBlock score_block(int64_t item, int64_t n, int64_t P, int64_t V) {
  const int64_t ntb = score_text_blocks(n, P, V), nvb = ceil_div(V, BQ);
  if (item < ntb) {
    const int64_t i0 = P + V + item * BQ;
    return {true, i0, (int)min_of<int64_t>(BQ, n - i0)};
  }
  const int64_t i0 = P + (nvb - 1 - (item - ntb)) * BQ;
  return {false, i0, (int)min_of<int64_t>(BQ, P + V - i0)};
}

// A row block's share of the scores: acc[j] = sum over its rows of exp2(mx[r][j]), the rows'
// head-max of base-2 logit - LSE (cols of them, a multiple of W, stride ldm; overwritten). A
// visual row (visual index vis0 + r; vis0 < 0 for text rows) sees visual keys j <= its own only.
inline void sum_block(float* mx, int64_t ldm, int rows, int64_t cols, int64_t vis0, int64_t V, double* acc) {
  for (int r = 0; r < rows; ++r) {
    float* mrow = mx + r * ldm;
    for (int64_t j = 0; j < cols; j += W) vexp2(Vec::load(mrow + j)).store(mrow + j);
    if (vis0 >= 0)
      for (int64_t j = vis0 + r + 1; j < cols; ++j) mrow[j] = 0.f;
  }
  float col[W];
  for (int64_t j0 = 0; j0 < cols && j0 < V; j0 += W) {
    Vec sum = Vec::zero();
    for (int r = 0; r < rows; ++r) sum = sum + Vec::load(mx + r * ldm + j0);
    sum.store(col);
    const int w = (int)min_of<int64_t>(W, V - j0);
    for (int e = 0; e < w; ++e) acc[j0 + e] = col[e];
  }
}

// Work items are (sequence, query-row block), sequences heaviest first; each block sums its rows
// into its own partial row of its sequence, so scores do not depend on the batch or schedule.
template <class T>
void scores_impl(const ScoreArgs<T>& a) {
  const int d = a.d, H = a.H, group = a.H / a.G;
  const int64_t ldm = ceil_div(a.max_visual, BK) * BK;
  const float qscale = a.qscale;
  pack_k(a.k, a.G, d, a.seqs, a.count, a.packed_k);

  auto body = [&](int64_t item, int worker) {
    const SeqSlot& sq = a.seqs[slot_of(a.seqs, a.count, &SeqSlot::item0, item)];
    const int64_t n = sq.len, P = sq.prefix, V = sq.visual, local = item - sq.item0, nkb = ceil_div(V, BK);
    const ScoreBlock blk = score_block(local, n, P, V);  // i0 within the sequence
    const bool text = blk.text;
    const int64_t i0 = blk.i0;
    const int rows = blk.rows;
    const int64_t kb_end = text ? nkb : (i0 + rows - 1 - P) / BK + 1;
    float* base = a.scratch + worker * scores_scratch_floats(d, a.max_visual);
    T* qs = reinterpret_cast<T*>(base);
    float* s = base + BQ * vec_dim(d);
    float* mx = s + BQ * BK;
    float* lse2 = mx + BQ * ldm;
    for (int r = 0; r < rows; ++r)
      for (int64_t j = 0; j < kb_end * BK; ++j) mx[r * ldm + j] = -__builtin_inff();

    for (int h = 0; h < H; ++h) {
      const T* kg = a.packed_k + (a.G * sq.kb0 + (int64_t)(h / group) * nkb) * BK * pair_dim(d);
      pack_q(a.q, H, d, h, sq.start + i0, rows, qs);
      for (int r = 0; r < rows; ++r) lse2[r] = a.lse[(int64_t)h * a.n + sq.start + i0 + r] * kLog2e;
      for (int64_t kb = 0; kb < kb_end; ++kb) {
        qk_tile(qs, kg + kb * BK * pair_dim(d), d, qscale, s);
        for (int r = 0; r < rows; ++r) {
          const Vec lv = Vec::set1(lse2[r]);
          float* mrow = mx + r * ldm + kb * BK;
          for (int x = 0; x < BK; x += W)
            max(Vec::load(mrow + x), Vec::load(s + r * BK + x) - lv).store(mrow + x);
        }
      }
    }
    sum_block(mx, ldm, rows, kb_end * BK, text ? -1 : i0 - P, V, a.partial + sq.partial0 + local * V);
  };
  parallel_items(a.seqs[a.count].item0, body);
}

// The fused scores' second half, after attention: the same row blocks and sums as scores(), over
// the `count` sequences of f (items [f[i].block0, f[i+1].block0) are sequence i's blocks).
void fused_score_sums(const FusedScores* f, int64_t count) {
  auto body = [&](int64_t item, int) {
    int64_t lo = 0, hi = count - 1;  // the last sequence whose block0 <= item
    while (lo < hi) {
      const int64_t mid = (lo + hi + 1) / 2;
      if (f[mid].block0 <= item) lo = mid; else hi = mid - 1;
    }
    const FusedScores& fs = f[lo];
    const int64_t P = fs.prefix, V = fs.visual, local = item - fs.block0;
    const ScoreBlock blk = score_block(local, fs.len, P, V);
    sum_block(fs.head_max + (blk.i0 - P) * fs.ldm, fs.ldm, blk.rows, fs.ldm, blk.text ? -1 : blk.i0 - P, V,
              fs.partial + local * V);
  };
  parallel_items(f[count].block0, body);
}

void attention(const AttentionArgs<float>& a) { attention_impl(a); }
void attention(const AttentionArgs<bf16>& a) { attention_impl(a); }
void scores(const ScoreArgs<float>& a) { scores_impl(a); }
void scores(const ScoreArgs<bf16>& a) { scores_impl(a); }
