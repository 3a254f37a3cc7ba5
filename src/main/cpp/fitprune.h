/*
 * FitPrune native C API: one header for the CPU (C++) and CUDA backends.
 *
 * Layouts are row-major and token-major: q [n,H,d], k and v [n,G,d], out [n,H,d], lse [H,n].
 * Every function returns FP_OK (0) or an error code; the message is in fp_last_error(), which
 * is per calling thread. No function throws or aborts on bad input: the Java layer validates
 * first, and these checks are the second line of defence.
 */
#ifndef FITPRUNE_H
#define FITPRUNE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The API is exported even though the library builds with -fvisibility=hidden, so a shared object
 * linked from the static archives (benchmarks/gpu) can be driven through ctypes/dlsym. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

enum fp_status {
  FP_OK = 0,
  FP_ERR_ARG = 1,         /* a size or pointer argument is invalid */
  FP_ERR_INDEX = 2,       /* an index is out of range */
  FP_ERR_NOMEM = 3,       /* allocation failed */
  FP_ERR_CUDA = 4,        /* a CUDA runtime call failed */
  FP_ERR_UNAVAILABLE = 5, /* the backend is not built or has no device */
  FP_ERR_VALUE = 6,       /* an input value is invalid (NaN score) */
  FP_ERR_INTERNAL = 7
};

/* Instruction-set levels of the CPU kernels. AVX512_BF16 is AVX512 with vdpbf16ps for the bf16
 * kernels (its fp32 kernels are AVX512's). */
enum fp_isa { FP_ISA_AUTO = -1, FP_ISA_GENERIC = 0, FP_ISA_AVX2 = 1, FP_ISA_AVX512 = 2, FP_ISA_AVX512_BF16 = 3 };

const char* fp_version(void);
const char* fp_last_error(void);

/* ---- CPU backend ---- */
int fp_cpu_isa_supported(int isa); /* 1 when this CPU and OS can run that path */
int fp_cpu_isa(void);              /* the path in use now */
int fp_cpu_set_isa(int isa);       /* FP_ISA_AUTO selects the best supported */
const char* fp_cpu_features(void); /* e.g. "avx2 fma avx512f avx512bw ..." */
int fp_cpu_threads(void);
int fp_cpu_set_threads(int threads); /* <= 0: one per hardware thread */
/* glibc malloc: serve blocks below mmap_threshold (capped at 32 MiB) from the heap and trim the
 * heap only past trim_threshold (0 leaves a setting alone), and use one arena for threads that have
 * none yet: freed temporaries stay mapped for reuse.
 * FP_ERR_UNAVAILABLE without glibc. Process-wide. */
int fp_tune_malloc(int64_t mmap_threshold, int64_t trim_threshold);
/* Sets OMP_WAIT_POLICY=PASSIVE (unless set) for a libgomp not loaded yet: 1 if in effect, 0 if too late. */
int fp_prefer_passive_omp(void);

/* Causal prefill attention with GQA on fp32, logits q.k/sqrt(d) (fp_cpu_attention takes any
 * softmax_scale). Writes out [n,H,d] and lse [H,n].
 * FP_ERR_VALUE, naming the tensor and the first position, when q, k or v holds NaN or infinity:
 * q and v show in the LSE and the output, k is scanned. With finite inputs, an LSE or output that
 * overflowed float32 (q*k, or the p*v sums) is FP_ERR_VALUE naming lse or out with its row and
 * head. The checks read k, lse and out once after the kernel (nothing in its inner loops). */
int fp_cpu_attention_f32(const float* q, const float* k, const float* v,
                         int64_t n, int32_t heads, int32_t kv_heads, int32_t head_dim,
                         float* out, float* lse);

/* FitPrune scores of the visual span [prefix, prefix+visual) from q, k and the LSE of
 * fp_cpu_attention_f32 on the same q and k (scale 1/sqrt(d); fp_cpu_scores takes any).
 * FP_ERR_VALUE when the LSE is not finite or 2^24 or more in magnitude (there a float32 logit's
 * rounding step is a whole unit and the recomputed probabilities are noise), or when a score
 * overflows (self or cross named with its position):
 * self[j]  = (1/visual) * sum over visual rows i of max_h A[h,i,j]
 * cross[j] = (1/t)      * sum over text rows i >= prefix+visual of max_h A[h,i,j] (0 if t == 0) */
