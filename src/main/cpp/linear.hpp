// Small-M dense layers for decode (fp_cpu_linear), included after kernels.hpp by kernels_<isa>.cpp.
//
// A decode step multiplies a few rows of activations by every weight matrix of the model once, so
// it is bound by reading the weights, about two FLOPs per weight byte. The weights are read as the
// checkpoint stores them (no repacked copy): each tile takes kLinCols weight rows from far apart in
// its block (see linear_block) and streams them along k together, prefetching ahead, while every
// row tile of x (kLinRows rows, packed, from L1/L2) is multiplied into its accumulators. A block of
// weight rows is one work item, so the output columns are split over the threads; the x rows of
// all row tiles reuse a block's weights while they are still in cache, so each weight byte comes
// from memory once per call, whatever the number of rows.
//
// Arithmetic: bf16 weights take x rounded to bf16 and dot2 (vdpbf16ps, or the same function
// through exact conversions), fp32 accumulation; fp32 and fp16 weights (fp16 converted exactly)
// take x as it is and fused multiply-adds. Each output is the sum of its W (or 2W) lanes plus a
// scalar tail for k not a multiple of the step.

#include "read_probe.h"

// Prefetch distance along each weight row, in bytes: far enough ahead to cover memory latency at
// the stream's rate, near enough not to evict the rows being read.
constexpr int kLinPrefetch = 2048;
// Rows of x per group and elements of k per chunk (a multiple of every path's vector step). The
// chunk is 2 KiB of each BF16 weight row: the six rows' chunk stays in L1 while the group's row
// tiles take turns, and the accumulators are stored and reloaded once per chunk. Against 512 and
// 2048, timed in turns in one process on [60000, 4096] BF16 weights from DRAM (two threads, three
// rounds): 16 rows 26.7-27.2 GB/s against 20.9-21.3 and 20.6-21.1, 8 rows 38.9-40.7 against
// 34.4-36.2 and 36.7-37.8, 4 rows and one row equal or a little faster.
constexpr int kLinGroup = 16, kLinChunk = 1024;

inline void prefetch_rows(const void* const* rows, int cols, int64_t byte) {
  for (int c = 0; c < cols; ++c)
    _mm_prefetch(static_cast<const char*>(rows[c]) + byte + kLinPrefetch, _MM_HINT_T0);
}

template <class T> struct LinStep;  // elements per vector step, the loads and the scalar tail
template <> struct LinStep<bf16> {
  static constexpr int E = 2 * W;
  typedef Pairs V;
  static inline Pairs w(const bf16* p) { return Pairs::load(p); }
  static inline Pairs x(const bf16* p) { return Pairs::load(p); }
  static inline Vec madd(Vec acc, Pairs a, Pairs b) { return dot2(acc, a, b); }
  static inline float wf(const bf16* p, int64_t i) { return bf16_to_float(p[i]); }
};
template <> struct LinStep<float> {
  static constexpr int E = W;
  typedef Vec V;
  static inline Vec w(const float* p) { return Vec::load(p); }
  static inline Vec x(const float* p) { return Vec::load(p); }
  static inline Vec madd(Vec acc, Vec a, Vec b) { return fused(a, b, acc); }
  static inline float wf(const float* p, int64_t i) { return p[i]; }
};
struct F16 { uint16_t bits; };  // the weight type of fp16 matrices (x stays fp32)
template <> struct LinStep<F16> {
  static constexpr int E = W;
  typedef Vec V;
  static inline Vec w(const F16* p) { return load_f16(reinterpret_cast<const uint16_t*>(p)); }
  static inline Vec x(const float* p) { return Vec::load(p); }
  static inline Vec madd(Vec acc, Vec a, Vec b) { return fused(a, b, acc); }
  static inline float wf(const F16* p, int64_t i) { return half_to_float(p[i].bits); }
};

