// The machine's streaming read bandwidth, which decode efficiency figures in RESULTS.md are
// fractions of: the library's own read loop (src/main/cpp/read_probe.h: 512-bit loads, four
// far-apart streams per thread, software prefetch) over a 2 GiB buffer, far past the caches, on one
// thread and on every thread at once (each thread its contiguous share). Best of 5 runs.
//
// With `spacing`, it also shows why the probe (and the dense decode kernel) read several streams
// far apart: every thread reads its share as one stream, then as four streams `S` bytes apart
// (groups of 4 S: stream j reads [j S, (j + 1) S) of each group, all four in lockstep), for S =
// 8 KiB (four adjacent rows of a [n, 4096] BF16 matrix), 64 KiB, 1 MiB and a quarter of the share
// (the probe's own pattern). These loops touch one
// word per cache line (the memory still moves whole lines), with the probe's 2 KiB prefetch.
//
// Build and run (one command line):
//   g++ -O2 -mavx512f -pthread -Isrc/main/cpp benchmarks/native/bandwidth.cpp -o /tmp/bandwidth && /tmp/bandwidth
//   /tmp/bandwidth spacing
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "read_probe.h"

namespace {

// One word of every cache line of [p, p + bytes), as `streams` streams `spacing` bytes apart
// (streams = 1: in order); returns a sum so the loads stay.
uint64_t spaced_read(const char* p, int64_t bytes, int streams, int64_t spacing) {
  uint64_t sum = 0;
  if (streams == 1) {
    for (int64_t i = 0; i + 64 <= bytes; i += 64) {
      _mm_prefetch(p + i + 2048, _MM_HINT_T0);
      sum += *reinterpret_cast<const uint64_t*>(p + i);
    }
    return sum;
  }
  const int64_t group = streams * spacing;
  for (int64_t g = 0; g + group <= bytes; g += group)
    for (int64_t i = 0; i < spacing; i += 64)
      for (int j = 0; j < streams; ++j) {
        const char* q = p + g + j * spacing + i;
        _mm_prefetch(q + 2048, _MM_HINT_T0);
        sum += *reinterpret_cast<const uint64_t*>(q);
      }
  return sum;
}

// GB/s of `threads` threads each reading its share of [p, p + bytes) once with `read`; best of 5.
template <class Read>
double measure(const char* p, int64_t bytes, int threads, Read read) {
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<std::thread> pool;
    std::vector<uint64_t> sink(threads);
    const int64_t share = bytes / threads / 64 * 64;
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] { sink[t] = read(p + t * share, share); });
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (sink[0] == 12345) std::printf(" ");  // keeps the result live
    best = std::max(best, (double)share * threads / s / 1e9);
  }
  return best;
}

double probe(const char* p, int64_t bytes, int threads) {
  return measure(p, bytes, threads, [](const char* q, int64_t n) { return stream_read_loop(q, n); });
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t bytes = int64_t(2) << 30;
  char* p = static_cast<char*>(std::aligned_alloc(4096, bytes));
  if (!p) {
    std::fprintf(stderr, "cannot allocate %lld bytes\n", (long long)bytes);
    return 1;
  }
  std::memset(p, 1, bytes);  // real pages, not the shared zero page
  const int all = (int)std::max(1u, std::thread::hardware_concurrency());
  std::printf("read bandwidth: %.1f GB/s on 1 thread, %.1f on %d threads\n", probe(p, bytes, 1), probe(p, bytes, all), all);
  if (argc > 1 && !std::strcmp(argv[1], "spacing")) {
    const double one = measure(p, bytes, all, [](const char* q, int64_t n) { return spaced_read(q, n, 1, 0); });
    std::printf("one stream a thread: %.1f GB/s on %d threads\n", one, all);
    for (int64_t spacing : {int64_t(8) << 10, int64_t(64) << 10, int64_t(1) << 20, int64_t(0)}) {
      // 0: the probe's pattern, each stream a quarter of the thread's share
      const double four = measure(p, bytes, all, [spacing](const char* q, int64_t n) {
        return spaced_read(q, n, 4, spacing ? spacing : n / 4 / 64 * 64);
      });
      if (spacing) std::printf("four streams %lld KiB apart: %.1f GB/s on %d threads\n", (long long)(spacing >> 10), four, all);
      else std::printf("four streams a quarter of the share apart: %.1f GB/s on %d threads\n", four, all);
    }
  }
  std::free(p);
  return 0;
}
