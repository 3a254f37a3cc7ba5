// Shared by the native sources only; not part of the C API.
#pragma once

#include <sched.h>

#include <cstdint>
#include <cstring>
#include <exception>
#include <new>

#include "fitprune.h"

namespace fp {

// One step of a short busy wait on another worker (a packing flag, a fold lock): pause, and after
// a while give the core away, so a worker the OS preempted (more threads than cores, a CPU quota)
// gets it back sooner instead of watching the others spin.
inline void spin_pause(unsigned& spins) {
  if (++spins < 1024)
    __builtin_ia32_pause();
  else
    sched_yield();
}

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
// An element's value for a message (out of line, so no copy built with an ISA's flags serves another path).
double element_value(float x);
double element_value(bf16 x);

// Index of the first LSE whose magnitude is 2^24 or more (or not finite), or -1: there a float32
// logit's rounding step is a whole unit, so recomputed probabilities exp(s - lse) are noise.
int64_t first_unresolved_lse(const float* lse, int64_t count);
// FP_ERR_VALUE for an output that overflowed from finite inputs: "<tensor> is not finite at <where> ...".
int output_error(const char* tensor, double v, const char* where);

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
// Per worker: q tile, output tile, logits, probabilities (fp32 or bf16), row max, row sums
// kept per vector lane (up to 16) until the end, and the rows' rescale factors.
inline int64_t attention_scratch_floats(int d) {
  return (int64_t)kBlockQ * vec_dim(d) * 2 + (int64_t)kBlockQ * kBlockK * 2 + 18 * kBlockQ + 64;
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
// One entry per sequence of a packed batch, in plan_attention's slot order, plus a sentinel whose
// block0 is the number of score row blocks of the whole batch.
struct FusedScores {
  int64_t prefix, visual, len;  // the sequence's spans and length
  int64_t ldm;        // row stride of head_max and of the tiles: visual rounded up to 16
  float* head_max;    // [len - prefix][ldm], -inf filled: max over heads of base-2 logit - LSE
  float* tiles;       // shared by the batch: max_workers() tiles of tile_floats each
  int64_t tile_floats;  // kBlockQ * the batch's largest ldm
  int* locks;         // one per query block of attention, zeroed: guards its head_max rows
  double* partial;    // score_row_blocks(...) * visual: one row per query-row block
  int64_t block0;     // the sequence's first item of fused_score_sums
  int64_t out0;       // its first self/cross entry (sequence order)
};
inline int64_t fused_ldm(int64_t visual) { return (visual + 15) / 16 * 16; }

// Query-row blocks of the score pass: text blocks first, then visual blocks. Each block sums its
// rows into its own partial row, and the partials are reduced in block order, so the scores are
// bit-identical whatever the number of threads or the schedule.
inline int64_t score_text_blocks(int64_t n, int64_t prefix, int64_t visual) {
  return ceil_div(n - prefix - visual, kBlockQ);
}
inline int64_t score_row_blocks(int64_t n, int64_t prefix, int64_t visual) {
  return score_text_blocks(n, prefix, visual) + ceil_div(visual, kBlockQ);
}

// One sequence of a packed batch as the kernels schedule it. The API builds a table of the
// non-empty sequences, heaviest first (the pool hands items out in order), followed by a sentinel
// entry holding the totals; a single sequence is a table of one.
struct SeqSlot {
  int64_t start, len;      // rows [start, start+len) of the packed batch
  int64_t key0, keys;      // rows whose K is packed: the sequence (attention) or its visual span (scores)
  int64_t prefix, visual;  // score pass: the spans within the sequence
  int64_t item0;           // first work item of this sequence
  int64_t kb0;             // first packed K block per group: block (g, kb) is G*kb0 + g*ceil(keys/BK) + kb
  int64_t partial0;        // score pass: first partial double
  int64_t out0;            // score pass: first self/cross entry (the concatenation is in sequence order)
};

// The slot whose range [slot[i].*field, slot[i+1].*field) holds `value` (binary search over the
// ascending field; the sentinel at [count] bounds the last range).
inline int64_t slot_of(const SeqSlot* slot, int64_t count, int64_t SeqSlot::*field, int64_t value) {
  int64_t lo = 0, hi = count - 1;
  while (lo < hi) {
    const int64_t mid = (lo + hi + 1) / 2;
    if (slot[mid].*field <= value) lo = mid; else hi = mid - 1;
  }
  return lo;
}

// Checks of packed-batch arguments, shared by the CPU and CUDA entry points. cu [batch+1]: starts
// at 0, never decreases, rises by >= min_len per sequence (0, or 1 for decode), ends <= INT32_MAX;
// `name` names it in the message. spans [batch,2]: (prefix, visual) within each sequence of cu.
int check_offsets(const char* name, const int64_t* cu, int64_t batch, int64_t min_len);
int check_batch_spans(const int64_t* cu, int64_t batch, const int64_t* spans);
// Decode caches for new tokens cu_q: kv_len[b] in [q_len_b, 2^31) and both cache pointers set;
// *max_rows receives the largest q_len_b * group.
int check_decode_lengths(const int64_t* cu_q, int64_t batch, int64_t group, const int64_t* kv_len, int64_t* max_rows);
int check_decode_caches(const int64_t* cu_q, int64_t batch, int64_t group, const void* const* k_cache,
                        const void* const* v_cache, const int64_t* kv_len, int64_t* max_rows);

// softmax_scale must be finite and > 0 (FP_ERR_ARG otherwise).
int check_softmax_scale(float softmax_scale);
// The usual softmax_scale, 1/sqrt(d) in float (1 for a head_dim the shape checks will refuse).
inline float default_softmax_scale(int d) { return d > 0 ? 1.f / __builtin_sqrtf((float)d) : 1.f; }
// softmax_scale in base 2, as the kernels keep their logits. The default 1/sqrt(d) gives the
// factor log2(e)/sqrt(d) bit for bit that the kernels used before the scale was an argument.
inline float log2_scale(float softmax_scale, int d) {
  const float log2e = 1.4426950408889634f, r = __builtin_sqrtf((float)d);
  return softmax_scale == 1.f / r ? log2e / r : log2e * softmax_scale;
}
// A paged K/V pool [num_blocks, block_size, G, d] and block table [batch, max_blocks] for caches
// of kv_len[b] rows: sizes in range and every table entry a sequence uses in [0, num_blocks)
// (FP_ERR_INDEX naming the sequence and position); the pool's size in bytes fits in int64.
int check_paged(const void* k_pool, const void* v_pool, int64_t num_blocks, int32_t block_size, int32_t kv_heads,
                int32_t head_dim, int32_t elem_bytes, const int32_t* block_table, int64_t max_blocks, int64_t batch,
                const int64_t* kv_len);

// The host-side checks of a K/V append, shared by the CPU and CUDA backends: into contiguous caches
// (each sequence's kv_len plus its new rows within its capacity) or into a paged pool (every
// slot below num_blocks * block_size; negative slots are padding). Set *row to the bytes of one
// [G, d] row.
int check_append(const void* k_new, const void* v_new, const int64_t* cu_q, int64_t batch, int32_t kv_heads,
                 int32_t head_dim, int32_t dtype, void* const* k_cache, void* const* v_cache, const int64_t* capacity,
                 const int64_t* kv_len, int64_t* row);
int check_append_paged(const void* k_new, const void* v_new, int64_t n, int32_t kv_heads, int32_t head_dim,
                       int32_t dtype, const void* k_pool, const void* v_pool, int64_t num_blocks, int32_t block_size,
                       const int64_t* slot_mapping, int64_t* row);

// Tables for cu_seqlens [batch+1] (already validated): slots for `count` <= batch sequences plus
// the sentinel, written to `slot` (room for batch+1). Return the number of non-empty sequences.
// With spans [batch,2], plan_attention also fills each slot's prefix, visual and out0 (fused scores).
// With cu_k (a cached prefix: sequence b's keys are rows [cu_k[b], cu_k[b+1]) of k, at least as many
// as its queries), each slot's key0 and keys are those rows.
int64_t plan_attention(const int64_t* cu, int64_t batch, int heads, SeqSlot* slot, const int64_t* spans = nullptr,
                       const int64_t* cu_k = nullptr);
int64_t plan_scores(const int64_t* cu, const int64_t* spans, int64_t batch, SeqSlot* slot);

// T is the element type of q, k, v (float or bf16); accumulation, softmax and LSE are fp32.
template <class T>
struct AttentionArgs {
  const T *q, *k, *v;
  int64_t n;         // rows of the packed batch (the LSE row stride)
  int H, G, d;
  const SeqSlot* seqs;  // plan_attention
  int64_t count;
  void* out;         // [n,H,d] of T, or of float when out_f32
  bool out_f32;
  float* lse;
  T* packed_k;       // packed_k_elems over the sequences' key blocks
  T* packed_v;       // packed_v_elems likewise for bf16; unused for fp32
  float* scratch;    // max_workers() * attention_scratch_floats(d)
  const FusedScores* fused;  // null: attention only; else one per slot of seqs (and the sentinel)
  int* packed;       // one flag per packed key block, zeroed: 0 not packed, 1 being packed, 2 packed
  float qscale;      // softmax_scale * log2(e) (log2_scale)
};

template <class T>
struct ScoreArgs {
  const T *q, *k;
  const float* lse;
  int64_t n;
  int H, G, d;
  const SeqSlot* seqs;  // plan_scores: only sequences with visual > 0
  int64_t count;
  int64_t max_visual;
  T* packed_k;       // packed K of every visual span
  float* scratch;    // max_workers() * scores_scratch_floats(d, max_visual)
  double* partial;   // one row of `visual` doubles per query-row block, zeroed
  float qscale;      // softmax_scale * log2(e) (log2_scale), the attention's that produced lse
};

// Decode: for each sequence b, q_len = cu_q[b+1] - cu_q[b] new tokens (rows of q) whose K/V are
// already the last q_len of the kv_len[b] valid rows of that sequence's cache; new token t sees
// cache rows [0, kv_len[b] - q_len + t]. T is the element type of q and the caches (float or bf16).
// Paged caches instead: row j of sequence b is row j % block_size of block
// block_table[b * max_blocks + j / block_size] of the pools [blocks, block_size, G, d].
template <class T>
struct DecodeArgs {
  const T* q;  // [Nq,H,d]
  const int64_t* cu_q;
  const T* const* k_cache;  // per sequence [cap_b,G,d]; unused when block_table is set
  const T* const* v_cache;
  const T* k_pool;          // paged: [blocks, block_size, G, d]
  const T* v_pool;
  const int32_t* block_table;  // paged: [batch, max_blocks]; null for contiguous caches
  int64_t max_blocks, block_size;
  float qscale;             // softmax_scale * log2(e): the logits are kept in base 2
  const int64_t* kv_len;
  const int64_t* order;  // sequences, heaviest first
  int64_t batch, nq;
  int H, G, d;
  int64_t max_rows;  // max over sequences of q_len * H/G
  void* out;         // [Nq,H,d] of T, or of float when out_f32
  bool out_f32;
  float* lse;        // [H,Nq] (may be null)
  float* scratch;    // max_workers() * groups * decode_scratch_floats(d, max_rows)
  int64_t splits;    // key splits per (sequence, kv group), >= 1
  float* partial;    // splits > 1: batch * G * splits * max_rows * (d + 2)
  int groups;        // adjacent kv groups per work item, >= 1
};
constexpr int kDecodeDotPad = 32;  // decode q rows are zero-padded to a multiple of this many elements
// Per kv group of a work item: q rows (padded, counted in floats, enough for either type),
// output rows, logits, max and 16 lane sums per row; a row of zeros.
inline int64_t decode_scratch_floats(int d, int64_t rows) {
  const int64_t qd = ((int64_t)d + kDecodeDotPad - 1) / kDecodeDotPad * kDecodeDotPad;
  return rows * (qd + d + kBlockK + 17) + qd + 64;
}

// Small-M dense layers (fp_cpu_linear): y_i[r, :] (+)= x[r, :] w_i^T for `count` weight matrices
// w_i [n_i, k] of their own stored type, in one pass. Work items are blocks of `block` output
// columns (weight rows), numbered through the matrices in order: block0[i] is matrix i's first,
// block0[count] the total. A block is kLinBlockMax rows, halved (down to kLinBlockMin) while the
// call would have fewer than kLinItemsPerWorker items a worker: a tile's streams lie a quarter
// block apart, and longer stretches read a little faster (one-row GEMV on [11008, 4096] BF16
// weights: 256-row blocks 3-5% faster than 64), but every thread needs its share of items.
constexpr int kLinBlockMax = 256, kLinBlockMin = 32, kLinItemsPerWorker = 4;
constexpr int kLinMaxMatrices = 8;
constexpr int kLinMaxRows = 4096;
// Up to this many rows, BF16 weights on the vdpbf16ps path take x padded to this many rows (the
// "quad" layout of linear.hpp), so the packed x needs room for that many.
constexpr int kLinQuadRows = 8;
struct LinearArgs {
  const float* x;    // [rows, k]
  bf16* xb;          // max(rows, kLinQuadRows) * k: room for x rounded to bf16 and packed (for bf16 weights), or null when none are
  float* xf;         // rows * k: room for x packed (for F32 and F16 weights), or null when none are
  int64_t rows, k;
  int count;
  const void* const* w;
  const int32_t* dtype;
  const int64_t* n;
  float* const* y;   // [rows, n_i] each
  bool accumulate;
  bool swiglu;       // then y[0] = silu(y[0]) * y[1] once the products are done
  const int64_t* block0;
  int64_t block;     // weight rows per work item
};

// One set per instruction-set path, each compiled with its own flags (kernels_<isa>.cpp);
// avx512bf16 is the avx512 path with vdpbf16ps for the bf16 dot products.
#define FP_DECLARE_ISA(ns)                        \
  namespace ns {                                  \
  void attention(const AttentionArgs<float>& a);  \
  void attention(const AttentionArgs<bf16>& a);   \
  void scores(const ScoreArgs<float>& a);         \
  void scores(const ScoreArgs<bf16>& a);          \
  void fused_score_sums(const FusedScores* f, int64_t count); \
  void decode(const DecodeArgs<float>& a);        \
  void decode(const DecodeArgs<bf16>& a);         \
  void linear(const LinearArgs& a);               \
  uint64_t read_stream(const char* p, int64_t bytes); \
  }
FP_DECLARE_ISA(generic)
FP_DECLARE_ISA(avx2)
FP_DECLARE_ISA(avx512)
FP_DECLARE_ISA(avx512bf16)
#undef FP_DECLARE_ISA

// fp_cpu_round_bf16's loop, on the generic path only: it is scalar whatever the CPU has.
namespace generic {
void round_bf16(const float* src, uint16_t* dst, int64_t count);
}

}  // namespace fp