int fp_cpu_scores_f32(const float* q, const float* k, const float* lse,
                      int64_t n, int32_t heads, int32_t kv_heads, int32_t head_dim,
                      int64_t prefix, int64_t visual,
                      float* self_score, float* cross_score);

/* Drops the `drop` visual tokens with the lowest self*cross (ties: lower index first) and
 * writes the n - drop kept row indices of the whole sequence, ascending. A NaN or infinite
 * self*cross is FP_ERR_VALUE. */
int fp_select_keep(const float* self_score, const float* cross_score,
                   int64_t n, int64_t prefix, int64_t visual, int64_t drop, int32_t* keep);

/* Sets *index to the position of the first NaN or infinity in x[0, count), or to -1. The CPU
 * attention applies the same check to what its output reveals (see fp_cpu_attention_f32). */
int fp_first_nonfinite_f32(const float* x, int64_t count, int64_t* index);

/* dst[r, :] = src[index[r], :] for r < count; rows of `width` elements. */
int fp_cpu_gather_rows_f32(const float* src, int64_t rows, int64_t width,
                           const int32_t* index, int64_t count, float* dst);
int fp_cpu_gather_rows_i32(const int32_t* src, int64_t rows, int64_t width,
                           const int32_t* index, int64_t count, int32_t* dst);

/* Element types of the kernels' q, k, v and out (lse and scores are always fp32). */
enum fp_dtype { FP_DTYPE_F32 = 0, FP_DTYPE_F16 = 1, FP_DTYPE_BF16 = 2 };
int fp_dtype_size(int32_t dtype); /* bytes per element, or 0 for an unknown dtype */

/* ---- CPU backend by element type (as the CUDA entry points) ----
 * dtype: FP_DTYPE_F32 or FP_DTYPE_BF16 (bf16: fp32 accumulation, softmax and LSE; probabilities
 * rounded to bf16 for p*v; vdpbf16ps on FP_ISA_AVX512_BF16, the same arithmetic through
 * conversions on the other paths). out_dtype: FP_DTYPE_F32, or dtype itself. Any head_dim.
 * softmax_scale (here and in every attention-like call below): logits are q.k * softmax_scale,
 * finite and > 0 (FP_ERR_ARG otherwise); 1/sqrt(d) is the usual one and 1.f / sqrtf(d) gives the
 * bits of the fixed-scale fp32 calls above. The score pass recomputes exp(scale * q.k - lse), so
 * it must get the scale of the attention call that produced the LSE. */
int fp_cpu_attention(const void* q, const void* k, const void* v, int64_t n, int32_t heads,
                     int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale, void* out,
                     int32_t out_dtype, float* lse);
int fp_cpu_scores(const void* q, const void* k, const float* lse, int64_t n, int32_t heads,
                  int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale, int64_t prefix,
                  int64_t visual, float* self_score, float* cross_score);
/* Attention and the score pass in one call, with fp_cpu_attention's and fp_cpu_scores's
 * results: the scores reuse the attention's own q*k^T logits of the visual keys (kept per query
 * tile until the row's LSE is known) instead of recomputing them. Its head-max buffer holds
 * (n - prefix) x visual floats; past 256 MiB it runs the two separate passes instead. */
int fp_cpu_attention_scores(const void* q, const void* k, const void* v, int64_t n, int32_t heads,
                            int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale, void* out,
                            int32_t out_dtype, float* lse, int64_t prefix, int64_t visual, float* self_score,
                            float* cross_score);
/* Row gather of any element type (rows of row_bytes bytes: bf16 hidden states, K/V caches), with
 * the rules of fp_cpu_gather_rows_f32, in place included. */
int fp_cpu_gather_rows(const void* src, int64_t rows, int64_t row_bytes, const int32_t* index,
                       int64_t count, void* dst);

