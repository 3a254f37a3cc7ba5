// One vector type per instruction-set path. Included only by kernels_<isa>.cpp, inside that
// path's namespace, so code compiled with AVX-512 flags can never be linked into another path.
// Everything here is inline and uses no standard-library templates for the same reason.
#pragma once

#include <immintrin.h>

// Scalar conversions (here, inside each path's namespace, so no out-of-line copy compiled with one
// path's flags can be linked into another).
inline float bits_to_float(uint32_t u) { float f; __builtin_memcpy(&f, &u, 4); return f; }
inline float bf16_to_float(uint16_t b) { return bits_to_float((uint32_t)b << 16); }
// IEEE half to fp32, exactly: the magnitude bits shifted into an fp32 and scaled by 2^112 give
// normals and subnormals; infinity and NaN get the all-ones exponent back.
inline float half_to_float(uint16_t h) {
  const uint32_t mag = h & 0x7fffu;
  float f = bits_to_float(mag << 13) * bits_to_float(0x77800000u);
  uint32_t u; __builtin_memcpy(&u, &f, 4);
  if (mag > 0x7bffu) u |= 0x7f800000u;
  return bits_to_float(u | (uint32_t)(h & 0x8000u) << 16);
}
// fp32 to bf16, round to nearest even (NaN stays NaN).
inline uint16_t float_to_bf16(float x) {
  uint32_t b; __builtin_memcpy(&b, &x, 4);
  if ((b & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((b >> 16) | 0x40u);
  return (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

// 2^f on [-1/2, 1/2]: relative-error least-squares fit of degree 5 (max error 7.5e-8), used by vexp2.
constexpr float kExp2C0 = 1.0000000717e+00f, kExp2C1 = 6.9314696705e-01f, kExp2C2 = 2.4022119725e-01f,
                kExp2C3 = 5.5507132966e-02f, kExp2C4 = 9.6755412750e-03f, kExp2C5 = 1.3276464540e-03f;

#if defined(__AVX512F__)

struct Vec {
  static constexpr int W = 16;
  __m512 v;
  static inline Vec load(const float* p) { return {_mm512_loadu_ps(p)}; }
  static inline Vec load_partial(const float* p, int cnt) {
    return {_mm512_maskz_loadu_ps((__mmask16)((1u << cnt) - 1u), p)};
  }
  static inline Vec set1(float x) { return {_mm512_set1_ps(x)}; }
  static inline Vec zero() { return {_mm512_setzero_ps()}; }
  inline void store(float* p) const { _mm512_storeu_ps(p, v); }
  inline void store_partial(float* p, int cnt) const {
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << cnt) - 1u), v);
  }
  friend inline Vec fma(Vec a, Vec b, Vec c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
  friend inline Vec fused(Vec a, Vec b, Vec c) { return fma(a, b, c); }
  friend inline Vec operator+(Vec a, Vec b) { return {_mm512_add_ps(a.v, b.v)}; }
  friend inline Vec operator-(Vec a, Vec b) { return {_mm512_sub_ps(a.v, b.v)}; }
  friend inline Vec operator*(Vec a, Vec b) { return {_mm512_mul_ps(a.v, b.v)}; }
  friend inline Vec operator/(Vec a, Vec b) { return {_mm512_div_ps(a.v, b.v)}; }
  friend inline Vec max(Vec a, Vec b) { return {_mm512_max_ps(a.v, b.v)}; }
  friend inline Vec min(Vec a, Vec b) { return {_mm512_min_ps(a.v, b.v)}; }
  inline float hsum() const { return _mm512_reduce_add_ps(v); }
  inline float hmax() const { return _mm512_reduce_max_ps(v); }
  static inline Vec round(Vec x) { return {_mm512_roundscale_ps(x.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
  // p * 2^r for integral r (vscalefps); 2^-160 underflows to 0, so exp2(-inf) is exactly 0.
  static inline Vec ldexp(Vec p, Vec r) { return {_mm512_scalef_ps(p.v, r.v)}; }
  static constexpr float kExpMin = -160.f, kExpMax = 128.f;
  static constexpr bool kClampHigh = false;  // scalef saturates to inf by itself
};
// W pairs of bf16 in one register: the operands of dot2 (vdpbf16ps takes them so).
struct Pairs {
  __m512i v;
  static inline Pairs load(const uint16_t* p) { return {_mm512_loadu_si512(p)}; }
  static inline Pairs set1(const uint16_t* p) { return {_mm512_set1_epi32(*reinterpret_cast<const int*>(p))}; }
  // The odd (upper) and even (lower) bf16 of each pair as fp32: a bf16 is the top half of an fp32.
  inline Vec odd() const { return {_mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(-65536)))}; }
  inline Vec even() const { return {_mm512_castsi512_ps(_mm512_slli_epi32(v, 16))}; }
};
#if defined(__AVX512BF16__)
inline Vec dot2(Vec acc, Pairs a, Pairs b) {
  return {_mm512_dpbf16_ps(acc.v, (__m512bh)a.v, (__m512bh)b.v)};
}
#define FP_NATIVE_DOT2 1
#endif
// fp32 -> bf16, round to nearest even, of W values (no NaN: probabilities only).
inline void store_bf16(Vec x, uint16_t* p) {
  __m512i b = _mm512_castps_si512(x.v);
  b = _mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1))));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(_mm512_srli_epi32(b, 16)));
}
// 2W values: lo then hi. vcvtne2ps2bf16 where the CPU has it (one instruction for 32 values; it
// also flushes fp32 denormals, below 1.2e-38, to zero).
inline void store_bf16x2(Vec lo, Vec hi, uint16_t* p) {
#if defined(__AVX512BF16__)
  _mm512_storeu_si512(p, (__m512i)_mm512_cvtne2ps_pbh(hi.v, lo.v));
#else
  store_bf16(lo, p);
  store_bf16(hi, p + 16);
#endif
}
// dst[c * ldd + r] = src[r * lds + c] for a 16x16 block of 32-bit words (strides in words): the
// K packing's transpose, 64 shuffles instead of 256 scalar moves.
#define FP_HAVE_TRANSPOSE16 1
inline void transpose16(const uint32_t* src, int64_t lds, uint32_t* dst, int64_t ldd) {
  __m512i r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_si512(src + i * lds);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {  // r[i + k], lane l: rows i..i+3 of column 4l + k
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int k = 0; k < 4; ++k) {
    const __m512i x0 = _mm512_shuffle_i32x4(r[k], r[4 + k], 0x44), x1 = _mm512_shuffle_i32x4(r[k], r[4 + k], 0xEE);
    const __m512i y0 = _mm512_shuffle_i32x4(r[8 + k], r[12 + k], 0x44), y1 = _mm512_shuffle_i32x4(r[8 + k], r[12 + k], 0xEE);
    _mm512_storeu_si512(dst + k * ldd, _mm512_shuffle_i32x4(x0, y0, 0x88));
    _mm512_storeu_si512(dst + (4 + k) * ldd, _mm512_shuffle_i32x4(x0, y0, 0xDD));
    _mm512_storeu_si512(dst + (8 + k) * ldd, _mm512_shuffle_i32x4(x1, y1, 0x88));
    _mm512_storeu_si512(dst + (12 + k) * ldd, _mm512_shuffle_i32x4(x1, y1, 0xDD));
  }
}
// out[j] = the sum of the 16 lanes of a[j], j < 16, by one fixed tree on every path: lane i plus
// lane i + 8, then the same at strides 4, 2 and 1 (lane_sums16 below states it in scalars). Here
// as a butterfly over 16 registers, 46 shuffles and adds for 16 sums.
#define FP_HAVE_LANE_SUMS16 1
inline void lane_sums16(const Vec* a, float* out) {
  __m512 s[8], t[4], r[2];
  for (int m = 0; m < 8; ++m)  // halves: key 2m's lanes i + i+8, key 2m+1's
    s[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * m].v, a[2 * m + 1].v, 0x44),
                         _mm512_shuffle_f32x4(a[2 * m].v, a[2 * m + 1].v, 0xEE));
  for (int p = 0; p < 4; ++p)  // quarter q: key 4p + q, stride 4
    t[p] = _mm512_add_ps(_mm512_shuffle_f32x4(s[2 * p], s[2 * p + 1], 0x88),
                         _mm512_shuffle_f32x4(s[2 * p], s[2 * p + 1], 0xDD));
  for (int w = 0; w < 2; ++w) {  // quarter q: keys 8w + q and 8w + 4 + q, two lanes each, stride 2
    const __m512d u = _mm512_castps_pd(t[2 * w]), v = _mm512_castps_pd(t[2 * w + 1]);
    r[w] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(u, v)), _mm512_castpd_ps(_mm512_unpackhi_pd(u, v)));
  }
  // stride 1: lane 4q + i holds key 4i + q, put back in key order
  const __m512 sum = _mm512_add_ps(_mm512_shuffle_ps(r[0], r[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_ps(r[0], r[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm512_storeu_ps(out, _mm512_permutexvar_ps(order, sum));
}
// Register blocking: rows x vectors of accumulators for q*k^T and p*v (32 zmm registers).
constexpr int kQkRows = 4, kQkVecs = 4, kPvRows = 4, kPvVecs = 4;
// W float16 values as fp32 (exact): vcvtph2ps is part of AVX-512F.
inline Vec load_f16(const uint16_t* p) {
  return {_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)))};
}
// W bfloat16 values as fp32 (exact: a bf16 is the top half of an fp32).
inline Vec load_bf16(const uint16_t* p) {
  const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return {_mm512_castsi512_ps(_mm512_slli_epi32(h, 16))};
}
// Small-M dense layers (linear.hpp): rows x weight rows of accumulators. 4 x 6 keeps its 24
// accumulators, six weight vectors and one x vector in the 32 registers, and a 4-row tile's x
// chunk stays in L1 beside the weights' while the group's row tiles take turns. Through
// fp_cpu_linear on eight [11008, 4096] BF16 weights, alternating builds: 8 rows 16.3-17.8 ms
// against 20.6-22.1 for 8 x 4 (whose 32 accumulators spill), 16 rows 24.7-25.7 against
// 33.4-34.1, one row 10.7-11.3 against 11.6-13.1; 4 x 5 about as good, 5 x 5, 3 x 7 and 2 x 10
// slower. With the weights in cache, 8 rows compute at 44 GB/s of weights against 38.
constexpr int kLinRows = 4, kLinCols = 6;

#elif defined(__AVX2__)

struct Vec {
  static constexpr int W = 8;
  __m256 v;
  static inline __m256i mask(int cnt) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static inline Vec load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static inline Vec load_partial(const float* p, int cnt) { return {_mm256_maskload_ps(p, mask(cnt))}; }
  static inline Vec set1(float x) { return {_mm256_set1_ps(x)}; }
  static inline Vec zero() { return {_mm256_setzero_ps()}; }
  inline void store(float* p) const { _mm256_storeu_ps(p, v); }
  inline void store_partial(float* p, int cnt) const { _mm256_maskstore_ps(p, mask(cnt), v); }
  friend inline Vec fma(Vec a, Vec b, Vec c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
  friend inline Vec fused(Vec a, Vec b, Vec c) { return fma(a, b, c); }
  friend inline Vec operator+(Vec a, Vec b) { return {_mm256_add_ps(a.v, b.v)}; }
  friend inline Vec operator-(Vec a, Vec b) { return {_mm256_sub_ps(a.v, b.v)}; }
  friend inline Vec operator*(Vec a, Vec b) { return {_mm256_mul_ps(a.v, b.v)}; }
  friend inline Vec operator/(Vec a, Vec b) { return {_mm256_div_ps(a.v, b.v)}; }
  friend inline Vec max(Vec a, Vec b) { return {_mm256_max_ps(a.v, b.v)}; }
  friend inline Vec min(Vec a, Vec b) { return {_mm256_min_ps(a.v, b.v)}; }
  inline float hsum() const {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  inline float hmax() const {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static inline Vec round(Vec x) { return {_mm256_round_ps(x.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
  // p * 2^r through the exponent bits: r = -127 gives a zero exponent field, so exactly 0.
  static inline Vec ldexp(Vec p, Vec r) {
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(r.v), _mm256_set1_epi32(127)), 23);
    return {_mm256_mul_ps(p.v, _mm256_castsi256_ps(e))};
  }
  static constexpr float kExpMin = -127.f, kExpMax = 127.f;
  static constexpr bool kClampHigh = true;  // the exponent field would wrap
};
struct Pairs {
  __m256i v;
  static inline Pairs load(const uint16_t* p) { return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))}; }
  static inline Pairs set1(const uint16_t* p) { return {_mm256_set1_epi32(*reinterpret_cast<const int*>(p))}; }
  inline Vec odd() const { return {_mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(-65536)))}; }
  inline Vec even() const { return {_mm256_castsi256_ps(_mm256_slli_epi32(v, 16))}; }
};
inline void store_bf16(Vec x, uint16_t* p) {
  __m256i b = _mm256_castps_si256(x.v);
  b = _mm256_add_epi32(b, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1))));
  b = _mm256_srli_epi32(b, 16);
  const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(b, b), 0xD8);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_castsi256_si128(packed));
}
inline void store_bf16x2(Vec lo, Vec hi, uint16_t* p) {
  store_bf16(lo, p);
  store_bf16(hi, p + 8);
}
// out[j] = the sum of the 16 lanes of a[2j], a[2j+1] (lanes 0-7, 8-15), j < 16, by lane_sums16's
// tree: the halves added (lane i + i+8), then strides 4, 2 and 1 as a butterfly over 8 keys.
#define FP_HAVE_LANE_SUMS16 1
inline void lane_sums16(const Vec* a, float* out) {
  for (int j0 = 0; j0 < 16; j0 += 8) {
    __m256 p[8], t[4], r[2];
    for (int j = 0; j < 8; ++j) p[j] = _mm256_add_ps(a[2 * (j0 + j)].v, a[2 * (j0 + j) + 1].v);
    for (int i = 0; i < 4; ++i)  // half h: key 2i + h, stride 4
      t[i] = _mm256_add_ps(_mm256_permute2f128_ps(p[2 * i], p[2 * i + 1], 0x20),
                           _mm256_permute2f128_ps(p[2 * i], p[2 * i + 1], 0x31));
    for (int w = 0; w < 2; ++w) {  // half h: keys 4w + h and 4w + 2 + h, two lanes each, stride 2
      const __m256d u = _mm256_castps_pd(t[2 * w]), v = _mm256_castps_pd(t[2 * w + 1]);
      r[w] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(u, v)), _mm256_castpd_ps(_mm256_unpackhi_pd(u, v)));
    }
    // stride 1: lane 4h + i holds key 2i + h, put back in key order
    const __m256 sum = _mm256_add_ps(_mm256_shuffle_ps(r[0], r[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm256_shuffle_ps(r[0], r[1], _MM_SHUFFLE(3, 1, 3, 1)));
    _mm256_storeu_ps(out + j0, _mm256_permutevar8x32_ps(sum, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
}
// 16 ymm registers: 8 accumulators + operands.
constexpr int kQkRows = 4, kQkVecs = 2, kPvRows = 2, kPvVecs = 4;
// W float16 values as fp32, exactly, with integer operations (no F16C needed): the magnitude bits
// shifted into an fp32 and scaled by 2^112 give normals and subnormals; infinity and NaN get the
// all-ones exponent back.
inline Vec load_f16(const uint16_t* p) {
  const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m256i mag = _mm256_and_si256(h, _mm256_set1_epi32(0x7fff));
  __m256 f = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(mag, 13)), _mm256_castsi256_ps(_mm256_set1_epi32(0x77800000)));
  const __m256i special = _mm256_cmpgt_epi32(mag, _mm256_set1_epi32(0x7bff));
  f = _mm256_or_ps(f, _mm256_castsi256_ps(_mm256_and_si256(special, _mm256_set1_epi32(0x7f800000))));
  return {_mm256_or_ps(f, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x8000)), 16)))};
}
inline Vec load_bf16(const uint16_t* p) {
  const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return {_mm256_castsi256_ps(_mm256_slli_epi32(h, 16))};
}
constexpr int kLinRows = 6, kLinCols = 4;

