// The dense decode kernel's arithmetic alone: the library's own linear_block (linear.hpp, compiled
// here for the avx512bf16 path exactly as kernels_avx512bf16.cpp compiles it) on one thread, with
// BF16 weights of `n` rows x 4096 that stay in L1/L2 (n = 6, 24), in L3 (n = 1536) or come from
// memory (n = 60000), for 1, 4, 8 and 16 rows of x. It reports vdpbf16ps instructions per
// nanosecond, to set against peak_flops' figure (64 FLOP each): what the 4 x 6 register tile and
// its k chunks can reach when memory is not the limit, and how much of that survives when the
// weights stream from DRAM. `threads` copies run at once, each on its own weights. Buffers sit on
// 64-byte boundaries, as fp_cpu_linear's packed x is; the last two lines time, in turns, DRAM
// weights 56 bytes past one (as a mapped checkpoint's tensors lie) and x misaligned as well, and
// the last four the 4 x 6 tile against the quad tile (five to eight rows) beside the read probe.
//
// Build and run (after `mvn -q package -DskipTests` made target/native; one command line):
//   g++ -O3 -std=c++17 -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx512bf16 -mavx2 -mfma
//       -mprefer-vector-width=512 -pthread -Isrc/main/cpp benchmarks/native/linear_tile.cpp
//       -Ltarget/native -lfitprune_cpu -lpthread -o /tmp/linear_tile
//   /tmp/linear_tile [threads] [quad]   (quad: only the quad-against-4 x 6 lines)
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
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

// Memory on a 64-byte boundary, or `offset` bytes past one.
struct Buffer {
  char* base;
  size_t offset;
  Buffer(size_t bytes, size_t offset)
      : base(static_cast<char*>(std::aligned_alloc(64, (bytes + offset + 63) / 64 * 64))), offset(offset) {
    if (!base) {
      std::fprintf(stderr, "cannot allocate %zu bytes\n", bytes + offset);
      std::exit(1);
    }
  }
  ~Buffer() { std::free(base); }
  Buffer(const Buffer&) = delete;
  template <class T> T* as() const { return reinterpret_cast<T*>(base + offset); }
};

// One thread's weights, x and y. `w_offset` and `x_offset` put the weights and the packed x that
// many bytes past a 64-byte boundary: a mapped checkpoint's tensors lie 8-byte aligned, and
// fp_cpu_linear packs x into 64-byte aligned scratch.
struct Job {
  Buffer w, xb, xq, y;
  bool quad = false;  // run quad_block (x in the four-rows-a-vector layout) instead of the 4 x 6 tile
  Job(int64_t n, int rows, size_t w_offset, size_t x_offset)
      : w(n * kK * 2, w_offset), xb(rows * kK * 2, x_offset), xq(fp::kLinQuadRows * kK * 2, x_offset),
        y(rows * n * 4, 0) {
    bf16* wp = w.as<bf16>();
    for (int64_t i = 0; i < n * kK; ++i) wp[i] = (bf16)(0x3f00 + ((uint32_t)(i * 2654435761u) >> 24));  // near 1
    std::vector<float> x(rows * kK);
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f + 0.01f * (float)(i % 97);
    fp::tile_bench::pack_x(x.data(), rows, kK, xb.as<bf16>());
    if (rows <= fp::kLinQuadRows) fp::tile_bench::pack_quad(x.data(), rows, kK, xq.as<bf16>());
  }
  void run(int64_t n, int rows) {
    if (quad) fp::tile_bench::quad_block(xq.as<bf16>(), rows, kK, w.as<bf16>(), 0, n, y.as<float>(), n, false);
    else fp::tile_bench::linear_block(xb.as<bf16>(), rows, kK, w.as<bf16>(), 0, n, y.as<float>(), n, false);
  }
};

using Jobs = std::vector<std::unique_ptr<Job>>;

Jobs make_jobs(int64_t n, int rows, int threads, size_t w_offset, size_t x_offset) {
  Jobs jobs;
  for (int t = 0; t < threads; ++t) jobs.push_back(std::make_unique<Job>(n, rows, w_offset, x_offset));
  return jobs;
}

// Seconds a pass, over `passes` passes of every thread over its own weights.
double time_passes(Jobs& jobs, int64_t n, int rows, int64_t passes) {
  std::vector<std::thread> pool;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t t = 0; t < jobs.size(); ++t)
    pool.emplace_back([&, t] {
      for (int64_t p = 0; p < passes; ++p) jobs[t]->run(n, rows);
    });
  for (auto& th : pool) th.join();
  double sink = 0;
  for (auto& j : jobs) sink += j->y.as<float>()[0];
  if (sink == 12345) std::printf(" ");  // keeps the results live
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / passes;
}