/* ---- Dense layers of a decode step (CPU) ----
 * For each of `count` (1 to 8) weight matrices i: y_i[r, :] = x[r, :] w_i^T, or y_i += that with
 * FP_LINEAR_ACCUMULATE in flags, for the rows (0 to 4096) of x [rows, k] (fp32). w_i is [n_i, k] of w_dtype[i]
 * (FP_DTYPE_F32, F16 or BF16) exactly as the checkpoint stores it, y_i [rows, n_i] fp32; y must
 * not overlap x or another y. BF16 weights take x rounded to bf16 (products exact, vdpbf16ps where
 * the CPU has it), F32 and F16 weights take x as it is; accumulation is fp32. All matrices are one
 * pass: blocks of output columns are spread over the threads, and each weight row is read once
 * for all rows of x (a decode step is bound by reading the weights). */
enum fp_linear_flags {
  FP_LINEAR_ACCUMULATE = 1, /* y_i += x w_i^T */
  FP_LINEAR_SWIGLU = 2      /* count 2, n_0 = n_1 (gate, up), no accumulate: then y_0 = silu(y_0) * y_1 */
};
int fp_cpu_linear(const float* x, int64_t rows, int64_t k, int32_t count, const void* const* w,
                  const int32_t* w_dtype, const int64_t* n, float* const* y, int32_t flags);
/* The read-bandwidth probe: streams [p, p + bytes) with the widest vector loads of the ISA path in
 * use and software prefetch, one contiguous share per worker of the pool (`threads` of them, <= 0:
 * all), and writes a checksum. Decode efficiency is measured as a fraction of this rate. */
int fp_cpu_read_stream(const void* p, int64_t bytes, int32_t threads, uint64_t* checksum);

/* ---- Row-wise steps of a decode step (CPU, one thread) ----
 * RMSNorm of x [rows, width] fp32 into y (y may be x): y = x / sqrt(mean(x^2) + eps) * weight
 * [width], each square rounded to fp32 and summed in order in double, the scale rounded to fp32,
 * no fused multiply-adds (the reference decoder's prefill and decode give the same bits). */
int fp_cpu_rms_norm(const float* x, float* y, int64_t rows, int64_t width, const float* weight, double eps);
/* count fp32 values to bf16, round to nearest even; NaN stays NaN (quiet). */
int fp_cpu_round_bf16(const float* src, uint16_t* dst, int64_t count);

/* ---- Packed batches (CPU, fp32 or bf16 as fp_cpu_attention / fp_cpu_scores) ----
 * B sequences of different lengths packed along the rows, as FlashAttention's varlen API:
 * sequence b holds rows [cu_seqlens[b], cu_seqlens[b+1]) of q [N,H,d], k and v [N,G,d], out
 * [N,H,d] and lse [H,N], with cu_seqlens[0] = 0, never decreasing, cu_seqlens[B] = N < 2^31.
 * Every sequence is causal on its own and gives the same bits as a call on it alone; work is
 * spread over (sequence, head, query block). fp_cpu_attention and fp_cpu_scores are these with
 * B = 1. */
int fp_cpu_attention_varlen(const void* q, const void* k, const void* v, const int64_t* cu_seqlens, int64_t batch,
                            int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale,
                            void* out, int32_t out_dtype, float* lse);

/* fp_cpu_attention_varlen with a cached prefix (prefix caching, chunked prefill):
 * sequence b's queries are rows [cu_seqlens_q[b], cu_seqlens_q[b+1]) of q, its keys and values rows
 * [cu_seqlens_k[b], cu_seqlens_k[b+1]) of k and v [Nk,G,d], k_len_b >= q_len_b, the queries' own
 * K/V being the last q_len_b of them; query t sees keys [0, k_len_b - q_len_b + t]. Logits are
 * q.k * softmax_scale (finite, > 0). out [Nq,H,d], lse [H,Nq]. With cu_seqlens_k == cu_seqlens_q
 * it gives fp_cpu_attention_varlen's bits with the same softmax_scale. */
