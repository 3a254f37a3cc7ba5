// Whether a core overlaps arithmetic with streaming weights from DRAM. Each thread streams its own
// BF16 weights as the dense decode kernel does (six weight rows of 8 KiB at a time, far apart,
// prefetched 2 KiB ahead) and does 0 to 48 vdpbf16ps per 64-byte weight vector, on x held in
// registers and 24 accumulators: no loads besides the weights'. Read per byte, 8 x-rows of the
// real kernel are 8 dot products per weight vector and 48 per step of six. If the core could not
// overlap, the time of a step would be its memory time plus its arithmetic time; the table shows
// how close each line stays to the loads-only line instead. Medians of 7 rounds, the variants
// taking turns within each round (this machine's read bandwidth moves by tens of percent within
// seconds), on every thread, with the weights in L2 and from DRAM.
//
// Build and run (one command line):
//   g++ -O3 -std=c++17 -mavx512f -mavx512bf16 -pthread benchmarks/native/overlap.cpp -o /tmp/overlap && /tmp/overlap [threads]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr int64_t kK = 4096;  // bf16 elements a weight row
constexpr int kCols = 6, kAcc = 24, kPrefetch = 2048;

// One pass over `rows` weight rows with `DP` dot products per step of six weight vectors.
template <int DP>
__attribute__((noinline)) float pass(const uint16_t* w, int64_t rows, __m512bh x0, __m512bh x1) {
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_setzero_ps();
  const int64_t s = rows / kCols;
  for (int64_t t = 0; t < s; ++t) {
    const uint16_t* r[kCols];
    for (int c = 0; c < kCols; ++c) r[c] = w + (t + c * s) * kK;
#pragma GCC unroll 1
    for (int64_t i = 0; i < kK; i += 32) {
      __m512bh wv[kCols];
#pragma GCC unroll 6
      for (int c = 0; c < kCols; ++c) {
        _mm_prefetch(reinterpret_cast<const char*>(r[c] + i) + kPrefetch, _MM_HINT_T0);
        wv[c] = (__m512bh)_mm512_load_si512(r[c] + i);
      }
      if constexpr (DP == 0) {
#pragma GCC unroll 6
        for (int c = 0; c < kCols; ++c) acc[c] = _mm512_add_ps(acc[c], (__m512)wv[c]);
      }
#pragma GCC unroll 48
      for (int d = 0; d < DP; ++d) acc[d % kAcc] = _mm512_dpbf16_ps(acc[d % kAcc], d / kCols % 2 ? x1 : x0, wv[d % kCols]);
    }
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kAcc; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}

typedef float (*Pass)(const uint16_t*, int64_t, __m512bh, __m512bh);
struct Variant { int dp; Pass f; };
const Variant kVariants[] = {{0, pass<0>}, {6, pass<6>}, {12, pass<12>}, {24, pass<24>}, {48, pass<48>}};
constexpr int kCount = sizeof(kVariants) / sizeof(kVariants[0]);

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : (int)std::thread::hardware_concurrency();
  const __m512bh x0 = (__m512bh)_mm512_set1_epi16(0x3f80), x1 = (__m512bh)_mm512_set1_epi16(0x3f00);  // 1, 0.5
  std::printf("%d thread(s); per line: weight GB/s, vdpbf16ps per ns, and GB/s over the loads-only line's in the same rounds\n",
              threads);
  for (int64_t rows : {48, 60000}) {  // 384 KiB a thread (L2), 491 MB a thread (DRAM)
    std::vector<uint16_t*> w(threads);
    for (int t = 0; t < threads; ++t) {
      w[t] = static_cast<uint16_t*>(std::aligned_alloc(64, rows * kK * 2));
      if (!w[t]) {
        std::fprintf(stderr, "cannot allocate %lld bytes\n", (long long)(rows * kK * 2));
        return 1;
      }
      for (int64_t i = 0; i < rows * kK; ++i) w[t][i] = (uint16_t)(0x3f00 + ((uint32_t)(i * 2654435761u) >> 24));
    }
    const int passes = rows < 60000 ? (int)(60000 / rows) : 1;
    std::vector<double> gb[kCount], rel[kCount];
    for (int round = 0; round < 7; ++round) {
      double secs[kCount];
      for (int v = 0; v < kCount; ++v) {
        std::vector<float> sums(threads);  // one per thread, read after the joins: the passes stay live
        std::vector<std::thread> pool;
        const auto t0 = std::chrono::steady_clock::now();
        for (int t = 0; t < threads; ++t)
          pool.emplace_back([&, t] {
            for (int p = 0; p < passes; ++p) sums[t] += kVariants[v].f(w[t], rows, x0, x1);
          });
        for (auto& th : pool) th.join();
        secs[v] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (sums[0] == 12345.f) std::printf(" ");
      }
      for (int v = 0; v < kCount; ++v) {
        gb[v].push_back((double)passes * threads * (rows / kCols * kCols) * kK * 2 / secs[v] / 1e9);
        rel[v].push_back(secs[0] / secs[v]);
      }
    }
    for (int v = 0; v < kCount; ++v) {
      const double g = median(gb[v]);
      std::printf("%-5s %2d vdpbf16ps a step: %6.1f GB/s  %5.2f dp/ns  %.2f of loads only\n", rows < 60000 ? "L2" : "DRAM",
                  kVariants[v].dp, g, g / 384 * kVariants[v].dp, median(rel[v]));
    }
    for (auto* p : w) std::free(p);
  }
  return 0;
}
