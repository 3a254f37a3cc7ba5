// The dense decode kernel's arithmetic alone: the library's own linear_block (linear.hpp, compiled
// here for the avx512bf16 path exactly as kernels_avx512bf16.cpp compiles it) on one thread, with
// BF16 weights of `n` rows x 4096 that stay in L1/L2 (n = 6, 24), in L3 (n = 1536) or come from
// memory (n = 60000), for 1, 4, 8 and 16 rows of x. It reports vdpbf16ps instructions per
// nanosecond, to set against peak_flops' figure (64 FLOP each): what the 4 x 6 register tile and
// its k chunks can reach when memory is not the limit, and how much of that survives when the
// weights stream from DRAM. `threads` copies run at once, each on its own weights.
//
// Build and run (after `mvn -q package -DskipTests` made target/native; one command line):
//   g++ -O3 -std=c++17 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx512bf16 -mavx2 -mfma
//       -mprefer-vector-width=512 -pthread -Isrc/main/cpp benchmarks/native/linear_tile.cpp
//       -Ltarget/native -lfitprune_cpu -lpthread -o /tmp/linear_tile
//   /tmp/linear_tile [threads]
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "internal.h"

namespace fp {
namespace tile_bench {
#include "simd.h"
#include "kernels.hpp"
#include "decode.hpp"
#include "linear.hpp"
}  // namespace tile_bench
}  // namespace fp

namespace {

using fp::bf16;
constexpr int64_t kK = 4096;

struct Job {
  std::vector<bf16> w, xb;
  std::vector<float> y;
  Job(int64_t n, int rows) : w(n * kK), xb(rows * kK), y(rows * n) {
    for (int64_t i = 0; i < n * kK; ++i) w[i] = (bf16)(0x3f00 + ((uint32_t)(i * 2654435761u) >> 24));  // near 1
    std::vector<float> x(rows * kK);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f + 0.01f * (float)(i % 97);
    fp::tile_bench::pack_x(x.data(), rows, kK, xb.data());
  }
  void run(int64_t n, int rows) {
    fp::tile_bench::linear_block(xb.data(), rows, kK, w.data(), 0, n, y.data(), n, false);
  }
};

// vdpbf16ps per ns over `threads` threads, each passing over its own n x 4096 weights; best of 5
// timings of enough passes for about 0.2 s.
double measure(int64_t n, int rows, int threads) {
  std::vector<Job> jobs;
  for (int t = 0; t < threads; ++t) jobs.emplace_back(n, rows);
  const int64_t passes = std::max<int64_t>(1, (int64_t)4e9 / (n * kK * 2) / 4);
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<std::thread> pool;
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (int64_t p = 0; p < passes; ++p) jobs[t].run(n, rows);
      });
    for (auto& th : pool) th.join();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / passes);
  }
  double sink = 0;
  for (auto& j : jobs) sink += j.y[0];
  if (sink == 12345) std::printf(" ");  // keeps the results live
  return (double)threads * n * (kK / 32) * rows / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  std::printf("vdpbf16ps per ns, %d thread(s); weight GB/s = dp/ns x 64 / rows\n", threads);
  for (int64_t n : {6, 24, 1536, 60000}) {
    std::printf("n %6lld:", (long long)n);
    for (int rows : {1, 4, 8, 16}) {
      const double dp = measure(n, rows, threads);
      std::printf("  rows %2d %5.2f dp/ns (%5.1f GB/s)", rows, dp, dp * 64 / rows);
    }
    std::printf("\n");
  }
  return 0;
}