int fp_cpu_attention_varlen_kv(const void* q, const void* k, const void* v, const int64_t* cu_seqlens_q,
                               const int64_t* cu_seqlens_k, int64_t batch, int32_t heads, int32_t kv_heads,
                               int32_t head_dim, int32_t dtype, float softmax_scale, void* out, int32_t out_dtype,
                               float* lse);

/* Scores of every sequence's visual span; spans [B,2] holds (prefix, visual) within each
 * sequence. self and cross hold the sequences' visual tokens concatenated in sequence order
 * ([sum of visual]). */
int fp_cpu_scores_varlen(const void* q, const void* k, const float* lse, const int64_t* cu_seqlens, int64_t batch,
                         int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale,
                         const int64_t* spans, float* self_score, float* cross_score);

/* fp_cpu_attention_varlen and fp_cpu_scores_varlen in one pass, as fp_cpu_attention_scores per
 * sequence (spans, self and cross as fp_cpu_scores_varlen); each sequence gives the same bits as
 * fp_cpu_attention_scores on it alone. The head-max buffers hold sum over b of (len_b - prefix_b)
 * x visual_b floats; past 256 MiB for the batch it runs the two separate passes instead. */
int fp_cpu_attention_scores_varlen(const void* q, const void* k, const void* v, const int64_t* cu_seqlens,
                                   int64_t batch, int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype,
                                   float softmax_scale, void* out, int32_t out_dtype, float* lse,
                                   const int64_t* spans, float* self_score, float* cross_score);

/* fp_select_keep per sequence, drop[b] tokens from sequence b; self/cross as the varlen scores
 * write them. keep receives N - sum(drop) global row indices, ascending: one
 * fp_cpu_gather_rows_* call with them compacts the whole packed batch. */
int fp_select_keep_varlen(const float* self_score, const float* cross_score, const int64_t* cu_seqlens,
                          int64_t batch, const int64_t* spans, const int64_t* drop, int32_t* keep);

/* ---- Decode attention over K/V caches (CPU) ----
 * Cache layout: sequence b has its own K and V caches, k_cache[b] and v_cache[b], each
 * [cap_b, G, d] row-major (the layout a prefill leaves, rows appended at the end); kv_len[b] rows
 * are valid. Sequence b decodes q_len_b = cu_q[b+1] - cu_q[b] >= 1 new tokens (one per step, or a
 * few for speculative decoding), rows [cu_q[b], cu_q[b+1]) of q [Nq,H,d]; their K/V must already
 * be the last q_len_b of the kv_len[b] cache rows, and new token t sees cache rows
 * [0, kv_len[b] - q_len_b + t] (causal among the new tokens). Logits are q.k * softmax_scale
 * (finite and > 0; 1/sqrt(d) is the usual one). Writes out [Nq,H,d] and, unless
 * lse is NULL, lse [H,Nq]. Work is split over (sequence, kv head) and, when those pairs are
 * fewer than twice the worker threads, over the keys of long caches (results then differ from an
 * unsplit call in rounding only). dtype: FP_DTYPE_F32 or FP_DTYPE_BF16 for q and both caches
 * (bf16: fp32 accumulation, softmax and LSE; q.k the prefill's pairwise dot product, P*V with fp32
 * probabilities); out_dtype: FP_DTYPE_F32 or dtype. bf16 gives the same bits on every CPU path. */
int fp_cpu_decode_attention(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                            int32_t head_dim, int32_t dtype, float softmax_scale, const void* const* k_cache,
                            const void* const* v_cache, const int64_t* kv_len, void* out, int32_t out_dtype, float* lse);
/* fp_cpu_decode_attention on fp32 q, caches and out, scale 1/sqrt(d). */
int fp_cpu_decode_attention_f32(const float* q, const int64_t* cu_q, int64_t batch, int32_t heads,
                                int32_t kv_heads, int32_t head_dim, const float* const* k_cache,
                                const float* const* v_cache, const int64_t* kv_len, float* out, float* lse);

