// Small end-to-end run of every CUDA entry point against the CPU backend of the same library, for
// compute-sanitizer (memcheck, racecheck) on the GPU machine. Without a device it checks that the
// CUDA API fails cleanly and runs the CPU parts, so it is also exercised where it is built.
//
// Build: g++ -O2 -std=c++17 -Isrc/main/cpp benchmarks/gpu/sanity.cpp -LDIR -lfitprune_cuda
//        -lfitprune_cpu -lcudart_static -lpthread -ldl -lrt
// Usage: sanity [n H G d P V]   (default 203 4 2 64 11 150; exit 1 on a mismatch). With a device
// it also runs a packed batch and decode (run_batch).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "fitprune.h"

static int failures = 0;

// The default softmax scale, as the library computes it.
static float kScale(int d) { return 1.f / std::sqrt((float)d); }
#define EXPECT(cond, ...)                    \
  do {                                       \
    if (!(cond)) {                           \
      std::printf("FAIL: " __VA_ARGS__);     \
      std::printf("\n");                     \
      ++failures;                            \
    }                                        \
  } while (0)
#define OK(call)                                                                 \
  do {                                                                           \
    int st_ = (call);                                                            \
    if (st_ != FP_OK) {                                                          \
      std::printf("FAIL: %s -> %d: %s\n", #call, st_, fp_last_error());          \
      ++failures;                                                                \
      return;                                                                    \
    }                                                                            \
  } while (0)

static uint16_t to_half(float f) {  // round to nearest even, normal range (inputs are ~N(0,1))
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int exp = (int)((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (exp <= 0) return (uint16_t)sign;  // flush tiny values (rare here)
  uint32_t h = sign | (uint32_t)(exp << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return (uint16_t)h;
}
static float from_half(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const int exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ffu;
  uint32_t x = exp == 0 ? sign : (sign | (uint32_t)(exp - 15 + 127) << 23 | mant << 13);
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
static uint16_t to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  x += 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}
static float from_bf16(uint16_t b) {
  uint32_t x = (uint32_t)b << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

struct Dev {  // owned device buffer
  void* p = nullptr;
  explicit Dev(size_t bytes) : p(fp_cuda_malloc((int64_t)(bytes ? bytes : 16))) {}
  ~Dev() { if (p) fp_cuda_free(p); }
};

static double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double)(a[i] - b[i]) * (a[i] - b[i]);
    den += (double)b[i] * b[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

static void run_dtype(int dtype, int64_t n, int H, int G, int d, int64_t P, int64_t V) {
  const char* name = dtype == FP_DTYPE_F32 ? "fp32" : dtype == FP_DTYPE_F16 ? "fp16" : "bf16";
  std::mt19937 rng(42 + dtype);
  std::normal_distribution<float> N01;
  const size_t nq = (size_t)n * H * d, nkv = (size_t)n * G * d;
  std::vector<float> q(nq), k(nkv), v(nkv);
  for (auto* t : {&q, &k, &v})
    for (auto& x : *t) x = N01(rng);
  // Round the inputs to the dtype so the CPU reference sees the same values.
  std::vector<uint16_t> q16(nq), k16(nkv), v16(nkv);
  auto round_all = [&](std::vector<float>& f, std::vector<uint16_t>& h) {
    for (size_t i = 0; i < f.size(); ++i) {
      if (dtype == FP_DTYPE_F16) { h[i] = to_half(f[i]); f[i] = from_half(h[i]); }
      if (dtype == FP_DTYPE_BF16) { h[i] = to_bf16(f[i]); f[i] = from_bf16(h[i]); }
    }
  };
  round_all(q, q16); round_all(k, k16); round_all(v, v16);

  std::vector<float> out(nq), lse((size_t)H * n), self_s(V), cross_s(V);
  OK(fp_cpu_attention_f32(q.data(), k.data(), v.data(), n, H, G, d, out.data(), lse.data()));
  OK(fp_cpu_scores_f32(q.data(), k.data(), lse.data(), n, H, G, d, P, V, self_s.data(), cross_s.data()));
  if (fp_cuda_device_count() <= 0) {
    std::printf("%s: CPU backend ran; no device: %s\n", name, fp_cuda_describe());
    EXPECT(fp_cuda_attention(q.data(), k.data(), v.data(), n, H, G, d, dtype, kScale(d), out.data(), lse.data(), nullptr) != FP_OK,
           "fp_cuda_attention must fail without a device");
    std::printf("  fp_cuda_attention without a device: %s\n", fp_last_error());
    return;
  }
  const size_t es = (size_t)fp_dtype_size(dtype);
  Dev dq(nq * es), dk(nkv * es), dv(nkv * es), dout(nq * es), dlse(4 * (size_t)H * n), ds(4 * V), dc(4 * V);
  const void* hq = dtype == FP_DTYPE_F32 ? (const void*)q.data() : (const void*)q16.data();
  const void* hk = dtype == FP_DTYPE_F32 ? (const void*)k.data() : (const void*)k16.data();
  const void* hv = dtype == FP_DTYPE_F32 ? (const void*)v.data() : (const void*)v16.data();
  OK(fp_cuda_memcpy(dq.p, hq, nq * es, FP_COPY_H2D));
  OK(fp_cuda_memcpy(dk.p, hk, nkv * es, FP_COPY_H2D));
  OK(fp_cuda_memcpy(dv.p, hv, nkv * es, FP_COPY_H2D));
  OK(fp_cuda_memset(dout.p, 0xff, nq * es));  // NaN poison
  OK(fp_cuda_memset(dlse.p, 0xff, 4 * (size_t)H * n));
  OK(fp_cuda_attention(dq.p, dk.p, dv.p, n, H, G, d, dtype, kScale(d), dout.p, (float*)dlse.p, nullptr));
  OK(fp_cuda_scores(dq.p, dk.p, (const float*)dlse.p, n, H, G, d, dtype, kScale(d), P, V, (float*)ds.p, (float*)dc.p, nullptr));
  OK(fp_cuda_synchronize());
  // Output back as fp32 through the device conversion.
  Dev o32(4 * nq);
  OK(fp_cuda_convert(dout.p, dtype, o32.p, FP_DTYPE_F32, (int64_t)nq, nullptr));
  std::vector<float> g_out(nq), g_lse((size_t)H * n), g_s(V), g_c(V);
  OK(fp_cuda_memcpy(g_out.data(), o32.p, 4 * nq, FP_COPY_D2H));
  OK(fp_cuda_memcpy(g_lse.data(), dlse.p, 4 * (size_t)H * n, FP_COPY_D2H));
  OK(fp_cuda_memcpy(g_s.data(), ds.p, 4 * V, FP_COPY_D2H));
  OK(fp_cuda_memcpy(g_c.data(), dc.p, 4 * V, FP_COPY_D2H));
  const double tol_out = dtype == FP_DTYPE_F32 ? 1e-5 : dtype == FP_DTYPE_F16 ? 5e-3 : 3e-2;
  const double e_out = max_rel(g_out, out), e_lse = max_rel(g_lse, lse);
  const double e_s = max_rel(g_s, self_s), e_c = max_rel(g_c, cross_s);
  std::printf("%s n=%lld H=%d G=%d d=%d P=%lld V=%lld: out rel %.2e, lse rel %.2e, self rel %.2e, cross rel %.2e\n",
              name, (long long)n, H, G, d, (long long)P, (long long)V, e_out, e_lse, e_s, e_c);
  EXPECT(e_out < tol_out, "%s out rel %.3e", name, e_out);
  EXPECT(e_lse < 1e-4, "%s lse rel %.3e", name, e_lse);
  EXPECT(e_s < 1e-3 && e_c < 1e-3, "%s scores rel %.3e %.3e", name, e_s, e_c);

  // Select on the device's scores, against the CPU rule on the same scores.
  const int64_t drop = V / 2;
  std::vector<int32_t> keep_c(n - drop), keep_g(n - drop);
  OK(fp_select_keep(g_s.data(), g_c.data(), n, P, V, drop, keep_c.data()));
  Dev dkeep(4 * (n - drop));
  OK(fp_cuda_select_keep((float*)ds.p, (float*)dc.p, n, P, V, drop, (int32_t*)dkeep.p, nullptr));
  OK(fp_cuda_memcpy(keep_g.data(), dkeep.p, 4 * (n - drop), FP_COPY_D2H));
  EXPECT(keep_c == keep_g, "%s select differs from the CPU", name);

  // Gather the kept rows of q (row = H*d elements) and compare with the host.
  Dev dg(es * H * d * keep_g.size());
  OK(fp_cuda_gather_rows(dq.p, n, (int64_t)(es * H * d), (const int32_t*)dkeep.p, (int64_t)keep_g.size(), dg.p,
                         nullptr, nullptr));
  std::vector<unsigned char> hg(es * H * d * keep_g.size());
  OK(fp_cuda_memcpy(hg.data(), dg.p, (int64_t)hg.size(), FP_COPY_D2H));
  bool same = true;
  for (size_t r = 0; r < keep_g.size() && same; ++r)
    same = std::memcmp(hg.data() + r * es * H * d, (const unsigned char*)hq + keep_g[r] * es * H * d, es * H * d) == 0;
  EXPECT(same, "%s gather differs", name);

  // The stream forms on a stream of our own, one status check at the end: select again, then
  // compact q in place with its result; both must equal the synchronous calls above.
  void* stream = nullptr;
  OK(fp_cuda_stream_create(&stream));
  Dev dstatus(4), dkeep2(4 * (n - drop)), dip(nq * es);
  OK(fp_cuda_memset(dstatus.p, 0, 4));
  OK(fp_cuda_memcpy(dip.p, dq.p, (int64_t)(nq * es), FP_COPY_D2D));
  OK(fp_cuda_synchronize());  // the legacy stream's memset and copy before the non-blocking stream's work
  OK(fp_cuda_select_keep_async((float*)ds.p, (float*)dc.p, n, P, V, drop, (int32_t*)dkeep2.p, (int32_t*)dstatus.p,
                               stream));
  OK(fp_cuda_gather_rows(dip.p, n, (int64_t)(es * H * d), (const int32_t*)dkeep2.p, (int64_t)keep_g.size(), dip.p,
                         (int32_t*)dstatus.p, stream));
  OK(fp_cuda_status_check((int32_t*)dstatus.p, stream));
  OK(fp_cuda_stream_destroy(stream));
  std::vector<int32_t> keep_a(n - drop);
  std::vector<unsigned char> hip(hg.size());
  OK(fp_cuda_memcpy(keep_a.data(), dkeep2.p, 4 * (n - drop), FP_COPY_D2H));
  OK(fp_cuda_memcpy(hip.data(), dip.p, (int64_t)hip.size(), FP_COPY_D2H));
  EXPECT(keep_a == keep_g, "%s stream-form select differs", name);
  EXPECT(hip == hg, "%s in-place gather differs", name);
}

// Packed batch and decode on the device: q/k/v of n rows cut into two sequences (n1 and n - n1
// rows, spans inside each) through the varlen kernels, against the single-sequence kernels on each
// (bitwise: the same tiles); then decode of each sequence's last row against its own cache (the
// k/v rows themselves) against the single-sequence attention's last row.
static void run_batch(int dtype, int64_t n, int H, int G, int d) {
  const char* name = dtype == FP_DTYPE_F16 ? "fp16" : "bf16";
  const int64_t n1 = n / 3, cu[3] = {0, n1, n}, spans[4] = {1, n1 / 2, 2, (n - n1) / 2};
  const size_t es = 2, row_q = (size_t)H * d * es, row_kv = (size_t)G * d * es;
  std::mt19937 rng(7 + dtype);
  std::uniform_int_distribution<int> bits(0x3000, 0x3fff);  // small positive and negative values
  std::vector<uint16_t> hq((size_t)n * H * d), hk((size_t)n * G * d), hv((size_t)n * G * d);
  for (auto* t : {&hq, &hk, &hv})
    for (auto& x : *t) x = (uint16_t)(bits(rng) | (rng() & 1 ? 0x8000 : 0));
  Dev dq(hq.size() * es), dk(hk.size() * es), dv(hv.size() * es), dout(hq.size() * es), dlse(4 * (size_t)H * n);
  const int64_t vt = spans[1] + spans[3];
  Dev ds(4 * vt), dc(4 * vt);
  OK(fp_cuda_memcpy(dq.p, hq.data(), (int64_t)(hq.size() * es), FP_COPY_H2D));
  OK(fp_cuda_memcpy(dk.p, hk.data(), (int64_t)(hk.size() * es), FP_COPY_H2D));
  OK(fp_cuda_memcpy(dv.p, hv.data(), (int64_t)(hv.size() * es), FP_COPY_H2D));
  OK(fp_cuda_attention_varlen(dq.p, dk.p, dv.p, cu, 2, H, G, d, dtype, kScale(d), dout.p, (float*)dlse.p, nullptr));
  OK(fp_cuda_scores_varlen(dq.p, dk.p, (const float*)dlse.p, cu, 2, H, G, d, dtype, kScale(d), spans, (float*)ds.p, (float*)dc.p,
                           nullptr));
  std::vector<uint16_t> g_out(hq.size());
  std::vector<float> g_lse((size_t)H * n), g_s(vt), g_c(vt);
  OK(fp_cuda_memcpy(g_out.data(), dout.p, (int64_t)(g_out.size() * es), FP_COPY_D2H));
  OK(fp_cuda_memcpy(g_lse.data(), dlse.p, 4 * (int64_t)g_lse.size(), FP_COPY_D2H));
  OK(fp_cuda_memcpy(g_s.data(), ds.p, 4 * vt, FP_COPY_D2H));
  OK(fp_cuda_memcpy(g_c.data(), dc.p, 4 * vt, FP_COPY_D2H));
  bool same = true;
  int64_t v0 = 0;
  std::vector<int64_t> kv_len = {n1, n - n1}, cu_q = {0, 1, 2};
  std::vector<const void*> kc(2), vc(2);
  std::vector<uint16_t> last(2 * (size_t)H * d);
  for (int b = 0; b < 2; ++b) {
    const int64_t s0 = cu[b], len = cu[b + 1] - s0, V = spans[2 * b + 1];
    const unsigned char* q0 = (const unsigned char*)dq.p + s0 * row_q;
    const unsigned char* k0 = (const unsigned char*)dk.p + s0 * row_kv;
    const unsigned char* v0p = (const unsigned char*)dv.p + s0 * row_kv;
    Dev o1(len * row_q), l1(4 * (size_t)H * len), s1(4 * V), c1(4 * V);
    OK(fp_cuda_attention(q0, k0, v0p, len, H, G, d, dtype, kScale(d), o1.p, (float*)l1.p, nullptr));
    OK(fp_cuda_scores(q0, k0, (const float*)l1.p, len, H, G, d, dtype, kScale(d), spans[2 * b], V, (float*)s1.p, (float*)c1.p, nullptr));
    std::vector<uint16_t> h_o(len * H * d);
    std::vector<float> h_l((size_t)H * len), h_s(V), h_c(V);
    OK(fp_cuda_memcpy(h_o.data(), o1.p, (int64_t)(h_o.size() * es), FP_COPY_D2H));
    OK(fp_cuda_memcpy(h_l.data(), l1.p, 4 * (int64_t)h_l.size(), FP_COPY_D2H));
    OK(fp_cuda_memcpy(h_s.data(), s1.p, 4 * V, FP_COPY_D2H));
    OK(fp_cuda_memcpy(h_c.data(), c1.p, 4 * V, FP_COPY_D2H));
    same = same && std::memcmp(h_o.data(), g_out.data() + s0 * H * d, h_o.size() * es) == 0;
    for (int h = 0; h < H; ++h)
      same = same && std::memcmp(h_l.data() + h * len, g_lse.data() + h * n + s0, 4 * len) == 0;
    same = same && std::memcmp(h_s.data(), g_s.data() + v0, 4 * V) == 0 && std::memcmp(h_c.data(), g_c.data() + v0, 4 * V) == 0;
    v0 += V;
    kc[b] = k0;
    vc[b] = v0p;
    std::memcpy(last.data() + b * H * d, h_o.data() + (len - 1) * H * d, row_q);
  }
  EXPECT(same, "%s packed batch differs from the sequences alone", name);
  // decode: the last row of each sequence as its new token, its k/v rows as its cache
  Dev dq2(2 * row_q), do2(2 * row_q);
  OK(fp_cuda_memcpy(dq2.p, (const unsigned char*)dq.p + (n1 - 1) * row_q, (int64_t)row_q, FP_COPY_D2D));
  OK(fp_cuda_memcpy((unsigned char*)dq2.p + row_q, (const unsigned char*)dq.p + (n - 1) * row_q, (int64_t)row_q, FP_COPY_D2D));
  OK(fp_cuda_decode_attention(dq2.p, cu_q.data(), 2, H, G, d, dtype, kScale(d), kc.data(), vc.data(), kv_len.data(), do2.p, nullptr,
                              nullptr));
  std::vector<uint16_t> h_dec(2 * H * d);
  OK(fp_cuda_memcpy(h_dec.data(), do2.p, (int64_t)(h_dec.size() * es), FP_COPY_D2H));
  std::vector<float> a(h_dec.size()), r(h_dec.size());
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = dtype == FP_DTYPE_F16 ? from_half(h_dec[i]) : from_bf16(h_dec[i]);
    r[i] = dtype == FP_DTYPE_F16 ? from_half(last[i]) : from_bf16(last[i]);
  }
  const double e = max_rel(a, r);
  std::printf("%s packed batch of %lld + %lld rows: %s; decode vs prefill last rows rel %.2e\n", name, (long long)n1,
              (long long)(n - n1), same ? "bitwise equal to the sequences alone" : "DIFFERS", e);
  EXPECT(e < (dtype == FP_DTYPE_F16 ? 5e-3 : 3e-2), "%s decode rel %.3e", name, e);
}

int main(int argc, char** argv) {
  int64_t n = 203, P = 11, V = 150;
  int H = 4, G = 2, d = 64;
  if (argc == 7) {
    n = std::atoll(argv[1]); H = std::atoi(argv[2]); G = std::atoi(argv[3]); d = std::atoi(argv[4]);
    P = std::atoll(argv[5]); V = std::atoll(argv[6]);
  }
  std::printf("fitprune %s; cuda: %s\n", fp_version(), fp_cuda_describe());
  for (int dtype : {FP_DTYPE_F32, FP_DTYPE_F16, FP_DTYPE_BF16}) run_dtype(dtype, n, H, G, d, P, V);
  if (fp_cuda_device_count() > 0) {  // packed batches and decode; the other tile variants
    for (int dtype : {FP_DTYPE_F16, FP_DTYPE_BF16}) run_batch(dtype, n, H, G, d);
    if (fp_cuda_set_option("attention_rows", 64) != FP_OK || fp_cuda_set_option("score_rows", 128) != FP_OK) {
      std::printf("FAIL: fp_cuda_set_option: %s\n", fp_last_error());
      ++failures;
    }
    std::printf("tile variant attention_rows=64 score_rows=128:\n");
    for (int dtype : {FP_DTYPE_F16, FP_DTYPE_BF16}) run_dtype(dtype, n, H, G, d, P, V);
    for (int dtype : {FP_DTYPE_F16, FP_DTYPE_BF16}) run_batch(dtype, n, H, G, d);
  }
  std::printf("%s (%d failure%s)\n", failures ? "SANITY FAILED" : "sanity ok", failures, failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