#else  // generic: plain arrays the compiler vectorises with the baseline ISA

struct Vec {
  static constexpr int W = 8;
  float v[W];
  static inline Vec load(const float* p) { Vec r; for (int i = 0; i < W; ++i) r.v[i] = p[i]; return r; }
  static inline Vec load_partial(const float* p, int cnt) {
    Vec r; for (int i = 0; i < W; ++i) r.v[i] = i < cnt ? p[i] : 0.f; return r;
  }
  static inline Vec set1(float x) { Vec r; for (int i = 0; i < W; ++i) r.v[i] = x; return r; }
  static inline Vec zero() { return set1(0.f); }
  inline void store(float* p) const { for (int i = 0; i < W; ++i) p[i] = v[i]; }
  inline void store_partial(float* p, int cnt) const { for (int i = 0; i < cnt; ++i) p[i] = v[i]; }
  friend inline Vec fma(Vec a, Vec b, Vec c) { Vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] * b.v[i] + c.v[i]; return r; }
  // Rounded once, as the other paths' fma (the baseline ISA has none): a product of two floats is
  // exact in double, so one rounding of the double sum gives the fused result but for rare double
  // rounding. exp2 uses it, which keeps the probabilities, and so their bf16 rounding, the same on
  // every path.
  friend inline Vec fused(Vec a, Vec b, Vec c) {
    Vec r; for (int i = 0; i < W; ++i) r.v[i] = (float)((double)a.v[i] * b.v[i] + c.v[i]); return r;
  }
  friend inline Vec operator+(Vec a, Vec b) { Vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] + b.v[i]; return r; }
  friend inline Vec operator-(Vec a, Vec b) { Vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] - b.v[i]; return r; }
  friend inline Vec operator*(Vec a, Vec b) { Vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] * b.v[i]; return r; }
  friend inline Vec operator/(Vec a, Vec b) { Vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] / b.v[i]; return r; }
  friend inline Vec max(Vec a, Vec b) { Vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i]; return r; }
  friend inline Vec min(Vec a, Vec b) { Vec r; for (int i = 0; i < W; ++i) r.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i]; return r; }
  inline float hsum() const { float s = 0.f; for (int i = 0; i < W; ++i) s += v[i]; return s; }
  inline float hmax() const { float s = v[0]; for (int i = 1; i < W; ++i) s = v[i] > s ? v[i] : s; return s; }
  static inline Vec round(Vec x) { Vec r; for (int i = 0; i < W; ++i) r.v[i] = __builtin_rintf(x.v[i]); return r; }
  static inline Vec ldexp(Vec p, Vec r) {
    Vec o; for (int i = 0; i < W; ++i) o.v[i] = __builtin_ldexpf(p.v[i], (int)r.v[i]); return o;
  }
  static constexpr float kExpMin = -160.f, kExpMax = 128.f;
  static constexpr bool kClampHigh = false;
};
struct Pairs {
  uint32_t v[Vec::W];
  static inline Pairs load(const uint16_t* p) { Pairs r; __builtin_memcpy(r.v, p, sizeof r.v); return r; }
  static inline Pairs set1(const uint16_t* p) {
    uint32_t x; __builtin_memcpy(&x, p, 4); Pairs r; for (int i = 0; i < Vec::W; ++i) r.v[i] = x; return r;
  }
  inline Vec odd() const { Vec r; for (int i = 0; i < Vec::W; ++i) r.v[i] = bits(v[i] & 0xffff0000u); return r; }
  inline Vec even() const { Vec r; for (int i = 0; i < Vec::W; ++i) r.v[i] = bits(v[i] << 16); return r; }
  static inline float bits(uint32_t u) { float f; __builtin_memcpy(&f, &u, 4); return f; }
};
inline void store_bf16(Vec x, uint16_t* p) {
  for (int i = 0; i < Vec::W; ++i) {
    uint32_t b; __builtin_memcpy(&b, &x.v[i], 4);
    p[i] = (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
  }
}
inline void store_bf16x2(Vec lo, Vec hi, uint16_t* p) {
  store_bf16(lo, p);
  store_bf16(hi, p + Vec::W);
}
constexpr int kQkRows = 4, kQkVecs = 1, kPvRows = 2, kPvVecs = 2;
inline Vec load_f16(const uint16_t* p) {
  Vec r;
  for (int i = 0; i < Vec::W; ++i) r.v[i] = half_to_float(p[i]);
  return r;
}
inline Vec load_bf16(const uint16_t* p) {
  Vec r;
  for (int i = 0; i < Vec::W; ++i) r.v[i] = bf16_to_float(p[i]);
  return r;
}
constexpr int kLinRows = 6, kLinCols = 4;

#endif

#if !defined(FP_NATIVE_DOT2)
// acc + a.odd*b.odd + a.even*b.even in that order, as vdpbf16ps specifies it. A product of two
// bf16 is exact in fp32, so each fma rounds once, like each of vdpbf16ps's two additions: the
// converting paths compute the same function as the native instruction.
inline Vec dot2(Vec acc, Pairs a, Pairs b) { return fma(a.even(), b.even(), fma(a.odd(), b.odd(), acc)); }
#endif

#if !defined(FP_HAVE_LANE_SUMS16)
// out[j] = the sum of key j's 16 lanes (a[j * 16/W + h] holds lanes h*W..h*W+W-1), j < 16, by the
// tree every path uses: lane i plus lane i + 8, then the same at strides 4, 2 and 1.
inline void lane_sums16(const Vec* a, float* out) {
  for (int j = 0; j < 16; ++j) {
    float l[16];
    for (int h = 0; h < 16 / Vec::W; ++h) a[j * (16 / Vec::W) + h].store(l + h * Vec::W);
    for (int stride = 8; stride > 0; stride /= 2)
      for (int i = 0; i < stride; ++i) l[i] = l[i] + l[i + stride];
    out[j] = l[0];
  }
}
#endif

// 2^x for the x <= 0 of softmax (-inf, from masking, gives exactly 0): a degree-5 fit of 2^f on
// f in [-1/2, 1/2], times 2^round(x). One definition for every path, so the paths agree.
inline Vec vexp2(Vec x) {
  Vec xc = max(x, Vec::set1(Vec::kExpMin));
  if constexpr (Vec::kClampHigh) xc = min(xc, Vec::set1(Vec::kExpMax));
  const Vec r = Vec::round(xc);
  const Vec f = xc - r;
  Vec p = Vec::set1(kExp2C5);
  p = fused(p, f, Vec::set1(kExp2C4));
  p = fused(p, f, Vec::set1(kExp2C3));
  p = fused(p, f, Vec::set1(kExp2C2));
  p = fused(p, f, Vec::set1(kExp2C1));
  p = fused(p, f, Vec::set1(kExp2C0));
  return Vec::ldexp(p, r);
}