/* ---- Paged K/V caches (vLLM's and FlashAttention's flash_attn_with_kvcache layout) ----
 * One layer's K and V live in pools k_pool, v_pool [num_blocks, block_size, G, d] row-major. A
 * sequence's cache is a list of blocks: block_table [batch, max_blocks] int32, row b the blocks of
 * sequence b in order, so cache row r of sequence b is row r % block_size of block
 * block_table[b * max_blocks + r / block_size]; kv_len[b] (FlashAttention's cache_seqlens) rows
 * are valid. FitPrune's layers keep different lengths, so each layer has its own table and
 * lengths (and its own pools, or its own blocks of a shared pool). Every table entry a sequence
 * uses (the first ceil(kv_len[b] / block_size)) is checked: one outside [0, num_blocks) is
 * FP_ERR_INDEX naming the sequence and position, never read.
 *
 * Decode attention as fp_cpu_decode_attention (same arguments, rules and bits: only where row r
 * lies differs). */
int fp_cpu_paged_decode_attention(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                                  int32_t head_dim, int32_t dtype, float softmax_scale, const void* k_pool,
                                  const void* v_pool, int64_t num_blocks, int32_t block_size,
                                  const int32_t* block_table, int64_t max_blocks, const int64_t* kv_len, void* out,
                                  int32_t out_dtype, float* lse);

/* Appends a step's K/V (after RoPE) to contiguous caches: k and v [Nq,G,d] of dtype (any
 * fp_dtype), rows [cu_q[b], cu_q[b+1]) go to rows [kv_len[b], kv_len[b] + q_len_b) of
 * k_cache[b], v_cache[b] [capacity[b], G, d]. kv_len is not changed (the caller owns the lengths).
 * FP_ERR_ARG when a sequence's rows would pass its capacity; nothing is written then. */
int fp_cpu_kv_append(const void* k, const void* v, const int64_t* cu_q, int64_t batch, int32_t kv_heads,
                     int32_t head_dim, int32_t dtype, void* const* k_cache, void* const* v_cache,
                     const int64_t* capacity, const int64_t* kv_len);
/* Appends to paged pools as vLLM's reshape_and_cache: row i of k and v [n,G,d] goes to slot
 * slot_mapping[i] = block * block_size + offset, i.e. row offset of block `block`; a negative slot
 * (a padding token) is skipped. A slot >= num_blocks * block_size is FP_ERR_INDEX naming the row;
 * nothing is written then. */
int fp_cpu_kv_append_paged(const void* k, const void* v, int64_t n, int32_t kv_heads, int32_t head_dim,
                           int32_t dtype, void* k_pool, void* v_pool, int64_t num_blocks, int32_t block_size,
                           const int64_t* slot_mapping);

/* ---- CUDA backend (device pointers) ----
 * Pointers below are device pointers unless said otherwise. `stream` is a cudaStream_t (NULL:
 * the legacy default stream). Kernels are enqueued asynchronously: a status of FP_OK means the
 * launch succeeded; errors during execution surface at the next synchronising call. */
int fp_cuda_compiled(void);          /* 1 when the library was built with nvcc */
int fp_cuda_device_count(void);      /* >= 0, or -1 with the reason in fp_last_error() */
const char* fp_cuda_describe(void);  /* one line: devices, or why CUDA is unavailable */

enum fp_copy_kind { FP_COPY_H2D = 1, FP_COPY_D2H = 2, FP_COPY_D2D = 3 };
void* fp_cuda_malloc(int64_t bytes); /* NULL on failure */
int fp_cuda_free(void* ptr);
int fp_cuda_memcpy(void* dst, const void* src, int64_t bytes, int32_t kind);
int fp_cuda_synchronize(void);

int fp_cuda_memset(void* dst, int32_t byte_value, int64_t bytes);
int fp_cuda_stream_create(void** stream);  /* non-blocking stream */
int fp_cuda_stream_destroy(void* stream);
int fp_cuda_stream_synchronize(void* stream);

/* Element-wise conversion between dtypes on the device (round to nearest even). */
int fp_cuda_convert(const void* src, int32_t src_dtype, void* dst, int32_t dst_dtype, int64_t count,
                    void* stream);

