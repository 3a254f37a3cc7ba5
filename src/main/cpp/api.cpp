// The C API of the CPU backend: argument checks (second line of defence after Java), workspace,
// instruction-set dispatch, and the conversion of C++ failures into status codes.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "fitprune.h"
#include "internal.h"
#include "workspace.h"

#ifndef FITPRUNE_VERSION
#define FITPRUNE_VERSION "dev"
#endif

namespace fp {

thread_local int tls_workers = 1;
static thread_local std::string tls_error;

int fail(int code, const char* fmt, ...) noexcept {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  try {
    tls_error = buf;
  } catch (...) {  // no memory for the message: keep the status
  }
  return code;
}

int check_spans(int64_t n, int64_t prefix, int64_t visual) noexcept {
  if (n < 0) return fail(FP_ERR_ARG, "n must be >= 0, got %lld", (long long)n);
  if (prefix < 0 || visual < 0 || prefix > n || visual > n || prefix > n - visual)
    return fail(FP_ERR_ARG, "spans must satisfy 0 <= prefix, 0 <= visual, prefix + visual <= n; got prefix=%lld visual=%lld n=%lld",
                (long long)prefix, (long long)visual, (long long)n);
  return FP_OK;
}

int check_select(int64_t n, int64_t prefix, int64_t visual, int64_t drop) noexcept {
  if (n < 0 || n > INT32_MAX) return fail(FP_ERR_ARG, "n must be in [0, 2^31), got %lld", (long long)n);
  if (int st = check_spans(n, prefix, visual)) return st;
  if (drop < 0 || drop > visual)
    return fail(FP_ERR_ARG, "drop must be in [0, visual=%lld], got %lld", (long long)visual, (long long)drop);
  return FP_OK;
}

// Packed-batch checks (internal.h): offsets, per-sequence spans (check_spans, named by sequence),
// decode caches.
int check_offsets(const char* name, const int64_t* cu, int64_t batch, int64_t min_len) {
  if (batch < 0 || batch > INT32_MAX)
    return fail(FP_ERR_ARG, "batch must be in [0, 2^31), got %lld", (long long)batch);
  if (!cu) return fail(FP_ERR_ARG, "null %s pointer", name);
  if (cu[0] != 0) return fail(FP_ERR_ARG, "%s[0] must be 0, got %lld", name, (long long)cu[0]);
  for (int64_t b = 0; b < batch; ++b) {
    // cu[b] is in [0, INT32_MAX] here, so the subtraction cannot overflow
    if (cu[b + 1] < cu[b] || cu[b + 1] - cu[b] < min_len || cu[b + 1] > INT32_MAX)
      return fail(FP_ERR_ARG, "%s must rise by >= %lld per sequence and stay <= 2^31-1; %s[%lld]=%lld, %s[%lld]=%lld",
                  name, (long long)min_len, name, (long long)b, (long long)cu[b], name, (long long)(b + 1),
                  (long long)cu[b + 1]);
  }
  return FP_OK;
}

int check_batch_spans(const int64_t* cu, int64_t batch, const int64_t* spans) {
  if (batch > 0 && !spans) return fail(FP_ERR_ARG, "null spans pointer");
  for (int64_t b = 0; b < batch; ++b)
    if (int st = check_spans(cu[b + 1] - cu[b], spans[2 * b], spans[2 * b + 1])) {
      char why[512];
      std::snprintf(why, sizeof why, "%s", tls_error.c_str());
      return fail(st, "sequence %lld: %s", (long long)b, why);
    }
  return FP_OK;
}

int check_decode_lengths(const int64_t* cu_q, int64_t batch, int64_t group, const int64_t* kv_len, int64_t* max_rows) {
  if (!kv_len) return fail(FP_ERR_ARG, "null kv_len array");
  *max_rows = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t qn = cu_q[b + 1] - cu_q[b];
    if (kv_len[b] < qn || kv_len[b] > INT32_MAX)
      return fail(FP_ERR_ARG, "sequence %lld: kv_len must be in [q_len=%lld, 2^31), got %lld", (long long)b,
                  (long long)qn, (long long)kv_len[b]);
    if (qn * group > *max_rows) *max_rows = qn * group;  // <= 2^31 * 2^31
  }
  return FP_OK;
}

int check_decode_caches(const int64_t* cu_q, int64_t batch, int64_t group, const void* const* k_cache,
                        const void* const* v_cache, const int64_t* kv_len, int64_t* max_rows) {
  if (!k_cache || !v_cache) return fail(FP_ERR_ARG, "null k_cache or v_cache array");
  for (int64_t b = 0; b < batch; ++b)
    if (!k_cache[b] || !v_cache[b]) return fail(FP_ERR_ARG, "sequence %lld: null cache pointer", (long long)b);
  return check_decode_lengths(cu_q, batch, group, kv_len, max_rows);
}

int check_softmax_scale(float softmax_scale) {
  if (!(softmax_scale > 0.f) || softmax_scale == __builtin_inff())
    return fail(FP_ERR_ARG, "softmax_scale must be finite and > 0, got %g", (double)softmax_scale);
  return FP_OK;
}

