// The machine's streaming read bandwidth, which decode efficiency figures in RESULTS.md are
// fractions of: the library's own read loop (src/main/cpp/read_probe.h: 512-bit loads, four
// far-apart streams per thread, software prefetch) over a 2 GiB buffer, far past the caches, on one
// thread and on every thread at once (each thread its contiguous share). Best of 5 runs.
//
// Build and run (one command line):
//   g++ -O2 -mavx512f -pthread -Isrc/main/cpp benchmarks/native/bandwidth.cpp -o /tmp/bandwidth && /tmp/bandwidth
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "read_probe.h"

namespace {

// GB/s of `threads` threads each streaming its share of [p, p + bytes) once; best of 5.
double measure(const char* p, int64_t bytes, int threads) {
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<std::thread> pool;
    std::vector<uint64_t> sink(threads);
    const int64_t share = bytes / threads / 64 * 64;
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { sink[t] = stream_read_loop(p + t * share, share); });
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (sink[0] == 12345) std::printf(" ");  // keeps the result live
    best = std::max(best, (double)share * threads / s / 1e9);
  }
  return best;
}

}  // namespace

int main() {
  const int64_t bytes = int64_t(2) << 30;
  char* p = static_cast<char*>(std::aligned_alloc(4096, bytes));
  if (!p) {
    std::fprintf(stderr, "cannot allocate %lld bytes\n", (long long)bytes);
    return 1;
  }
  std::memset(p, 1, bytes);  // real pages, not the shared zero page
  const int all = (int)std::max(1u, std::thread::hardware_concurrency());
  std::printf("read bandwidth: %.1f GB/s on 1 thread, %.1f on %d threads\n", measure(p, bytes, 1), measure(p, bytes, all), all);
  std::free(p);
  return 0;
}