/* Tuning, process-wide: "attention_rows" (query rows per CTA of the fp16/bf16 attention, 128 by
 * default, or 64) and "score_rows" (rows per tile of the fp16/bf16 score pass, 64 by default, or
 * 128). Results do not depend on them beyond rounding order. */
int fp_cuda_set_option(const char* name, int32_t value);

/* Causal prefill attention, as fp_cpu_attention, on the GPU. q, k, v and out hold `dtype`
 * (FP_DTYPE_F16/BF16: tensor cores, fp32 accumulation; FP_DTYPE_F32: exact fp32, slower);
 * lse is fp32 [H,n]; softmax_scale as on the CPU. head_dim 64 or 128; fp16/bf16 pointers
 * 16-byte aligned. */
int fp_cuda_attention(const void* q, const void* k, const void* v, int64_t n, int32_t heads,
                      int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale, void* out,
                      float* lse, void* stream);

/* FitPrune scores, as fp_cpu_scores, on the GPU; q and k hold `dtype`, lse, self_score and
 * cross_score are fp32. Deterministic (fixed-order reductions, no float atomics). */
int fp_cuda_scores(const void* q, const void* k, const float* lse, int64_t n, int32_t heads,
                   int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale, int64_t prefix,
                   int64_t visual, float* self_score, float* cross_score, void* stream);

/* Packed batches on the GPU, as fp_cpu_attention_varlen / fp_cpu_scores_varlen: fp16 or
 * bf16 (tensor cores) only. cu_seqlens and spans are HOST arrays (the launch geometry is planned
 * on the host); q, k, v, out, lse, self_score and cross_score are device pointers. One launch
 * covers every (head, query tile) of every sequence, at most 65535 tiles (of attention_rows or
 * score_rows rows) per call. */
int fp_cuda_attention_varlen(const void* q, const void* k, const void* v, const int64_t* cu_seqlens, int64_t batch,
                             int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale,
                             void* out, float* lse, void* stream);
int fp_cuda_scores_varlen(const void* q, const void* k, const float* lse, const int64_t* cu_seqlens, int64_t batch,
                          int32_t heads, int32_t kv_heads, int32_t head_dim, int32_t dtype, float softmax_scale,
                          const int64_t* spans, float* self_score, float* cross_score, void* stream);

/* Decode attention on the GPU, as fp_cpu_decode_attention with the same cache layout and
 * softmax_scale, for fp32, fp16 or bf16 (q, caches and out in `dtype`, lse fp32, may be NULL);
 * head_dim 64 or 128. cu_q, kv_len and the arrays k_cache, v_cache are HOST arrays; the cache
 * pointers they hold are device pointers. */
int fp_cuda_decode_attention(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                             int32_t head_dim, int32_t dtype, float softmax_scale, const void* const* k_cache,
                             const void* const* v_cache, const int64_t* kv_len, void* out, float* lse, void* stream);
/* Paged decode attention on the GPU, as fp_cpu_paged_decode_attention: k_pool, v_pool, q, out
 * and lse are device pointers; block_table, cu_q and kv_len HOST arrays (checked on the host,
 * then copied for the launch). */
int fp_cuda_paged_decode_attention(const void* q, const int64_t* cu_q, int64_t batch, int32_t heads, int32_t kv_heads,
                                   int32_t head_dim, int32_t dtype, float softmax_scale, const void* k_pool,
                                   const void* v_pool, int64_t num_blocks, int32_t block_size,
                                   const int32_t* block_table, int64_t max_blocks, const int64_t* kv_len, void* out,
                                   float* lse, void* stream);
/* Prefill over a cached prefix on the GPU, as fp_cpu_attention_varlen_kv (same rules; fp32, fp16
 * or bf16, out_dtype = dtype, lse fp32 and required; head_dim 64 or 128). cu_seqlens_q and
 * cu_seqlens_k are HOST arrays. It runs the decode kernel (CUDA cores, fp32 arithmetic) with
 * sequence b's cache at rows cu_seqlens_k[b] of k and v: each block of 8 query rows (queries x
 * H/G) reads the keys it sees once, so a sequence reads about q_len*H/G/8 x k_len rows of K and V.
 * Right for chunks of up to a few hundred queries over a long prefix, not a replacement for
 * fp_cuda_attention_varlen on long chunks. At most 65535 sequences, q_len_b*H/G <= 524280.
 * Matches the CPU within fp32 rounding (a different summation order). */