namespace {

bool isa_supported(int isa) {
  __builtin_cpu_init();
  switch (isa) {
    case FP_ISA_GENERIC: return true;
    case FP_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FP_ISA_AVX512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FP_ISA_AVX512_BF16: return isa_supported(FP_ISA_AVX512) && __builtin_cpu_supports("avx512bf16");
    default: return false;
  }
}

int best_isa() {
  if (isa_supported(FP_ISA_AVX512_BF16)) return FP_ISA_AVX512_BF16;
  if (isa_supported(FP_ISA_AVX512)) return FP_ISA_AVX512;
  if (isa_supported(FP_ISA_AVX2)) return FP_ISA_AVX2;
  return FP_ISA_GENERIC;
}

std::atomic<int> g_isa{best_isa()};

thread_local Workspace tls_workspace;
thread_local Workspace tls_plan;  // work tables of a batch, sized before the main workspace

int check_shape(const void* a, const void* b, const void* c, int64_t n, int32_t H, int32_t G, int32_t d) {
  if (n < 0) return fail(FP_ERR_ARG, "n must be >= 0, got %lld", (long long)n);
  if (H <= 0 || G <= 0 || d <= 0)
    return fail(FP_ERR_ARG, "heads, kv_heads and head_dim must be > 0, got H=%d G=%d d=%d", H, G, d);
  if (H % G != 0) return fail(FP_ERR_ARG, "heads (%d) must be a multiple of kv_heads (%d)", H, G);
  if (d > 1024) return fail(FP_ERR_ARG, "head_dim must be <= 1024, got %d", d);
  if (n > INT32_MAX) return fail(FP_ERR_ARG, "n must fit in int32, got %lld", (long long)n);
  if (n > 0 && (int64_t)H * d > (INT64_MAX / 8) / n)  // every size below is computed in int64
    return fail(FP_ERR_ARG, "n*heads*head_dim overflows: n=%lld H=%d d=%d", (long long)n, H, d);
  if (n > 0 && (!a || !b || !c)) return fail(FP_ERR_ARG, "null input pointer");
  return FP_OK;
}

#define FP_DISPATCH(fn, args)                          \
  switch (g_isa.load()) {                              \
    case FP_ISA_AVX512_BF16: avx512bf16::fn(args); break; \
    case FP_ISA_AVX512: avx512::fn(args); break;       \
    case FP_ISA_AVX2: avx2::fn(args); break;           \
    default: generic::fn(args); break;                 \
  }
#define FP_DISPATCH2(fn, a1, a2)                               \
  switch (g_isa.load()) {                                      \
    case FP_ISA_AVX512_BF16: avx512bf16::fn(a1, a2); break;    \
    case FP_ISA_AVX512: avx512::fn(a1, a2); break;             \
    case FP_ISA_AVX2: avx2::fn(a1, a2); break;                 \
    default: generic::fn(a1, a2); break;                       \
  }


int check_cpu_dtype(int32_t dtype) {
  if (dtype != FP_DTYPE_F32 && dtype != FP_DTYPE_BF16)
    return fail(FP_ERR_UNAVAILABLE, "the CPU kernels take FP_DTYPE_F32 (0) or FP_DTYPE_BF16 (2), got dtype %d", dtype);
  return FP_OK;
}

// The input type and the output type of an attention call: out is fp32 or the input's type.
int check_cpu_dtypes(int32_t dtype, int32_t out_dtype) {
  if (int st = check_cpu_dtype(dtype)) return st;
  if (out_dtype != FP_DTYPE_F32 && out_dtype != dtype)
    return fail(FP_ERR_ARG, "out_dtype must be FP_DTYPE_F32 or dtype (%d), got %d", dtype, out_dtype);
  return FP_OK;
}

// self = sum of the visual row blocks' partials / visual, cross = the text blocks' / text, each
// reduced in block order (so independent of threads and schedule).
void reduce_partials(const double* acc, int64_t n, int64_t prefix, int64_t visual, float* self_score,
                     float* cross_score) {
  const int64_t text_blocks = score_text_blocks(n, prefix, visual);
  const int64_t blocks = score_row_blocks(n, prefix, visual);
  const int64_t text = n - prefix - visual;
  for (int64_t j = 0; j < visual; ++j) {
    double s = 0.0, c = 0.0;
    for (int64_t b = 0; b < text_blocks; ++b) c += acc[b * visual + j];
    for (int64_t b = text_blocks; b < blocks; ++b) s += acc[b * visual + j];
    self_score[j] = (float)(s / (double)visual);
    cross_score[j] = text > 0 ? (float)(c / (double)text) : 0.f;
  }
}

// Scores recompute exp(logit - lse): an LSE of 2^24 or more (finite q and k whose products are
// huge) leaves nothing of the probabilities but rounding noise, so it is refused with its place.
int check_lse_resolution(const float* lse, int H, int64_t n) {
  const int64_t at = first_unresolved_lse(lse, (int64_t)H * n);
  if (at < 0) return FP_OK;
  return fail(FP_ERR_VALUE,
              "lse [H,n] is %g at [%lld, %lld] (head %lld, row %lld), beyond float32's resolution of attention "
              "probabilities (|lse| >= 2^24): q*k is too large",
              (double)lse[at], (long long)(at / n), (long long)(at % n), (long long)(at / n), (long long)(at % n));
}

// Scores of finite inputs and a finite LSE that still overflowed: named by tensor, sequence and
// visual token (self and cross are the sequences' visual tokens concatenated).
int check_scores(const int64_t* spans, int64_t batch, const float* self_score, const float* cross_score) {
  int64_t total = 0;
  for (int64_t b = 0; b < batch; ++b) total += spans[2 * b + 1];
  const float* t[2] = {self_score, cross_score};
  for (int w = 0; w < 2; ++w) {
    const int64_t at = first_nonfinite(t[w], total);
    if (at < 0) continue;
    int64_t seq = 0, first = 0;
    while (seq + 1 < batch && first + spans[2 * seq + 1] <= at) first += spans[2 * seq++ + 1];
    char where[128];
    snprintf(where, sizeof where, "[%lld] (sequence %lld, visual token %lld)", (long long)at, (long long)seq,
             (long long)(at - first));
    return output_error(w == 0 ? "self [V]" : "cross [V]", t[w][at], where);
  }
  return FP_OK;
}

// Workspace: packed K (and V for bf16) of every sequence in the input type, then each worker's
// fp32 scratch; with scores (spans given and some visual > 0), the fused score buffers after
// them: one FusedScores per sequence, the per-sequence head-max, locks and partials, and the
// workers' tiles. The batch's work table sits in its own buffer (tls_plan).
template <class T>
int run_attention(const T* q, const T* k, const T* v, const int64_t* cu, const int64_t* cu_k, int64_t batch, int H,
                  int G, int d, float softmax_scale, void* out, bool out_f32, float* lse,
                  const int64_t* spans = nullptr, float* self_score = nullptr, float* cross_score = nullptr) {
  SeqSlot* seqs = static_cast<SeqSlot*>(tls_plan.get(sizeof(SeqSlot) * (batch + 1)));
  const int64_t count = plan_attention(cu, batch, H, seqs, spans, cu_k);
  const int64_t n = cu[batch], nk = cu_k[batch], kblocks = (int64_t)G * seqs[count].kb0;  // packed key blocks
  const int workers = max_workers();
  int64_t head_max = 0, partial = 0, locks = 0, blocks = 0, max_ldm = 0;  // floats, doubles, ints, items
  for (int64_t i = 0; self_score && i < count; ++i) {
    const SeqSlot& s = seqs[i];
    if (s.visual == 0) continue;
    head_max += (s.len - s.prefix) * fused_ldm(s.visual);
    partial += score_row_blocks(s.len, s.prefix, s.visual) * s.visual;
    locks += ceil_div(s.len, kBlockQ);
    blocks += score_row_blocks(s.len, s.prefix, s.visual);
    max_ldm = max_ldm > fused_ldm(s.visual) ? max_ldm : fused_ldm(s.visual);
  }
  const bool fused = blocks > 0;
  auto round64 = [](int64_t bytes) { return (bytes + 63) / 64 * 64; };
  const int64_t pk = kblocks * kBlockK * pair_dim(d) * (int64_t)sizeof(T);
  const int64_t pv = sizeof(T) == 2 ? kblocks * kBlockK * vec_dim(d) * 2 : 0;
  const int64_t scratch = (int64_t)sizeof(float) * workers * attention_scratch_floats(d);
  const int64_t table = fused ? round64((int64_t)sizeof(FusedScores) * (count + 1)) : 0;
  const int64_t hm = round64((int64_t)sizeof(float) * head_max);
  const int64_t tiles = fused ? round64((int64_t)sizeof(float) * workers * kBlockQ * max_ldm) : 0;
  const int64_t pa = round64((int64_t)sizeof(double) * partial), lk = round64((int64_t)sizeof(int) * locks);
  const int64_t pf = round64((int64_t)sizeof(int) * kblocks);  // the blocks' packed flags
  char* ws = static_cast<char*>(tls_workspace.get(pk + pv + scratch + table + hm + tiles + pa + lk + pf));
  int* packed = reinterpret_cast<int*>(ws + pk + pv + scratch + table + hm + tiles + pa + lk);
  std::memset(packed, 0, sizeof(int) * kblocks);
  char* f0 = ws + pk + pv + scratch;
  FusedScores* f = reinterpret_cast<FusedScores*>(f0);
  if (fused) {
    float* hmp = reinterpret_cast<float*>(f0 + table);
    double* pp = reinterpret_cast<double*>(f0 + table + hm + tiles);
    int* lp = reinterpret_cast<int*>(f0 + table + hm + tiles + pa);
    std::fill(hmp, hmp + head_max, -INFINITY);
    std::memset(pp, 0, sizeof(double) * partial);
    std::memset(lp, 0, sizeof(int) * locks);
    int64_t block = 0;
    for (int64_t i = 0; i <= count; ++i) {
      const SeqSlot& s = seqs[i];
      const int64_t V = i < count ? s.visual : 0, ldm = fused_ldm(V);
      f[i] = FusedScores{s.prefix, V, s.len, ldm, hmp, reinterpret_cast<float*>(f0 + table + hm),
                         kBlockQ * max_ldm, lp, pp, block, s.out0};
      if (V == 0) continue;
      hmp += (s.len - s.prefix) * ldm;
      pp += score_row_blocks(s.len, s.prefix, V) * V;
      lp += ceil_div(s.len, kBlockQ);
      block += score_row_blocks(s.len, s.prefix, V);
    }
  }
  AttentionArgs<T> a{q, k, v, n, H, G, d, seqs, count, out, out_f32, lse, reinterpret_cast<T*>(ws),
                     reinterpret_cast<T*>(ws + pk), reinterpret_cast<float*>(ws + pk + pv), fused ? f : nullptr, packed,
                     log2_scale(softmax_scale, d)};
  tls_workers = workers;
  FP_DISPATCH(attention, a);
  // Non-finite values: a bad q row makes its LSE non-finite, a bad v reaches the output; NaN or
  // -Inf in k would only mask that key, so k is scanned. With finite inputs, q*k can still
  // overflow (LSE) and the p*v sums too (out): those are named by tensor, row and head. The scans
  // read k, lse and out once (out is q's size: about as much as the k scan at H = G).
  const int64_t qd = (int64_t)H * d, kd = (int64_t)G * d;
  const int64_t out_at = out_f32 ? first_nonfinite(static_cast<const float*>(out), n * qd)
                                 : first_nonfinite(static_cast<const T*>(out), n * qd);
  // (A cached prefix's rows that no query sees are scanned too: its k and v are reported as given.)
  if (first_nonfinite(k, nk * kd) >= 0 || first_nonfinite(lse, (int64_t)H * n) >= 0 || out_at >= 0) {
    const int64_t qs[3] = {n, H, d}, ks[3] = {nk, G, d};
    int64_t at;
    if ((at = first_nonfinite(q, n * qd)) >= 0) return nonfinite_error("q", q, at, "[n,H,d]", 3, qs);
    if ((at = first_nonfinite(k, nk * kd)) >= 0) return nonfinite_error("k", k, at, "[n,G,d]", 3, ks);
    if ((at = first_nonfinite(v, nk * kd)) >= 0) return nonfinite_error("v", v, at, "[n,G,d]", 3, ks);
    char where[160];
    if ((at = first_nonfinite(lse, (int64_t)H * n)) >= 0) {
      snprintf(where, sizeof where, "[%lld, %lld] (head %lld, row %lld)", (long long)(at / n), (long long)(at % n),
               (long long)(at / n), (long long)(at % n));
      return output_error("lse [H,n]", lse[at], where);
    }
    const int64_t row = out_at / qd, head = out_at % qd / d;
    snprintf(where, sizeof where, "[%lld, %lld, %lld] (row %lld, head %lld)", (long long)row, (long long)head,
             (long long)(out_at % d), (long long)row, (long long)head);
    const double v_at = out_f32 ? static_cast<const float*>(out)[out_at] : element_value(static_cast<const T*>(out)[out_at]);
    return output_error("out [n,H,d]", v_at, where);
  }
  // The fused scores come from these logits; past 2^24 a logit's rounding step is a whole unit.
  if (fused) {
    if (int st = check_lse_resolution(lse, H, n)) return st;
    FP_DISPATCH2(fused_score_sums, f, count);
    for (int64_t i = 0; i < count; ++i)  // each sequence's partial rows, in block order
      if (f[i].visual > 0)
        reduce_partials(f[i].partial, f[i].len, f[i].prefix, f[i].visual, self_score + f[i].out0,
                        cross_score + f[i].out0);
    return check_scores(spans, batch, self_score, cross_score);
  }
  return FP_OK;
}

template <class T>
int run_scores(const T* q, const T* k, const float* lse, const int64_t* cu, int64_t batch, int H, int G, int d,
               float softmax_scale, const int64_t* spans, int64_t max_visual, float* self_score, float* cross_score) {
  SeqSlot* seqs = static_cast<SeqSlot*>(tls_plan.get(sizeof(SeqSlot) * (batch + 1)));
  const int64_t count = plan_scores(cu, spans, batch, seqs);
  const int64_t n = cu[batch];
  const int workers = max_workers();
  const int64_t partial = (int64_t)sizeof(double) * seqs[count].partial0;
  const int64_t pk = ((int64_t)G * seqs[count].kb0 * kBlockK * pair_dim(d) * (int64_t)sizeof(T) + 63) / 64 * 64;
  const int64_t scratch = (int64_t)sizeof(float) * workers * scores_scratch_floats(d, max_visual);
  char* ws = static_cast<char*>(tls_workspace.get(partial + pk + scratch));
  // (After the workspace, so an impossible size fails before any input is read.)
  // Non-finite q or k shows in the LSE of attention (which refuses them); check it is that LSE.
  if (int64_t at = first_nonfinite(lse, (int64_t)H * n); at >= 0) {
    const int64_t ls[2] = {H, n};
    return nonfinite_error("lse", lse, at, "[H,n]", 2, ls);
  }
  if (int st = check_lse_resolution(lse, H, n)) return st;
  double* acc = reinterpret_cast<double*>(ws);
  std::memset(acc, 0, partial);
  ScoreArgs<T> a{q, k, lse, n, H, G, d, seqs, count, max_visual, reinterpret_cast<T*>(ws + partial),
                 reinterpret_cast<float*>(ws + partial + pk), acc, log2_scale(softmax_scale, d)};
  tls_workers = workers;
  FP_DISPATCH(scores, a);
  for (int64_t i = 0; i < count; ++i)  // each sequence's partial rows, in block order
    reduce_partials(acc + seqs[i].partial0, seqs[i].len, seqs[i].prefix, seqs[i].visual, self_score + seqs[i].out0,
                    cross_score + seqs[i].out0);
  return check_scores(spans, batch, self_score, cross_score);
}

// The checks shared by the packed attention calls, with or without scores.
int check_attention_varlen(const void* q, const void* k, const void* v, const int64_t* cu, int64_t batch, int32_t heads,
                           int32_t kv_heads, int32_t head_dim, int32_t dtype, const void* out, int32_t out_dtype,
                           const float* lse) {
  if (int st = check_offsets("cu_seqlens", cu, batch, 0)) return st;
  const int64_t n = cu[batch];
  if (int st = check_shape(q, k, v, n, heads, kv_heads, head_dim)) return st;
  if (int st = check_cpu_dtypes(dtype, out_dtype)) return st;
  if (n > 0 && (!out || !lse)) return fail(FP_ERR_ARG, "null output pointer");
  return FP_OK;
}

// run_attention on the element type of dtype (checked); scores when spans and self_score are given.
// cu_k: the keys of each sequence (a cached prefix), or cu itself.
int run_attention_of(int32_t dtype, const void* q, const void* k, const void* v, const int64_t* cu, const int64_t* cu_k,
                     int64_t batch, int H, int G, int d, float softmax_scale, void* out, int32_t out_dtype, float* lse,
                     const int64_t* spans = nullptr, float* self_score = nullptr, float* cross_score = nullptr) {
  if (dtype == FP_DTYPE_BF16)
    return run_attention(static_cast<const bf16*>(q), static_cast<const bf16*>(k), static_cast<const bf16*>(v), cu,
                         cu_k, batch, H, G, d, softmax_scale, out, out_dtype == FP_DTYPE_F32, lse, spans, self_score,
                         cross_score);
  return run_attention(static_cast<const float*>(q), static_cast<const float*>(k), static_cast<const float*>(v), cu,
                       cu_k, batch, H, G, d, softmax_scale, out, true, lse, spans, self_score, cross_score);
}

// Builds the work table, workspace and key splits of a decode call (arguments checked) and runs it.
// Paged caches: the pools and table of DecodeArgs; contiguous ones: their per-sequence pointers.
template <class T>
struct DecodeCaches {
  const T* const* k_cache;
  const T* const* v_cache;
  const T* k_pool;
  const T* v_pool;
  const int32_t* block_table;
  int64_t max_blocks, block_size;
};

template <class T>
int run_decode(const T* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads, int32_t head_dim,
               float softmax_scale, const DecodeCaches<T>& c, const int64_t* kv_len, int64_t max_rows, void* out,
               bool out_f32, float* lse) {
  int64_t* order = static_cast<int64_t*>(tls_plan.get(sizeof(int64_t) * batch));
  for (int64_t b = 0; b < batch; ++b) order[b] = b;
  std::stable_sort(order, order + batch, [&](int64_t x, int64_t y) {
    return kv_len[x] * (cu_q[x + 1] - cu_q[x]) > kv_len[y] * (cu_q[y + 1] - cu_q[y]);
  });
  const int workers = max_workers();
  constexpr int64_t kDecodeSplitKeys = 256;  // the fewest keys worth a split (each adds a merge)
  int64_t max_kv = 0, splits = 1;
  for (int64_t b = 0; b < batch; ++b) max_kv = kv_len[b] > max_kv ? kv_len[b] : max_kv;
  const int64_t pairs = batch * kv_heads;
  // A work item takes all of a sequence's kv groups (fewer where their rows would pass
  // kDecodeItemRows): it then reads whole cache rows, a few adjacent ones at a time, which the
  // hardware prefetchers follow, where one group's d elements of each row (256 bytes for d = 128
  // bf16, G*d apart) they follow poorly. Sequences too few for the workers are split along the
  // keys where their caches are long, in whole rounds (a split that leaves a worker idle for the
  // last round costs more than it gains); where that leaves a worker idle, items take fewer
  // groups (one 100-row sequence over 32 layers: 2.3 ms in one item, 1.6 in two; 300 rows: 4.1
  // ms in two splits, 4.7 in four items).
  constexpr int64_t kDecodeItemRows = 64;
  int groups = (int)std::max<int64_t>(1, std::min<int64_t>(kv_heads, kDecodeItemRows / max_rows));
  int64_t items = batch * ceil_div(kv_heads, groups);
  if (items < 2 * (int64_t)workers) {
    splits = std::max<int64_t>(1, std::min(ceil_div(2 * (int64_t)workers, items), ceil_div(max_kv, kDecodeSplitKeys)));
    if (items * splits > workers) splits = std::max<int64_t>(1, items * splits / workers * workers / items);
  }
  while (groups > 1 && items * splits < workers) {
    groups = (groups + 1) / 2;
    items = batch * ceil_div(kv_heads, groups);
  }
  const int64_t scratch = (int64_t)workers * groups * decode_scratch_floats(head_dim, max_rows);
  const int64_t partial = splits > 1 ? pairs * splits * max_rows * (head_dim + 2) : 0;  // splits <= 2 * workers
  float* ws = static_cast<float*>(tls_workspace.get(sizeof(float) * (scratch + partial)));
  DecodeArgs<T> a{q, cu_q, c.k_cache, c.v_cache, c.k_pool, c.v_pool, c.block_table, c.max_blocks, c.block_size,
                  log2_scale(softmax_scale, head_dim), kv_len, order, batch, cu_q[batch], heads, kv_heads, head_dim,
                  max_rows, out, out_f32, lse, ws, splits, ws + scratch, groups};
  tls_workers = workers;
  FP_DISPATCH(decode, a);
  return FP_OK;
}

// The checks and workspace bound shared by both cache layouts; *max_rows as check_decode_lengths.
int check_decode(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads, int32_t head_dim,
                 int32_t dtype, float softmax_scale, const int64_t* kv_len, const void* out, int32_t out_dtype,
                 int64_t* max_rows) {
  if (int st = check_offsets("cu_q", cu_q, batch, 1)) return st;
  const int64_t nq = cu_q[batch];
  if (int st = check_shape(q, q, q, nq, heads, kv_heads, head_dim)) return st;
  if (int st = check_cpu_dtypes(dtype, out_dtype)) return st;
  if (int st = check_softmax_scale(softmax_scale)) return st;
  if (nq > 0 && !out) return fail(FP_ERR_ARG, "null output pointer");
  if (int st = check_decode_lengths(cu_q, batch, heads / kv_heads, kv_len, max_rows)) return st;
  int64_t per_worker;  // decode_scratch_floats, which cannot overflow past this check
  if (__builtin_mul_overflow(*max_rows, 2 * (int64_t)head_dim + kBlockK + 17 + kDecodeDotPad, &per_worker) || per_worker > (INT64_MAX >> 12))
    return fail(FP_ERR_ARG, "too many new tokens per sequence for the decode workspace (%lld rows)", (long long)*max_rows);
  return FP_OK;
}

template <class T>
int run_decode_of(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads, int32_t head_dim,
                  float softmax_scale, const DecodeCaches<T>& c, const int64_t* kv_len, int64_t max_rows, void* out,
                  int32_t out_dtype, float* lse) {
  return run_decode(static_cast<const T*>(q), cu_q, batch, heads, kv_heads, head_dim, softmax_scale, c, kv_len,
                    max_rows, out, out_dtype == FP_DTYPE_F32, lse);
}

int decode_attention_impl(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                          int32_t head_dim, int32_t dtype, float softmax_scale, const void* const* k_cache,
                          const void* const* v_cache, const int64_t* kv_len, void* out, int32_t out_dtype, float* lse) {
  int64_t max_rows = 0;
  if (int st = check_decode(q, cu_q, batch, heads, kv_heads, head_dim, dtype, softmax_scale, kv_len, out, out_dtype,
                            &max_rows))
    return st;
  if (cu_q[batch] == 0) return FP_OK;
  if (int st = check_decode_caches(cu_q, batch, heads / kv_heads, k_cache, v_cache, kv_len, &max_rows)) return st;
  if (dtype == FP_DTYPE_BF16)
    return run_decode_of(q, cu_q, batch, heads, kv_heads, head_dim, softmax_scale,
                         DecodeCaches<bf16>{reinterpret_cast<const bf16* const*>(k_cache),
                                            reinterpret_cast<const bf16* const*>(v_cache), nullptr, nullptr, nullptr, 0, 0},
                         kv_len, max_rows, out, out_dtype, lse);
  return run_decode_of(q, cu_q, batch, heads, kv_heads, head_dim, softmax_scale,
                       DecodeCaches<float>{reinterpret_cast<const float* const*>(k_cache),
                                           reinterpret_cast<const float* const*>(v_cache), nullptr, nullptr, nullptr, 0, 0},
                       kv_len, max_rows, out, FP_DTYPE_F32, lse);
}

int paged_decode_attention_impl(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                                int32_t head_dim, int32_t dtype, float softmax_scale, const void* k_pool,
                                const void* v_pool, int64_t num_blocks, int32_t block_size, const int32_t* block_table,
                                int64_t max_blocks, const int64_t* kv_len, void* out, int32_t out_dtype, float* lse) {
  int64_t max_rows = 0;
  if (int st = check_decode(q, cu_q, batch, heads, kv_heads, head_dim, dtype, softmax_scale, kv_len, out, out_dtype,
                            &max_rows))
    return st;
  if (int st = check_paged(k_pool, v_pool, num_blocks, block_size, kv_heads, head_dim, fp_dtype_size(dtype),
                           block_table, max_blocks, batch, kv_len))
    return st;
  if (cu_q[batch] == 0) return FP_OK;
  if (dtype == FP_DTYPE_BF16)
    return run_decode_of(q, cu_q, batch, heads, kv_heads, head_dim, softmax_scale,
                         DecodeCaches<bf16>{nullptr, nullptr, static_cast<const bf16*>(k_pool),
                                            static_cast<const bf16*>(v_pool), block_table, max_blocks, block_size},
                         kv_len, max_rows, out, out_dtype, lse);
  return run_decode_of(q, cu_q, batch, heads, kv_heads, head_dim, softmax_scale,
                       DecodeCaches<float>{nullptr, nullptr, static_cast<const float*>(k_pool),
                                           static_cast<const float*>(v_pool), block_table, max_blocks, block_size},
                       kv_len, max_rows, out, FP_DTYPE_F32, lse);
}

}  // namespace
}  // namespace fp

