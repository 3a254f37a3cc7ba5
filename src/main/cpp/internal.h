// Shared by the native sources only; not part of the C API.
#pragma once

#include <cstdint>
#include <exception>
#include <new>

#include "fitprune.h"

namespace fp {

// Sets this thread's error message (printf-style) and returns the code, so callers can write
// `return fail(FP_ERR_ARG, "...")`. Never throws.
int fail(int code, const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

// The body of every exported function runs inside this: no C++ exception (bad_alloc,
// bad_array_new_length, ...) crosses the C API; each becomes a status and a message.
template <class F>
int guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {  // includes std::bad_array_new_length
    return fail(FP_ERR_NOMEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(FP_ERR_INTERNAL, "internal error: %s", e.what());
  } catch (...) {
    return fail(FP_ERR_INTERNAL, "internal error");
  }
}

// The span checks of the score pass and of selection, for every backend: 0 <= prefix,
// 0 <= visual and prefix + visual <= n, each term compared with n before the sum so nothing
// overflows; select also needs n < 2^31 and 0 <= drop <= visual. FP_OK or FP_ERR_ARG.
int check_spans(int64_t n, int64_t prefix, int64_t visual) noexcept;
int check_select(int64_t n, int64_t prefix, int64_t visual, int64_t drop) noexcept;


// Runs fn(ctx, item, worker) for item in [0, count) on the shared pool. Items are handed out
// dynamically, in order, so put the most expensive first. `worker` is below `workers`, the
// count the caller sized its scratch for (max_workers() when it allocated). If the pool is busy
// with another caller's job, the loop runs on the calling thread as worker 0.
typedef void (*ItemFn)(void* ctx, int64_t item, int worker);
void parallel_for(int64_t count, ItemFn fn, void* ctx, int workers);
int max_workers();
int set_threads(int n);

// The worker count of the kernel call running on this thread (set by the API entry points).
extern thread_local int tls_workers;

template <class F>
inline void parallel_items(int64_t count, F& f) {
  parallel_for(count, [](void* c, int64_t i, int w) { (*static_cast<F*>(c))(i, w); }, &f, tls_workers);
}

// Tile sizes shared by every ISA path (so buffers are sized in one place).
constexpr int kBlockQ = 32;  // query rows per tile
constexpr int kBlockK = 64;  // keys per tile

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// bf16 as its bit pattern: the kernels only move it, convert it and feed it to dot products.
typedef uint16_t bf16;

// Index of the first NaN or infinity in x[0, count), or -1. Large arrays are scanned on the pool.
int64_t first_nonfinite(const float* x, int64_t count);
int64_t first_nonfinite(const bf16* x, int64_t count);
// FP_ERR_VALUE with "<tensor> <dims> is not finite at [i, j(, k)] (value)" for element `index` of
// a row-major array of `rank` (2 or 3) dimensions.
int nonfinite_error(const char* tensor, const float* x, int64_t index, const char* dims, int rank, const int64_t* shape);
int nonfinite_error(const char* tensor, const bf16* x, int64_t index, const char* dims, int rank, const int64_t* shape);

// Head dims as the bf16 packs pad them: q/k to an even count (the dot products take pairs), and
// v columns (and the fp32 output tile) to whole 16-lane vectors. Zero padding changes no result.
inline int pair_dim(int d) { return (d + 1) / 2 * 2; }
inline int vec_dim(int d) { return (d + 15) / 16 * 16; }

// K packed per (group, key block): fp32 as [d][kBlockK], bf16 as [d/2][kBlockK][2], zero-padded;
// V (bf16 only) as [kBlockK/2][vec_dim(d)][2]. Counts are in elements of the input type.
inline int64_t packed_k_elems(int64_t keys, int G, int d) {
  return (int64_t)G * ceil_div(keys, kBlockK) * kBlockK * pair_dim(d);
}
inline int64_t packed_v_elems(int64_t keys, int G, int d) {
  return (int64_t)G * ceil_div(keys, kBlockK) * kBlockK * vec_dim(d);
}
// Per worker: q tile, output tile, logits, probabilities (fp32 or bf16), row max, and row sums
// kept per vector lane (up to 16) until the end.
inline int64_t attention_scratch_floats(int d) {
  return (int64_t)kBlockQ * vec_dim(d) * 2 + (int64_t)kBlockQ * kBlockK * 2 + 17 * kBlockQ + 64;
}
inline int64_t scores_scratch_floats(int d, int64_t visual) {
  return (int64_t)kBlockQ * vec_dim(d) + (int64_t)kBlockQ * kBlockK +
         (int64_t)kBlockQ * ceil_div(visual, kBlockK) * kBlockK + kBlockQ + 64;
}

// The score pass fused into attention (fp_cpu_attention_scores): each attention item keeps its
// query tile's logits against the visual keys, and once its rows' LSE is known folds
// (logit - LSE) into the head-max of those rows; fused_score_sums then takes one exp per
// (row, visual key) and the column sums. The logits are the attention's own, so the score pass
// costs no second q*k^T.
struct FusedScores {
  int64_t prefix, visual;
  int64_t ldm;        // row stride of head_max and of the tiles: visual rounded up to 16
  float* head_max;    // [n - prefix][ldm], -inf filled: max over heads of base-2 logit - LSE
  float* tiles;       // max_workers() * kBlockQ * ldm: each worker's logits of its query tile
  int* locks;         // one per query block of attention, zeroed: guards its head_max rows
  double* partial;    // score_row_blocks(...) * visual: one row per query-row block
};
inline int64_t fused_ldm(int64_t visual) { return (visual + 15) / 16 * 16; }

// T is the element type of q, k, v (float or bf16); accumulation, softmax and LSE are fp32.
template <class T>
struct AttentionArgs {
  const T *q, *k, *v;
  int64_t n;
  int H, G, d;
  void* out;         // [n,H,d] of T, or of float when out_f32
  bool out_f32;
  float* lse;
  T* packed_k;       // packed_k_elems(n, G, d)
  T* packed_v;       // packed_v_elems(n, G, d) for bf16; unused for fp32
  float* scratch;    // max_workers() * attention_scratch_floats(d)
  const FusedScores* fused;  // null: attention only
};

template <class T>
struct ScoreArgs {
  const T *q, *k;
  const float* lse;
  int64_t n;
  int H, G, d;
  int64_t prefix, visual;
  T* packed_k;       // packed_k_elems(visual, G, d)
  float* scratch;    // max_workers() * scores_scratch_floats(d, visual)
  double* partial;   // score_row_blocks(...) * visual, zeroed: one row per query-row block
};

// Query-row blocks of the score pass: text blocks first, then visual blocks. Each block sums its
// rows into its own partial row, and the partials are reduced in block order, so the scores are
// bit-identical whatever the number of threads or the schedule.
inline int64_t score_text_blocks(int64_t n, int64_t prefix, int64_t visual) {
  return ceil_div(n - prefix - visual, kBlockQ);
}
inline int64_t score_row_blocks(int64_t n, int64_t prefix, int64_t visual) {
  return score_text_blocks(n, prefix, visual) + ceil_div(visual, kBlockQ);
}

// One set per instruction-set path, each compiled with its own flags (kernels_<isa>.cpp);
// avx512bf16 is the avx512 path with vdpbf16ps for the bf16 dot products.
#define FP_DECLARE_ISA(ns)                        \
  namespace ns {                                  \
  void attention(const AttentionArgs<float>& a);  \
  void attention(const AttentionArgs<bf16>& a);   \
  void scores(const ScoreArgs<float>& a);         \
  void scores(const ScoreArgs<bf16>& a);          \
  void fused_score_sums(const FusedScores& f, int64_t n); \
  }
FP_DECLARE_ISA(generic)
FP_DECLARE_ISA(avx2)
FP_DECLARE_ISA(avx512)
FP_DECLARE_ISA(avx512bf16)
#undef FP_DECLARE_ISA

}  // namespace fp
