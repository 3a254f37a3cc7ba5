// Decode attention over per-sequence K/V caches, included after kernels.hpp by kernels_<isa>.cpp.
//
// One work item per (sequence, kv group, key split): the group's H/G query heads times the
// sequence's new tokens are the rows, so each cached key and value is read once for all of them.
// Decoding is bound by reading the caches. When the batch has fewer (sequence, kv group) pairs than
// cores, long caches are also split along the keys (a.splits > 1): each split keeps its own
// softmax state in a.partial, merged per row afterwards.

// Dot product of two d-vectors, two accumulators for the FMA latency.
inline float dot(const float* a, const float* b, int d) {
  Vec s0 = Vec::zero(), s1 = Vec::zero();
  int c = 0;
  for (; c + 2 * W <= d; c += 2 * W) {
    s0 = fma(Vec::load(a + c), Vec::load(b + c), s0);
    s1 = fma(Vec::load(a + c + W), Vec::load(b + c + W), s1);
  }
  for (; c < d; c += W) {
    const int w = min_of(W, d - c);
    s0 = fma(Vec::load_partial(a + c, w), Vec::load_partial(b + c, w), s0);
  }
  return (s0 + s1).hsum();
}

// o[0:d] += p * v[0:d]
inline void axpy(float p, const float* v, int d, float* o) {
  const Vec pv = Vec::set1(p);
  int c = 0;
  for (; c + W <= d; c += W) fma(pv, Vec::load(v + c), Vec::load(o + c)).store(o + c);
  if (c < d) fma(pv, Vec::load_partial(v + c, d - c), Vec::load_partial(o + c, d - c)).store_partial(o + c, d - c);
}

void decode(const DecodeArgs& a) {
  const int d = a.d, H = a.H, G = a.G, group = H / G;
  const int64_t ldq = (int64_t)H * d, ldkv = (int64_t)G * d;
  const float qscale = kLog2e / __builtin_sqrtf((float)d);

  const int64_t S = a.splits, ldp = d + 2;  // partial row: max, sum, unnormalised output
  auto body = [&](int64_t item, int worker) {
    const int64_t b = a.order[item / (G * S)], sp = item % S;
    const int g = (int)(item / S % G);
    const int64_t q0 = a.cu_q[b], qn = a.cu_q[b + 1] - q0, kv = a.kv_len[b], rows = qn * group;
    const int64_t chunk = ceil_div(ceil_div(kv, S), BK) * BK;
    const int64_t j_lo = sp * chunk, j_hi = min_of(kv, j_lo + chunk);
    const int64_t past = kv - qn;  // cache rows before the first new token
    const float* kc = a.k_cache[b] + (int64_t)g * d;
    const float* vc = a.v_cache[b] + (int64_t)g * d;
    float* qs = a.scratch + worker * decode_scratch_floats(d, a.max_rows);
    float* o = qs + rows * d;
    float* s = o + rows * d;
    float* m = s + rows * BK;
    float* l = m + rows;  // [rows][W]: the row sums per lane
    // row r: new token t = r / group, head h = g*group + r % group
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = a.q + (q0 + r / group) * ldq + (int64_t)(g * group + r % group) * d;
      for (int c = 0; c < d; ++c) qs[r * d + c] = src[c] * qscale;
      for (int c = 0; c < d; ++c) o[r * d + c] = 0.f;
      m[r] = -__builtin_inff();
      Vec::zero().store(l + r * W);
    }
    for (int64_t j0 = j_lo; j0 < j_hi; j0 += BK) {
      const int cnt = (int)min_of<int64_t>(BK, j_hi - j0);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t visible = past + r / group + 1 - j0;  // keys of this tile row r may see
        const int upto = visible < 0 ? 0 : (int)min_of<int64_t>(visible, cnt);
        float* sr = s + r * BK;
        for (int jj = 0; jj < upto; ++jj) sr[jj] = dot(qs + r * d, kc + (j0 + jj) * ldkv, d);
        for (int jj = upto; jj < BK; ++jj) sr[jj] = -__builtin_inff();
        softmax_row(sr, sr, m[r], l + r * W, o + r * d, d);
        for (int jj = 0; jj < upto; ++jj) axpy(sr[jj], vc + (j0 + jj) * ldkv, d, o + r * d);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      const float lr = Vec::load(l + r * W).hsum();
      if (S > 1) {  // this split's state; the merge below normalises
        float* part = a.partial + (item * a.max_rows + r) * ldp;
        part[0] = m[r];
        part[1] = lr;
        for (int c = 0; c < d; ++c) part[2 + c] = o[r * d + c];
        continue;
      }
      const int64_t row = q0 + r / group;
      const int h = g * group + (int)(r % group);
      scale_row(o + r * d, d, 1.f / lr);
      float* dst = a.out + row * ldq + (int64_t)h * d;
      for (int c = 0; c < d; ++c) dst[c] = o[r * d + c];
      if (a.lse) a.lse[(int64_t)h * a.nq + row] = (m[r] + __builtin_log2f(lr)) * kLn2;
    }
  };
  parallel_items(a.batch * G * S, body);
  if (S == 1) return;

  // Merge the splits of each (sequence, kv group): rescale to the largest max (a split that saw
  // no key of a row has max -inf and weighs 0; split 0 always sees key 0).
  auto merge = [&](int64_t pair, int) {
    const int64_t b = a.order[pair / G];
    const int g = (int)(pair % G);
    const int64_t q0 = a.cu_q[b], rows = (a.cu_q[b + 1] - q0) * group;
    for (int64_t r = 0; r < rows; ++r) {
      const float* part = a.partial + (pair * S * a.max_rows + r) * ldp;
      const int64_t step = a.max_rows * ldp;  // from one split's row to the next
      float M = -__builtin_inff();
      for (int64_t sp = 0; sp < S; ++sp) M = part[sp * step] > M ? part[sp * step] : M;
      float L = 0.f;
      const int64_t row = q0 + r / group;
      const int h = g * group + (int)(r % group);
      float* dst = a.out + row * ldq + (int64_t)h * d;
      for (int c = 0; c < d; ++c) dst[c] = 0.f;
      for (int64_t sp = 0; sp < S; ++sp) {
        const float* p = part + sp * step;
        const float f = __builtin_exp2f(p[0] - M);
        L += p[1] * f;
        axpy(f, p + 2, d, dst);
      }
      scale_row(dst, d, 1.f / L);
      if (a.lse) a.lse[(int64_t)h * a.nq + row] = (M + __builtin_log2f(L)) * kLn2;
    }
  };
  parallel_items(a.batch * G, merge);
}
