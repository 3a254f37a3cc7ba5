// Attention forward and FitPrune score pass, written once over `Vec` (simd.h). Included by
// kernels_<isa>.cpp inside namespace fp::<isa>; the tile loops, packing and softmax are shared,
// only the vector type and register blocking differ per instruction set.
//
// Scores are kept in base 2: q is pre-scaled by log2(e)/sqrt(d), so exp becomes exp2 and the
// natural-log LSE is recovered as ln2 * (m + log2 l).

constexpr int W = Vec::W;
constexpr int BQ = kBlockQ, BK = kBlockK;
constexpr float kLog2e = 1.4426950408889634f, kLn2 = 0.6931471805599453f;
static_assert(BK % (kQkVecs * W) == 0 && BQ % kQkRows == 0 && BQ % kPvRows == 0, "tile shapes");

template <class T> inline T min_of(T a, T b) { return a < b ? a : b; }

// Keys [j0, j0+cnt) of kv-group g, transposed to [d][BK] and zero-padded: a q*k^T tile then
// reads contiguous key vectors and broadcasts one q element per step.
inline void pack_k_block(const float* k, int G, int d, int g, int64_t j0, int cnt, float* dst) {
  const int64_t ld = (int64_t)G * d;
  for (int jj = 0; jj < cnt; ++jj) {
    const float* src = k + (j0 + jj) * ld + (int64_t)g * d;
    for (int c = 0; c < d; ++c) dst[c * BK + jj] = src[c];
  }
  for (int c = 0; c < d; ++c)
    for (int jj = cnt; jj < BK; ++jj) dst[c * BK + jj] = 0.f;
}

// Packs the keys [key0, key0+keys) of every sequence and group: block (g, kb) of a sequence at
// (G*kb0 + g*nkb + kb) * BK*d.
inline void pack_k(const float* k, int G, int d, const SeqSlot* seqs, int64_t count, float* packed) {
  auto body = [&](int64_t item, int) {
    const SeqSlot& s = seqs[slot_of(seqs, count, &SeqSlot::kb0, item / G)];
    const int64_t nkb = ceil_div(s.keys, BK), local = item - G * s.kb0;
    const int g = (int)(local / nkb);
    const int64_t kb = local % nkb;
    const int cnt = (int)min_of<int64_t>(BK, s.keys - kb * BK);
    pack_k_block(k, G, d, g, s.key0 + kb * BK, cnt, packed + item * (int64_t)BK * d);
  };
  parallel_items(G * seqs[count].kb0, body);
}

// Rows [i0, i0+rows) of head h, times `scale`, into qs [BQ][d]; padding rows are zero.
inline void pack_q(const float* q, int H, int d, int h, int64_t i0, int rows, float scale, float* qs) {
  const int64_t ld = (int64_t)H * d;
  for (int r = 0; r < rows; ++r) {
    const float* src = q + (i0 + r) * ld + (int64_t)h * d;
    for (int c = 0; c < d; ++c) qs[r * d + c] = src[c] * scale;
  }
  for (int r = rows; r < BQ; ++r)
    for (int c = 0; c < d; ++c) qs[r * d + c] = 0.f;
}

// s [BQ][BK] = qs [BQ][d] * kt [d][BK], register-blocked kQkRows x kQkVecs vectors.
inline void qk_tile(const float* qs, const float* kt, int d, float* s) {
  constexpr int CW = kQkVecs * W;
  for (int c0 = 0; c0 < BK; c0 += CW) {
    for (int r0 = 0; r0 < BQ; r0 += kQkRows) {
      Vec acc[kQkRows][kQkVecs];
      for (int r = 0; r < kQkRows; ++r)
        for (int x = 0; x < kQkVecs; ++x) acc[r][x] = Vec::zero();
      const float* kp = kt + c0;
      const float* qp = qs + r0 * d;
      for (int c = 0; c < d; ++c, kp += BK) {
        Vec kv[kQkVecs];
        for (int x = 0; x < kQkVecs; ++x) kv[x] = Vec::load(kp + x * W);
        for (int r = 0; r < kQkRows; ++r) {
          const Vec b = Vec::set1(qp[r * d + c]);
          for (int x = 0; x < kQkVecs; ++x) acc[r][x] = fma(b, kv[x], acc[r][x]);
        }
      }
      for (int r = 0; r < kQkRows; ++r)
        for (int x = 0; x < kQkVecs; ++x) acc[r][x].store(s + (r0 + r) * BK + c0 + x * W);
    }
  }
}

