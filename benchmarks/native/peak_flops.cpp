// The CPU's arithmetic limits, which the kernels' efficiency figures in RESULTS.md are fractions
// of: a tight loop of 512-bit fp32 FMAs (vfmadd231ps, 32 FLOP each) and one of bf16 dot products
// (vdpbf16ps, 64 FLOP each), 12 independent accumulators so latency is hidden, on one thread and
// on every thread at once. Best of 5 runs; the loops are fully unrolled so the accumulators stay
// in registers.
//
// Build and run (one command line):
//   g++ -O2 -mavx512f -mavx512bf16 -pthread benchmarks/native/peak_flops.cpp -o /tmp/peak_flops && /tmp/peak_flops
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

constexpr int kAcc = 12;
constexpr long kIters = 20'000'000;

float fma_loop() {
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < kIters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

float dpbf16_loop() {
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(0.001f * i);
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3380);  // 1.0, ~6e-8
  for (long it = 0; it < kIters; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

// GFLOP/s of `threads` threads each running loop once; best of 5.
double measure(float (*loop)(), double flop_per_instr, int threads) {
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<std::thread> pool;
    std::vector<float> sink(threads);
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { sink[t] = loop(); });
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (sink[0] == 12345.f) std::printf(" ");  // keeps the result live
    best = std::max(best, threads * flop_per_instr * kAcc * kIters / s / 1e9);
  }
  return best;
}

}  // namespace

int main() {
  const int n = (int)std::max(1u, std::thread::hardware_concurrency());
  const double f1 = measure(fma_loop, 32, 1), fn = measure(fma_loop, 32, n);
  const double b1 = measure(dpbf16_loop, 64, 1), bn = measure(dpbf16_loop, 64, n);
  std::printf("fp32 vfmadd231ps zmm: %.1f GFLOP/s on 1 thread, %.1f on %d threads\n", f1, fn, n);
  std::printf("bf16 vdpbf16ps zmm:   %.1f GFLOP/s on 1 thread, %.1f on %d threads\n", b1, bn, n);
  return 0;
}