using namespace fp;

extern "C" {

const char* fp_version(void) { return FITPRUNE_VERSION; }
const char* fp_last_error(void) { return tls_error.c_str(); }

int fp_dtype_size(int32_t dtype) {
  switch (dtype) {
    case FP_DTYPE_F32: return 4;
    case FP_DTYPE_F16: case FP_DTYPE_BF16: return 2;
    default: return 0;
  }
}

int fp_cpu_isa_supported(int isa) { return isa_supported(isa) ? 1 : 0; }
int fp_cpu_isa(void) { return g_isa.load(); }

int fp_cpu_set_isa(int isa) {
  if (isa == FP_ISA_AUTO) isa = best_isa();
  if (isa != FP_ISA_GENERIC && isa != FP_ISA_AVX2 && isa != FP_ISA_AVX512 && isa != FP_ISA_AVX512_BF16)
    return fail(FP_ERR_ARG, "unknown isa %d", isa);
  if (!isa_supported(isa)) return fail(FP_ERR_UNAVAILABLE, "this CPU cannot run isa %d", isa);
  g_isa.store(isa);
  return FP_OK;
}

const char* fp_cpu_features(void) {
  static const std::string features = [] {
    __builtin_cpu_init();
    std::string s;
    auto add = [&](bool on, const char* name) {
      if (on) s += s.empty() ? name : std::string(" ") + name;
    };
    add(__builtin_cpu_supports("sse4.2"), "sse4.2");
    add(__builtin_cpu_supports("avx"), "avx");
    add(__builtin_cpu_supports("avx2"), "avx2");
    add(__builtin_cpu_supports("fma"), "fma");
    add(__builtin_cpu_supports("avx512f"), "avx512f");
    add(__builtin_cpu_supports("avx512dq"), "avx512dq");
    add(__builtin_cpu_supports("avx512bw"), "avx512bw");
    add(__builtin_cpu_supports("avx512vl"), "avx512vl");
    add(__builtin_cpu_supports("avx512vnni"), "avx512vnni");
    add(__builtin_cpu_supports("avx512bf16"), "avx512bf16");
    return s;
  }();
  return features.c_str();
}

int fp_cpu_threads(void) { return max_workers(); }
int fp_cpu_set_threads(int threads) {
  return guarded([&]() -> int { return set_threads(threads) > 0 ? FP_OK : FP_ERR_ARG; });
}

int fp_cpu_attention(const void* q, const void* k, const void* v, int64_t n, int32_t heads,
                     int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale, void* out,
                     int32_t out_dtype, float* lse) {
  return guarded([&]() -> int {
    if (int st = check_shape(q, k, v, n, heads, kv_heads, head_dim)) return st;
    if (int st = check_cpu_dtypes(dtype, out_dtype)) return st;
    const int64_t cu[2] = {0, n};
    return fp_cpu_attention_varlen(q, k, v, cu, 1, heads, kv_heads, head_dim, dtype, softmax_scale, out, out_dtype,
                                   lse);
  });
}

int fp_cpu_attention_varlen(const void* q, const void* k, const void* v, const int64_t* cu_seqlens, int64_t batch,
                            int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale,
                            void* out, int32_t out_dtype, float* lse) {
  return guarded([&]() -> int {
    if (int st = check_attention_varlen(q, k, v, cu_seqlens, batch, heads, kv_heads, head_dim, dtype, out, out_dtype,
                                        lse))
      return st;
    if (int st = check_softmax_scale(softmax_scale)) return st;
    if (cu_seqlens[batch] == 0) return FP_OK;
    return run_attention_of(dtype, q, k, v, cu_seqlens, cu_seqlens, batch, heads, kv_heads, head_dim, softmax_scale,
                            out, out_dtype, lse);
  });
}

int fp_cpu_attention_varlen_kv(const void* q, const void* k, const void* v, const int64_t* cu_seqlens_q,
                               const int64_t* cu_seqlens_k, int64_t batch, int32_t heads, int32_t kv_heads,
                               int32_t head_dim, int32_t dtype, float softmax_scale, void* out, int32_t out_dtype,
                               float* lse) {
  return guarded([&]() -> int {
    if (int st = check_attention_varlen(q, q, q, cu_seqlens_q, batch, heads, kv_heads, head_dim, dtype, out, out_dtype,
                                        lse))
      return st;
    if (int st = check_offsets("cu_seqlens_k", cu_seqlens_k, batch, 0)) return st;
    if (int st = check_shape(k, k, v, cu_seqlens_k[batch], heads, kv_heads, head_dim)) return st;
    for (int64_t b = 0; b < batch; ++b)
      if (cu_seqlens_k[b + 1] - cu_seqlens_k[b] < cu_seqlens_q[b + 1] - cu_seqlens_q[b])
        return fail(FP_ERR_ARG, "sequence %lld: %lld keys for %lld queries (the keys end with the queries' own)",
                    (long long)b, (long long)(cu_seqlens_k[b + 1] - cu_seqlens_k[b]),
                    (long long)(cu_seqlens_q[b + 1] - cu_seqlens_q[b]));
    if (int st = check_softmax_scale(softmax_scale)) return st;
    if (cu_seqlens_q[batch] == 0) return FP_OK;
    return run_attention_of(dtype, q, k, v, cu_seqlens_q, cu_seqlens_k, batch, heads, kv_heads, head_dim,
                            softmax_scale, out, out_dtype, lse);
  });
}

int fp_cpu_attention_scores(const void* q, const void* k, const void* v, int64_t n, int32_t heads,
                            int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale, void* out,
                            int32_t out_dtype, float* lse, int64_t prefix, int64_t visual, float* self_score,
                            float* cross_score) {
  return guarded([&]() -> int {  // the varlen call checks the rest
    if (int st = check_shape(q, k, v, n, heads, kv_heads, head_dim)) return st;
    if (int st = check_spans(n, prefix, visual)) return st;
    const int64_t cu[2] = {0, n}, spans[2] = {prefix, visual};
    return fp_cpu_attention_scores_varlen(q, k, v, cu, 1, heads, kv_heads, head_dim, dtype, softmax_scale, out,
                                          out_dtype, lse, spans, self_score, cross_score);
  });
}

int fp_cpu_attention_scores_varlen(const void* q, const void* k, const void* v, const int64_t* cu_seqlens,
                                   int64_t batch, int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype,
                                   float softmax_scale, void* out, int32_t out_dtype, float* lse,
                                   const int64_t* spans, float* self_score, float* cross_score) {
  return guarded([&]() -> int {
    if (int st = check_attention_varlen(q, k, v, cu_seqlens, batch, heads, kv_heads, head_dim, dtype, out, out_dtype,
                                        lse))
      return st;
    if (int st = check_softmax_scale(softmax_scale)) return st;
    if (int st = check_batch_spans(cu_seqlens, batch, spans)) return st;
    const int64_t n = cu_seqlens[batch];
    double head_max = 0;  // bytes of the fused head-max buffers (double: cannot overflow)
    int64_t total_visual = 0;
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t len = cu_seqlens[b + 1] - cu_seqlens[b], P = spans[2 * b], V = spans[2 * b + 1];
      total_visual += V;
      if (V > 0) head_max += (double)(len - P) * (double)fused_ldm(V) * sizeof(float);
    }
    if (total_visual > 0 && (!self_score || !cross_score)) return fail(FP_ERR_ARG, "null score pointer");
    if (n == 0) return FP_OK;
    // The fused pass keeps a head-max of (len - prefix) x visual floats per sequence; past 256 MiB
    // for the batch (very long sequences with many visual tokens) the two separate passes, whose
    // buffers are per worker, are the better trade.
    if (head_max > 256.0 * (1 << 20)) {
      if (int st = fp_cpu_attention_varlen(q, k, v, cu_seqlens, batch, heads, kv_heads, head_dim, dtype, softmax_scale,
                                           out, out_dtype, lse))
        return st;
      return fp_cpu_scores_varlen(q, k, lse, cu_seqlens, batch, heads, kv_heads, head_dim, dtype, softmax_scale, spans,
                                  self_score, cross_score);
    }
    return run_attention_of(dtype, q, k, v, cu_seqlens, cu_seqlens, batch, heads, kv_heads, head_dim, softmax_scale,
                            out, out_dtype, lse, spans, total_visual > 0 ? self_score : nullptr, cross_score);
  });
}