// o [BQ][d] += p [BQ][:cnt] * v rows [cnt][d] (row stride ldv), register-blocked.
inline void pv_tile(const float* p, int cnt, const float* v, int64_t ldv, int d, float* o) {
  constexpr int CW = kPvVecs * W;
  int c0 = 0;
  for (; c0 + CW <= d; c0 += CW) {
    for (int r0 = 0; r0 < BQ; r0 += kPvRows) {
      Vec acc[kPvRows][kPvVecs];
      for (int r = 0; r < kPvRows; ++r)
        for (int x = 0; x < kPvVecs; ++x) acc[r][x] = Vec::load(o + (r0 + r) * d + c0 + x * W);
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
    for (int r0 = 0; r0 < BQ; r0 += kPvRows) {
      Vec acc[kPvRows];
      for (int r = 0; r < kPvRows; ++r) acc[r] = Vec::load_partial(o + (r0 + r) * d + c0, w);
      const float* vr = v + c0;
      for (int j = 0; j < cnt; ++j, vr += ldv) {
        const Vec vv = Vec::load_partial(vr, w);
        for (int r = 0; r < kPvRows; ++r) acc[r] = fma(Vec::set1(p[(r0 + r) * BK + j]), vv, acc[r]);
      }
      for (int r = 0; r < kPvRows; ++r) acc[r].store_partial(o + (r0 + r) * d + c0, w);
    }
  }
}

inline void scale_row(float* row, int d, float a) {
  const Vec av = Vec::set1(a);
  int c = 0;
  for (; c + W <= d; c += W) (Vec::load(row + c) * av).store(row + c);
  if (c < d) (Vec::load_partial(row + c, d - c) * av).store_partial(row + c, d - c);
}

// Online softmax of one row of a tile (base-2 logits in sr, BK wide, masked entries -inf):
// sr becomes the probabilities, the running max m and sum l are updated and the output row o
// rescaled to the new max.
inline void softmax_row(float* sr, float& m, float& l, float* o, int d) {
  Vec mx = Vec::load(sr);
  for (int x = W; x < BK; x += W) mx = max(mx, Vec::load(sr + x));
  const float tile_max = mx.hmax();
  const float m_new = tile_max > m ? tile_max : m;
  if (m_new == -__builtin_inff()) {  // nothing visible yet for this row
    for (int x = 0; x < BK; x += W) Vec::zero().store(sr + x);
    return;
  }
  const Vec mv = Vec::set1(m_new);
  Vec sum = Vec::zero();
  for (int x = 0; x < BK; x += W) {
    const Vec p = vexp2(Vec::load(sr + x) - mv);
    p.store(sr + x);
    sum = sum + p;
  }
  const float alpha = __builtin_exp2f(m - m_new);
  l = l * alpha + sum.hsum();
  m = m_new;
  if (alpha != 1.f) scale_row(o, d, alpha);
}

// Work items are (sequence, head, query block): sequences heaviest first, each head-major and,
// within a head, the longest rows (last query blocks) first: consecutive items share one head's
// K/V, which then stays in cache, and the short blocks fill the tail of the schedule. Every block
// is computed from its own sequence alone, so a sequence gives the same bits in any batch.
void attention(const AttentionArgs& a) {
  const int d = a.d, H = a.H, group = a.H / a.G;
  const int64_t ldq = (int64_t)H * d, ldv = (int64_t)a.G * d;
  const float qscale = kLog2e / __builtin_sqrtf((float)d);
  pack_k(a.k, a.G, d, a.seqs, a.count, a.packed_k);

  auto body = [&](int64_t item, int worker) {
    const SeqSlot& sq = a.seqs[slot_of(a.seqs, a.count, &SeqSlot::item0, item)];
    const int64_t n = sq.len, nqb = ceil_div(n, BQ), nkb = ceil_div(n, BK), local = item - sq.item0;
    const int h = (int)(local / nqb), g = h / group;
    const int64_t qb = nqb - 1 - local % nqb;
    const int64_t i0 = qb * BQ;  // within the sequence
    const int rows = (int)min_of<int64_t>(BQ, n - i0);
    const float* kg = a.packed_k + (a.G * sq.kb0 + g * nkb) * (int64_t)BK * d;
    float* qs = a.scratch + worker * attention_scratch_floats(d);
    float* o = qs + BQ * d;
    float* s = o + BQ * d;
    float* m = s + BQ * BK;
    float* l = m + BQ;
    pack_q(a.q, H, d, h, sq.start + i0, rows, qscale, qs);
    for (int r = 0; r < BQ; ++r) { m[r] = -__builtin_inff(); l[r] = 0.f; }
    for (int i = 0; i < BQ * d; ++i) o[i] = 0.f;

    const int64_t kb_end = (i0 + rows - 1) / BK + 1;  // causal: no key block past the last row
    for (int64_t kb = 0; kb < kb_end; ++kb) {
      const int64_t j0 = kb * BK;
      const int cnt = (int)min_of<int64_t>(BK, n - j0);
      qk_tile(qs, kg + kb * BK * d, d, s);
      if (j0 + BK - 1 > i0) {  // the tile reaches the diagonal or the end: mask what row r cannot see
        for (int r = 0; r < BQ; ++r) {
          const int64_t visible = i0 + r - j0 + 1;
          const int from = visible < 0 ? 0 : (int)min_of<int64_t>(visible, cnt);
          for (int jj = from; jj < BK; ++jj) s[r * BK + jj] = -__builtin_inff();
        }
      }
      for (int r = 0; r < BQ; ++r) softmax_row(s + r * BK, m[r], l[r], o + r * d, d);
      pv_tile(s, cnt, a.v + (sq.start + j0) * ldv + (int64_t)g * d, ldv, d, o);
    }
    for (int r = 0; r < rows; ++r) {
      scale_row(o + r * d, d, 1.f / l[r]);
      float* dst = a.out + (sq.start + i0 + r) * ldq + (int64_t)h * d;
      for (int c = 0; c < d; ++c) dst[c] = o[r * d + c];
      a.lse[(int64_t)h * a.n + sq.start + i0 + r] = (m[r] + __builtin_log2f(l[r])) * kLn2;
    }
  };
  parallel_items(a.seqs[a.count].item0, body);
}

// Score pass: for each block of visual or text query rows, the head-max M[i,j] over all heads is
// built in a [BQ][visual] buffer (the max sits inside the row sum, so heads cannot be summed
// separately), then masked causally and summed per key column into that block's partial row.
// exp is monotonic, so max_h exp(s_h - lse_h) = exp(max_h (s_h - lse_h)): the buffer keeps the
// max of the normalised logits and takes one exp per (row, key) at the end instead of one per
// head, which turns an exp-bound pass into a matmul-bound one.
//
// Work items are (sequence, query-row block), sequences heaviest first; each block sums its rows
// into its own partial row of its sequence, so scores do not depend on the batch or schedule.
void scores(const ScoreArgs& a) {
  const int d = a.d, H = a.H, group = a.H / a.G;
  const float qscale = kLog2e / __builtin_sqrtf((float)d);
  pack_k(a.k, a.G, d, a.seqs, a.count, a.packed_k);

  auto body = [&](int64_t item, int worker) {
    const SeqSlot& sq = a.seqs[slot_of(a.seqs, a.count, &SeqSlot::item0, item)];
    const int64_t n = sq.len, P = sq.prefix, V = sq.visual, local = item - sq.item0;
    const int64_t nkb = ceil_div(V, BK), ldm = ceil_div(a.max_visual, BK) * BK;
    const int64_t nvb = ceil_div(V, BQ), ntb = score_text_blocks(n, P, V);
    const bool text = local < ntb;  // text blocks see every visual key: do them first
    int64_t i0, kb_end;  // i0 within the sequence
    int rows;
    if (text) {
      i0 = P + V + local * BQ;
      rows = (int)min_of<int64_t>(BQ, n - i0);
      kb_end = nkb;
    } else {
      const int64_t vb = nvb - 1 - (local - ntb);
      i0 = P + vb * BQ;
      rows = (int)min_of<int64_t>(BQ, P + V - i0);
      kb_end = (i0 + rows - 1 - P) / BK + 1;
    }
    float* qs = a.scratch + worker * scores_scratch_floats(d, a.max_visual);
    float* s = qs + BQ * d;
    float* mx = s + BQ * BK;
    float* lse2 = mx + BQ * ldm;
    for (int r = 0; r < rows; ++r)
      for (int64_t j = 0; j < kb_end * BK; ++j) mx[r * ldm + j] = -__builtin_inff();

    for (int h = 0; h < H; ++h) {
      const float* kg = a.packed_k + (a.G * sq.kb0 + (int64_t)(h / group) * nkb) * BK * d;
      pack_q(a.q, H, d, h, sq.start + i0, rows, qscale, qs);
      for (int r = 0; r < rows; ++r) lse2[r] = a.lse[(int64_t)h * a.n + sq.start + i0 + r] * kLog2e;
      for (int64_t kb = 0; kb < kb_end; ++kb) {
        qk_tile(qs, kg + kb * BK * d, d, s);
        for (int r = 0; r < rows; ++r) {
          const Vec lv = Vec::set1(lse2[r]);
          float* mrow = mx + r * ldm + kb * BK;
          for (int x = 0; x < BK; x += W)
            max(Vec::load(mrow + x), Vec::load(s + r * BK + x) - lv).store(mrow + x);
        }
      }
    }
    for (int r = 0; r < rows; ++r) {
      float* mrow = mx + r * ldm;
      for (int64_t j = 0; j < kb_end * BK; j += W) vexp2(Vec::load(mrow + j)).store(mrow + j);
      if (!text)  // visual row i sees visual keys j <= i only
        for (int64_t j = i0 + r - P + 1; j < kb_end * BK; ++j) mrow[j] = 0.f;
    }
    double* acc = a.partial + sq.partial0 + local * V;
    float col[W];
    for (int64_t j0 = 0; j0 < kb_end * BK && j0 < V; j0 += W) {
      Vec sum = Vec::zero();
      for (int r = 0; r < rows; ++r) sum = sum + Vec::load(mx + r * ldm + j0);
      sum.store(col);
      const int w = (int)min_of<int64_t>(W, V - j0);
      for (int e = 0; e < w; ++e) acc[j0 + e] = col[e];
    }
  };
  parallel_items(a.seqs[a.count].item0, body);
}