// vdpbf16ps per ns over `threads` threads, each passing over its own n x 4096 weights; best of 5
// timings of enough passes for about 0.2 s.
double measure(int64_t n, int rows, int threads) {
  Jobs jobs = make_jobs(n, rows, threads, 0, 0);
  const int64_t passes = std::max<int64_t>(1, (int64_t)4e9 / (n * kK * 2) / 4);
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) best = std::min(best, time_passes(jobs, n, rows, passes));
  return (double)threads * n * (kK / 32) * rows / best / 1e9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One round of three timings: each one's weight GB/s, and its speed over timing `ref`'s.
void record(const double (&t)[3], int ref, int threads, int64_t n, std::vector<double> (&gb)[3],
            std::vector<double> (&ratio)[3]) {
  for (int i = 0; i < 3; ++i) {
    gb[i].push_back(threads * n * kK * 2 / t[i] / 1e9);
    ratio[i].push_back(t[ref] / t[i]);
  }
}

// Weights from DRAM with everything on 64-byte boundaries, with the weights 56 bytes past one (every
// weight load splits two lines), and with x 16 bytes past one too (every load splits), one pass
// each in turn, 15 rounds: the memory's speed moves by tens of percent within seconds here, so
// only turns taken side by side compare.
void offsets(int threads) {
  const int64_t n = 60000;
  for (int rows : {1, 8}) {
    Jobs v[3] = {make_jobs(n, rows, threads, 0, 0), make_jobs(n, rows, threads, 56, 0),
                 make_jobs(n, rows, threads, 56, 16)};
    std::vector<double> gb[3], ratio[3];
    for (int round = 0; round < 15; ++round) {
      double t[3];
      for (int i = 0; i < 3; ++i) t[i] = time_passes(v[i], n, rows, 1);
      record(t, 0, threads, n, gb, ratio);
    }
    std::printf("DRAM, rows %2d, medians of 15 rounds: aligned %5.1f GB/s; weights +56 B %5.1f (%.2f of aligned); "
                "and x +16 B %5.1f (%.2f)\n", rows, median(gb[0]), median(gb[1]), median(ratio[1]), median(gb[2]),
                median(ratio[2]));
  }
}

// Five to eight rows from DRAM: the 4 x 6 tile (two passes over each chunk at eight rows) against
// the quad tile fp_cpu_linear takes for them, and the read probe, one pass each in turn, 9 rounds.
void quad_vs_tile(int threads) {
  const int64_t n = 60000;
  for (int rows = 5; rows <= 8; ++rows) {
    Jobs tile = make_jobs(n, rows, threads, 0, 0), quad = make_jobs(n, rows, threads, 0, 0);
    for (auto& j : quad) j->quad = true;
    std::vector<double> gb[3], ratio[3];
    for (int round = 0; round < 9; ++round) {
      double t[3];
      t[0] = time_passes(tile, n, rows, 1);
      t[1] = time_passes(quad, n, rows, 1);
      std::vector<std::thread> pool;  // the probe: the same threads read the same weights, nothing else
      uint64_t sums[64] = {0};
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < threads; ++i)
        pool.emplace_back([&, i] { sums[i % 64] = fp::tile_bench::stream_read_loop(tile[i]->w.as<char>(), n * kK * 2); });
      for (auto& th : pool) th.join();
      t[2] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (sums[0] == 12345) std::printf(" ");
      record(t, 2, threads, n, gb, ratio);
    }
    std::printf("DRAM, rows %d, medians of 9 rounds: probe %5.1f GB/s; 4 x 6 tile %5.1f (%.2f of the probe); "
                "quad tile %5.1f (%.2f)\n", rows, median(gb[2]), median(gb[0]), median(ratio[0]), median(gb[1]),
                median(ratio[1]));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  if (argc > 2 && std::string(argv[2]) == "quad") {  // only the last four lines
    quad_vs_tile(threads);
    return 0;
  }
  std::printf("vdpbf16ps per ns, %d thread(s); weight GB/s = dp/ns x 64 / rows\n", threads);
  for (int64_t n : {6, 24, 1536, 60000}) {
    std::printf("n %6lld:", (long long)n);
    for (int rows : {1, 4, 8, 16}) {
      const double dp = measure(n, rows, threads);
      std::printf("  rows %2d %5.2f dp/ns (%5.1f GB/s)", rows, dp, dp * 64 / rows);
    }
    std::printf("\n");
  }
  offsets(threads);
  quad_vs_tile(threads);
  return 0;
}