// x as the kernel reads it ("packed"): the rows go in groups of kLinGroup, each cut into row tiles
// of kLinRows and a shorter last one; the tile starting at row r0 with R rows holds its whole
// vector steps interleaved, [kv / E][R][E] from element r0 * kv, so that one step's R x vectors
// are adjacent and a tile's x is one sequential stream (R rows of their own, k apart, read
// slower: 8 rows x 4 weight rows ran 15.7 ms against 13.8 on 512 MB in a C harness). The scalar
// tails follow, [rows][k - kv] from element rows * kv.
template <class F>
inline void for_row_groups(int64_t rows, F&& f) {  // f(first row, rows) of each group
  for (int64_t g = 0; g < rows; g += kLinGroup) f(g, rows - g < kLinGroup ? (int)(rows - g) : kLinGroup);
}
template <class F>
inline void for_row_tiles(int rows, F&& f) {  // f(first row, rows) of each tile of a group
  int r = 0;
  for (; r + kLinRows <= rows; r += kLinRows) f(r, kLinRows);
  if (r < rows) f(r, rows - r);
}

// acc[r][c] += x row r . weight row c over [i0, i1) (whole vector steps), for the R rows of the
// packed tile xt and kLinCols weight rows. X is the type x is read in (bf16 for bf16 weights,
// float otherwise).
template <int R, class T, class X>
inline void linear_span(const X* xt, const T* const* wr, int64_t i0, int64_t i1, Vec acc[][kLinCols]) {
  typedef LinStep<T> S;
  constexpr int C = kLinCols, E = S::E;
  Vec a[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) a[r][c] = acc[r][c];
  const X* xs = xt + i0 * R;  // step i0 / E of the tile
  for (int64_t i = i0; i < i1; i += E, xs += R * E) {
    prefetch_rows(reinterpret_cast<const void* const*>(wr), C, i * (int64_t)sizeof(T));
    typename S::V wv[C];
    for (int c = 0; c < C; ++c) wv[c] = S::w(wr[c] + i);
    for (int r = 0; r < R; ++r) {
      const typename S::V xv = S::x(xs + r * E);
      for (int c = 0; c < C; ++c) a[r][c] = S::madd(a[r][c], xv, wv[c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = a[r][c];
}

// A row tile of `rows` rows, 0 < rows <= R: the span instantiated for its height.
template <int R, class T, class X>
inline void linear_tile(int rows, const X* xt, const T* const* wr, int64_t i0, int64_t i1, Vec acc[][kLinCols]) {
  if constexpr (R > 0) {
    if (rows == R) linear_span<R>(xt, wr, i0, i1, acc);
    else linear_tile<R - 1>(rows, xt, wr, i0, i1, acc);
  }
}

// One chunk of k for the `rows` rows of a row group (packed x from its first row, kv elements a row).
template <class T, class X>
inline void linear_chunk(const X* xg, int64_t kv, int rows, const T* const* wr, int64_t i0, int64_t i1,
                         Vec acc[][kLinCols]) {
  for_row_tiles(rows, [&](int r0, int tr) { linear_tile<kLinRows>(tr, xg + r0 * kv, wr, i0, i1, acc + r0); });
}

// x [rows, k] into the packed layout of X, vectors of E elements (bf16: rounded to nearest even,
// NaN stays NaN; float: as it is).
template <class X>
void pack_x(const float* x, int64_t rows, int64_t k, X* out) {
  constexpr int E = kBf16<X> ? 2 * W : W;
  const int64_t kv = k / E * E;
  for_row_groups(rows, [&](int64_t g, int gr) {
    for_row_tiles(gr, [&](int r0, int tr) {
      X* dst = out + (g + r0) * kv;
      for (int64_t i = 0; i < kv; i += E)
        for (int r = 0; r < tr; ++r, dst += E) {
          const float* src = x + (g + r0 + r) * k + i;
          if constexpr (kBf16<X>) store_bf16x2(Vec::load(src), Vec::load(src + W), dst);
          else Vec::load(src).store(dst);
        }
    });
  });
  X* tail = out + rows * kv;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = kv; i < k; ++i) {
      if constexpr (kBf16<X>) *tail++ = float_to_bf16(x[r * k + i]);
      else *tail++ = x[r * k + i];
    }
}

// An output: `sum` (of the vector steps) plus the scalar tail (x's k - kv elements from `tail`
// against weight row wr's), written to or added to *dst.
template <class T, class X>
inline void store_output(float sum, const X* tail, const T* wr, int64_t kv, int64_t k, float* dst, bool accumulate) {
  for (int64_t i = kv; i < k; ++i) {
    float xv;
    if constexpr (kBf16<X>) xv = bf16_to_float(tail[i - kv]); else xv = tail[i - kv];
    sum += xv * LinStep<T>::wf(wr, i);  // bf16 x bf16 is exact in fp32, like dot2's products
  }
  *dst = accumulate ? *dst + sum : sum;
}

// One row of x (a single sequence's decode step): linear_block's tiles, spread the same way, with
// the k loop of a one-row tile and no row groups or chunks, whose accumulator traffic cost 2-4% of
// the stream's speed here. The products are added in the same order, so the bits are the same.
template <class T, class X>
void linear_row(const X* x, int64_t k, const T* w, int64_t j0, int64_t j1, float* y, bool accumulate) {
  constexpr int C = kLinCols, E = LinStep<T>::E;
  const int64_t kv = k / E * E, count = j1 - j0, s = (count + C - 1) / C;
  for (int64_t t = 0; t < s; ++t) {
    int cols = 0;
    while (cols < C && t + cols * s < count) ++cols;
    const T* wr[C];
    for (int c = 0; c < C; ++c) wr[c] = w + (j0 + t + (c < cols ? c * s : 0)) * k;
    Vec a[C];
    for (int c = 0; c < C; ++c) a[c] = Vec::zero();
#pragma GCC unroll 1
    for (int64_t i = 0; i < kv; i += E) {
      prefetch_rows(reinterpret_cast<const void* const*>(wr), C, i * (int64_t)sizeof(T));
      typename LinStep<T>::V wv[C];
      for (int c = 0; c < C; ++c) wv[c] = LinStep<T>::w(wr[c] + i);
      const typename LinStep<T>::V xv = LinStep<T>::x(x + i);
      for (int c = 0; c < C; ++c) a[c] = LinStep<T>::madd(a[c], xv, wv[c]);
    }
    for (int c = 0; c < cols; ++c) store_output(a[c].hsum(), x + kv, wr[c], kv, k, y + j0 + t + c * s, accumulate);
  }
}

// Weight rows [j0, j1) of one matrix against every row of x (packed). A tile's kLinCols weight rows are
// spread over the block, s = ceil((j1 - j0) / kLinCols) rows apart (tile t takes rows j0 + t,
// j0 + t + s, ...): each of its streams then walks its own stretch of the block, far from the
// others, where adjacent rows (a few KiB apart) read slower from DRAM. Rows go in groups of
// kLinGroup, and each group walks k in chunks of kLinChunk through all its row tiles: the weight
// stream never pauses for a second pass over cached weights, and the chunk of each weight row
// stays in L1 while the group's row tiles use it.
template <class T, class X>
void linear_block(const X* x, int64_t rows, int64_t k, const T* w, int64_t j0, int64_t j1, float* y, int64_t ldy,
                  bool accumulate) {
  if (rows == 1) return linear_row(x, k, w, j0, j1, y, accumulate);
  constexpr int C = kLinCols, E = LinStep<T>::E;
  const int64_t kv = k / E * E;  // whole vector steps; the rest is the scalar tail
  const int64_t count = j1 - j0, s = (count + C - 1) / C;
  Vec acc[kLinGroup][C];
  for (int64_t t = 0; t < s; ++t) {
    int cols = 0;  // the tile's rows are t + c s for c < cols; a short tile repeats its first row
    while (cols < C && t + cols * s < count) ++cols;
    const T* wr[C];
    for (int c = 0; c < C; ++c) wr[c] = w + (j0 + t + (c < cols ? c * s : 0)) * k;
    for_row_groups(rows, [&](int64_t g, int gr) {
      const X* xg = x + g * kv;
      const X* tails = x + rows * kv + g * (k - kv);
      for (int r = 0; r < gr; ++r)
        for (int c = 0; c < C; ++c) acc[r][c] = Vec::zero();
      for (int64_t i0 = 0; i0 < kv; i0 += kLinChunk)
        linear_chunk(xg, kv, gr, wr, i0, i0 + kLinChunk < kv ? i0 + kLinChunk : kv, acc);
      for (int r = 0; r < gr; ++r)
        for (int c = 0; c < cols; ++c)
          store_output(acc[r][c].hsum(), tails + r * (k - kv), wr[c], kv, k, y + (g + r) * ldy + j0 + t + c * s, accumulate);
    });
  }
}

#if defined(FP_NATIVE_DOT2)
// Five to eight rows of x against BF16 weights, in one pass over each weight row. The 4 x 6 tile
// takes two passes over each chunk for eight rows (its 24 accumulators hold four rows), and the
// second pass's loads cost about a tenth of the weight stream's speed. Here each 128-bit quarter of
// a 512-bit x vector holds 8 k values of a different x row ("quad" layout: four rows a vector),
// and each quarter of a weight row's 64 bytes is broadcast to all four lanes, so one vdpbf16ps
// multiplies one weight quarter by four rows: two x vectors a quarter cover eight rows, and eight
// weight rows need 16 accumulators, 8 x vectors and one broadcast, all in registers. Against the
// 4 x 6 tile on [60000, 4096] BF16 weights from DRAM, two threads, in turns in one process
// (benchmarks/native/linear_tile.cpp, three runs): eight rows 43.2-44.5 GB/s against 38.5-39.9,
// five to seven rows 0-10% faster; at four rows and fewer the two were even in a harness of their
// own, and those keep the 4 x 6 tile. The packed x of eight rows (64 KiB at k = 4096) lives in L2,
// not L1; keeping it in L1 by walking k in chunks was slower, as each weight row is then read in
// pieces. Every variant tried streams at 48-52 GB/s on two threads here, whatever the read probe
// does, while the same loop on weights in L2 reaches 89.5: the limit is the arithmetic and the
// memory stream together, not either alone.
constexpr int kQuadCols = 8, kQuadRows = kLinQuadRows;
inline bool quad_rows(int64_t rows) { return rows > kLinRows && rows <= kQuadRows; }

// x [rows, k] (rows <= 8) rounded to bf16 in the quad layout: for each vector step of 32 elements,
// [2 row groups][4 quarters][4 rows][8 elements], rows past `rows` zero; then the scalar tails,
// [rows][k - kv] from element 8 * kv.
inline void pack_quad(const float* x, int64_t rows, int64_t k, bf16* out) {
  const int64_t kv = k / 32 * 32;
  alignas(64) bf16 step[32];
  for (int64_t i = 0; i < kv; i += 32) {
    bf16* dst = out + i * kQuadRows;
    for (int r = 0; r < kQuadRows; ++r) {
      if (r < rows) store_bf16x2(Vec::load(x + r * k + i), Vec::load(x + r * k + i + W), step);
      else std::memset(step, 0, sizeof(step));
      for (int j = 0; j < 4; ++j) std::memcpy(dst + ((r / 4 * 4 + j) * 4 + r % 4) * 8, step + 8 * j, 16);
    }
  }
  bf16* tail = out + kQuadRows * kv;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = kv; i < k; ++i) *tail++ = float_to_bf16(x[r * k + i]);
}

// Weight rows [j0, j1) of one BF16 matrix against the rows of x packed by pack_quad; the tiles'
// weight rows are spread over the block as linear_block spreads them.
inline void quad_block(const bf16* xq, int64_t rows, int64_t k, const bf16* w, int64_t j0, int64_t j1, float* y,
                       int64_t ldy, bool accumulate) {
  constexpr int C = kQuadCols;
  const int64_t kv = k / 32 * 32, count = j1 - j0, s = (count + C - 1) / C;
  const bf16* tails = xq + kQuadRows * kv;
  for (int64_t t = 0; t < s; ++t) {
    int cols = 0;
    while (cols < C && t + cols * s < count) ++cols;
    const bf16* wr[C];
    for (int c = 0; c < C; ++c) wr[c] = w + (j0 + t + (c < cols ? c * s : 0)) * k;
    __m512 acc[2][C];
    for (int c = 0; c < C; ++c) acc[0][c] = acc[1][c] = _mm512_setzero_ps();
    const bf16* xs = xq;
    for (int64_t i = 0; i < kv; i += 32, xs += 32 * kQuadRows) {
      prefetch_rows(reinterpret_cast<const void* const*>(wr), C, i * (int64_t)sizeof(bf16));
      __m512i xv[2][4];
      for (int g = 0; g < 2; ++g)
        for (int j = 0; j < 4; ++j) xv[g][j] = _mm512_loadu_si512(xs + (g * 4 + j) * 32);
      for (int c = 0; c < C; ++c)
        for (int j = 0; j < 4; ++j) {
          const __m512i wb = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wr[c] + i + 8 * j)));
          acc[0][c] = _mm512_dpbf16_ps(acc[0][c], (__m512bh)xv[0][j], (__m512bh)wb);
          acc[1][c] = _mm512_dpbf16_ps(acc[1][c], (__m512bh)xv[1][j], (__m512bh)wb);
        }
    }
    for (int g = 0; g < 2; ++g)
      for (int c = 0; c < cols; ++c) {
        alignas(64) float lanes[16];
        _mm512_store_ps(lanes, acc[g][c]);
        for (int q = 0; q < 4 && g * 4 + q < rows; ++q) {
          const int64_t r = g * 4 + q;
          store_output((lanes[4 * q] + lanes[4 * q + 1]) + (lanes[4 * q + 2] + lanes[4 * q + 3]), tails + r * (k - kv),
                       wr[c], kv, k, y + r * ldy + j0 + t + c * s, accumulate);
        }
      }
  }
}
#else
inline bool quad_rows(int64_t) { return false; }
inline void pack_quad(const float*, int64_t, int64_t, bf16*) {}
inline void quad_block(const bf16*, int64_t, int64_t, const bf16*, int64_t, int64_t, float*, int64_t, bool) {}
#endif

