// Shared by the native sources only; not part of the C API.
#pragma once

#include <cstdint>

namespace fp {

// Sets this thread's error message (printf-style) and returns the code, so callers can write
// `return fail(FP_ERR_ARG, "...")`.
int fail(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

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