int fp_cpu_attention_f32(const float* q, const float* k, const float* v, int64_t n, int32_t heads,
                         int32_t kv_heads, int32_t head_dim, float* out, float* lse) {
  return fp_cpu_attention(q, k, v, n, heads, kv_heads, head_dim, FP_DTYPE_F32, default_softmax_scale(head_dim), out,
                          FP_DTYPE_F32, lse);
}

int fp_cpu_scores(const void* q, const void* k, const float* lse, int64_t n, int32_t heads,
                  int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale, int64_t prefix,
                  int64_t visual, float* self_score, float* cross_score) {
  return guarded([&]() -> int {
    if (int st = check_shape(q, k, lse, n, heads, kv_heads, head_dim)) return st;
    if (int st = check_cpu_dtype(dtype)) return st;
    if (int st = check_spans(n, prefix, visual)) return st;
    const int64_t cu[2] = {0, n}, spans[2] = {prefix, visual};
    return fp_cpu_scores_varlen(q, k, lse, cu, 1, heads, kv_heads, head_dim, dtype, softmax_scale, spans, self_score,
                                cross_score);
  });
}

int fp_cpu_scores_varlen(const void* q, const void* k, const float* lse, const int64_t* cu_seqlens, int64_t batch,
                         int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale,
                         const int64_t* spans, float* self_score, float* cross_score) {
  return guarded([&]() -> int {
    if (int st = check_offsets("cu_seqlens", cu_seqlens, batch, 0)) return st;
    const int64_t n = cu_seqlens[batch];
    if (int st = check_shape(q, k, lse, n, heads, kv_heads, head_dim)) return st;
    if (int st = check_cpu_dtype(dtype)) return st;
    if (int st = check_softmax_scale(softmax_scale)) return st;
    if (int st = check_batch_spans(cu_seqlens, batch, spans)) return st;
    int64_t total_visual = 0, max_visual = 0;
    for (int64_t b = 0; b < batch; ++b) {
      total_visual += spans[2 * b + 1];
      if (spans[2 * b + 1] > max_visual) max_visual = spans[2 * b + 1];
    }
    if (total_visual == 0) return FP_OK;
    if (!self_score || !cross_score) return fail(FP_ERR_ARG, "null output pointer");
    return dtype == FP_DTYPE_BF16
               ? run_scores(static_cast<const bf16*>(q), static_cast<const bf16*>(k), lse, cu_seqlens, batch, heads,
                            kv_heads, head_dim, softmax_scale, spans, max_visual, self_score, cross_score)
               : run_scores(static_cast<const float*>(q), static_cast<const float*>(k), lse, cu_seqlens, batch,
                            heads, kv_heads, head_dim, softmax_scale, spans, max_visual, self_score, cross_score);
  });
}