// y[i] = silu(g[i]) * u[i] = g e^min(g,0) / (1 + e^-|g|): both exponents are <= 0 (vexp2's
// domain), so nothing overflows for any finite g; NaN stays NaN.
inline void swiglu(float* g, const float* u, int64_t count) {
  const Vec log2e = Vec::set1(1.4426950408889634f), one = Vec::set1(1.f), zero = Vec::zero();
  auto f = [&](Vec x, Vec up) {
    const Vec e = vexp2(min(x, zero) * log2e), t = vexp2((zero - max(x, zero - x)) * log2e);
    return x * e / (one + t) * up;
  };
  int64_t i = 0;
  for (; i + W <= count; i += W) f(Vec::load(g + i), Vec::load(u + i)).store(g + i);
  if (i < count) {
    const int rest = (int)(count - i);
    f(Vec::load_partial(g + i, rest), Vec::load_partial(u + i, rest)).store_partial(g + i, rest);
  }
}

void linear(const LinearArgs& a) {
  const bool quad = quad_rows(a.rows);
  if (a.xb) {
    if (quad) pack_quad(a.x, a.rows, a.k, a.xb);
    else pack_x(a.x, a.rows, a.k, a.xb);
  }
  if (a.xf) pack_x(a.x, a.rows, a.k, a.xf);
  auto item = [&](int64_t b, int) {
    int i = 0;
    while (b >= a.block0[i + 1]) ++i;
    const int64_t j0 = (b - a.block0[i]) * a.block, j1 = a.n[i] < j0 + a.block ? a.n[i] : j0 + a.block;
    switch (a.dtype[i]) {
      case FP_DTYPE_BF16:
        if (quad) quad_block(a.xb, a.rows, a.k, static_cast<const bf16*>(a.w[i]), j0, j1, a.y[i], a.n[i], a.accumulate);
        else linear_block(a.xb, a.rows, a.k, static_cast<const bf16*>(a.w[i]), j0, j1, a.y[i], a.n[i], a.accumulate);
        break;
      case FP_DTYPE_F16:
        linear_block(a.xf, a.rows, a.k, static_cast<const F16*>(a.w[i]), j0, j1, a.y[i], a.n[i], a.accumulate);
        break;
      default:
        linear_block(a.xf, a.rows, a.k, static_cast<const float*>(a.w[i]), j0, j1, a.y[i], a.n[i], a.accumulate);
        break;
    }
  };
  parallel_items(a.block0[a.count], item);
  if (a.swiglu) swiglu(a.y[0], a.y[1], a.rows * a.n[0]);
}

uint64_t read_stream(const char* p, int64_t bytes) { return stream_read_loop(p, bytes); }