int fp_cuda_attention_varlen_kv(const void* q, const void* k, const void* v, const int64_t* cu_seqlens_q,
                                const int64_t* cu_seqlens_k, int64_t batch, int32_t heads, int32_t kv_heads,
                                int32_t head_dim, int32_t dtype, float softmax_scale, void* out, int32_t out_dtype,
                                float* lse, void* stream);
/* fp_cpu_kv_append and fp_cpu_kv_append_paged on the GPU, enqueued on `stream`: k, v and the
 * caches or pools are device pointers; cu_q, capacity, kv_len, the cache pointer arrays and
 * slot_mapping are HOST arrays, checked before anything is enqueued. */
int fp_cuda_kv_append(const void* k, const void* v, const int64_t* cu_q, int64_t batch, int32_t kv_heads,
                      int32_t head_dim, int32_t dtype, void* const* k_cache, void* const* v_cache,
                      const int64_t* capacity, const int64_t* kv_len, void* stream);
int fp_cuda_kv_append_paged(const void* k, const void* v, int64_t n, int32_t kv_heads, int32_t head_dim, int32_t dtype,
                            void* k_pool, void* v_pool, int64_t num_blocks, int32_t block_size,
                            const int64_t* slot_mapping, void* stream);

/* ---- Asynchronous use on the caller's memory and stream ----
 * The calls below and fp_cuda_attention / fp_cuda_scores only enqueue work on `stream`: no
 * device-wide synchronisation, no read-back. Bad data found on the device (a NaN or infinite self*cross, a
 * gather index out of range) is recorded in a status word: one device int32 the caller owns,
 * zero when clear (NULL: not recorded). A nonzero word holds the status code in bits 24..30 and
 * the position in bits 0..23 (the visual token, or the gather's output row; capped at 2^24-1);
 * of several errors the smallest word is kept, so the report is deterministic. */

/* fp_select_keep on the GPU (device scores in, device keep out), same rule and same result.
 * Visual spans up to 4096 sort in one CTA; larger spans rank every token on many CTAs. */
int fp_cuda_select_keep_async(const float* self_score, const float* cross_score, int64_t n, int64_t prefix,
                              int64_t visual, int64_t drop, int32_t* keep, int32_t* status, void* stream);

/* Row gather of any element type: dst[r] = src[index[r]], rows of row_bytes bytes (16-byte
 * accesses when row_bytes and both pointers allow). An index outside [0, rows) is never read: its
 * dst row is zero-filled and the status word records FP_ERR_INDEX at row r. dst == src gathers in
 * place (any indices, count <= rows; through a stream-ordered temporary); any other overlap of
 * dst and src is FP_ERR_ARG. */
int fp_cuda_gather_rows(const void* src, int64_t rows, int64_t row_bytes, const int32_t* index,
                        int64_t count, void* dst, int32_t* status, void* stream);

/* Waits for `stream` (only it), then reads the status word and clears it: FP_OK, the recorded
 * error with its position in fp_last_error(), or FP_ERR_CUDA for a failure of work on the stream. */
int fp_cuda_status_check(int32_t* status, void* stream);

/* Synchronous conveniences on top of the calls above: a temporary status word, checked.
 * fp_cuda_select_keep synchronises `stream`; the gathers run on the legacy default stream. */
int fp_cuda_select_keep(const float* self_score, const float* cross_score, int64_t n, int64_t prefix,
                        int64_t visual, int64_t drop, int32_t* keep, void* stream);
int fp_cuda_gather_rows_f32(const float* src, int64_t rows, int64_t width,
                            const int32_t* index, int64_t count, float* dst);
int fp_cuda_gather_rows_i32(const int32_t* src, int64_t rows, int64_t width,
                            const int32_t* index, int64_t count, int32_t* dst);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* FITPRUNE_H */