int fp_cpu_scores_f32(const float* q, const float* k, const float* lse, int64_t n, int32_t heads,
                      int32_t kv_heads, int32_t head_dim, int64_t prefix, int64_t visual,
                      float* self_score, float* cross_score) {
  return fp_cpu_scores(q, k, lse, n, heads, kv_heads, head_dim, FP_DTYPE_F32, default_softmax_scale(head_dim), prefix,
                       visual, self_score, cross_score);
}

static int select_keep_varlen_impl(const float* self_score, const float* cross_score, const int64_t* cu_seqlens,
                          int64_t batch, const int64_t* spans, const int64_t* drop, int32_t* keep) {
  if (int st = check_offsets("cu_seqlens", cu_seqlens, batch, 0)) return st;
  if (int st = check_batch_spans(cu_seqlens, batch, spans)) return st;
  if (batch > 0 && !drop) return fail(FP_ERR_ARG, "null drop pointer");
  for (int64_t b = 0; b < batch; ++b)
    if (drop[b] < 0 || drop[b] > spans[2 * b + 1])
      return fail(FP_ERR_ARG, "sequence %lld: drop must be in [0, visual=%lld], got %lld", (long long)b,
                  (long long)spans[2 * b + 1], (long long)drop[b]);
  int64_t score0 = 0, keep0 = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t start = cu_seqlens[b], len = cu_seqlens[b + 1] - start, V = spans[2 * b + 1];
    const bool any = V > 0;
    int32_t* kb = len - drop[b] > 0 ? (keep ? keep + keep0 : nullptr) : nullptr;
    if (int st = fp_select_keep(any ? self_score + score0 : nullptr, any ? cross_score + score0 : nullptr, len,
                                spans[2 * b], V, drop[b], kb)) {
      const std::string why = fp_last_error();
      return fail(st, "sequence %lld: %s", (long long)b, why.c_str());
    }
    for (int64_t r = 0; r < len - drop[b]; ++r) kb[r] += (int32_t)start;  // global rows, still ascending
    score0 += V;
    keep0 += len - drop[b];
  }
  return FP_OK;
}

int fp_select_keep_varlen(const float* self_score, const float* cross_score, const int64_t* cu_seqlens,
                          int64_t batch, const int64_t* spans, const int64_t* drop, int32_t* keep) {
  return guarded([&]() -> int { return select_keep_varlen_impl(self_score, cross_score, cu_seqlens, batch, spans, drop, keep); });
}

int fp_cpu_decode_attention(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                            int32_t head_dim, int32_t dtype, float softmax_scale, const void* const* k_cache,
                            const void* const* v_cache, const int64_t* kv_len, void* out, int32_t out_dtype, float* lse) {
  return guarded([&]() -> int {
    return decode_attention_impl(q, cu_q, batch, heads, kv_heads, head_dim, dtype, softmax_scale, k_cache, v_cache,
                                 kv_len, out, out_dtype, lse);
  });
}

int fp_cpu_paged_decode_attention(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                                  int32_t head_dim, int32_t dtype, float softmax_scale, const void* k_pool,
                                  const void* v_pool, int64_t num_blocks, int32_t block_size,
                                  const int32_t* block_table, int64_t max_blocks, const int64_t* kv_len, void* out,
                                  int32_t out_dtype, float* lse) {
  return guarded([&]() -> int {
    return paged_decode_attention_impl(q, cu_q, batch, heads, kv_heads, head_dim, dtype, softmax_scale, k_pool,
                                       v_pool, num_blocks, block_size, block_table, max_blocks, kv_len, out,
                                       out_dtype, lse);
  });
}

int fp_cpu_decode_attention_f32(const float* q, const int64_t* cu_q, int64_t batch, int32_t heads,
                                int32_t kv_heads, int32_t head_dim, const float* const* k_cache,
                                const float* const* v_cache, const int64_t* kv_len, float* out, float* lse) {
  return fp_cpu_decode_attention(q, cu_q, batch, heads, kv_heads, head_dim, FP_DTYPE_F32,
                                 default_softmax_scale(head_dim),
                                 reinterpret_cast<const void* const*>(k_cache),
                                 reinterpret_cast<const void* const*>(v_cache), kv_len, out, FP_DTYPE_F32, lse);
}

}  // extern "C"
