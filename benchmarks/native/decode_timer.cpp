// Times a decode step's native parts through the C API alone (no JVM), for quick A/B comparisons
// of kernel changes (JMH's DecodeStepBench and GemvBench remain the reference for published ratios):
// - `linear [L [N [ISA]]]`: fp_cpu_linear over L [N, 4096] BF16 weights (default eight [11008,
//   4096], 721 MB a pass, far past the caches; `linear 4 512` fits in cache and measures the
//   arithmetic) at 1, 2, 8 and 16 rows, beside fp_cpu_read_stream over the same weights; medians
//   of 7 passes, three rounds. ISA (an fp_isa value, e.g. 1 for AVX2) forces an instruction-set
//   path.
// - `attention B KV [L [H G]]`: fp_cpu_decode_attention, bf16, d = 128, H query heads over G kv
//   heads (default 32 and 32; Qwen2-VL-7B is 28 and 4), one new token for each of B sequences
//   with KV cached rows, over L layers of separate caches (default 32, so the K/V come from
//   memory; L = 1 repeated measures the compute from cache); median of 15 passes.
//
// Build and run (after `mvn -q package -DskipTests` made target/native):
//   g++ -O2 -Isrc/main/cpp benchmarks/native/decode_timer.cpp -Ltarget/native
//       -lfitprune_cuda -lfitprune_cpu -lcudart_static -lpthread -ldl -lrt -o /tmp/decode_timer
//   (one command line)
//   /tmp/decode_timer linear
//   /tmp/decode_timer linear 4 512
//   /tmp/decode_timer attention 1 665
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fitprune.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

uint16_t* random_bf16(int64_t count, uint32_t seed) {  // values near 1, in (0.5, 2)
  auto* p = static_cast<uint16_t*>(std::aligned_alloc(64, (count * 2 + 63) / 64 * 64));
  if (!p) {
    std::fprintf(stderr, "cannot allocate %lld values\n", (long long)count);
    std::exit(1);
  }
  for (int64_t i = 0; i < count; ++i) p[i] = (uint16_t)(0x3f00 + ((uint32_t)(i * 2654435761u + seed) >> 24));
  return p;
}

void check(int st, const char* what) {
  if (st != FP_OK) {
    std::fprintf(stderr, "%s failed (%d)\n", what, st);
    std::exit(1);
  }
}

int time_linear(int L, int64_t N, int isa) {
  const int64_t K = 4096;
  if (isa >= 0) check(fp_cpu_set_isa(isa), "fp_cpu_set_isa");
  std::vector<uint16_t*> w(L);
  for (int l = 0; l < L; ++l) w[l] = random_bf16(N * K, l);
  std::vector<float> x(16 * K), y(16 * N);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)(i % 7) * 0.1f;
  const int32_t dtype = FP_DTYPE_BF16;
  const double bytes = (double)L * N * K * 2;
  for (int round = 0; round < 3; ++round) {
    for (int rows : {1, 2, 8, 16}) {
      std::vector<double> t;
      for (int rep = 0; rep < 7; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int l = 0; l < L; ++l) {
          const void* wl = w[l];
          float* yl = y.data();
          check(fp_cpu_linear(x.data(), rows, K, 1, &wl, &dtype, &N, &yl, 0), "fp_cpu_linear");
        }
        t.push_back(seconds_since(t0));
      }
      std::printf("rows %2d: %6.2f ms (%5.1f GB/s)  ", rows, median(t) * 1e3, bytes / median(t) / 1e9);
    }
    std::vector<double> t;
    for (int rep = 0; rep < 7; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int l = 0; l < L; ++l) {
        uint64_t sum;
        check(fp_cpu_read_stream(w[l], N * K * 2, 0, &sum), "fp_cpu_read_stream");
      }
      t.push_back(seconds_since(t0));
    }
    std::printf("probe %6.2f ms (%5.1f GB/s)\n", median(t) * 1e3, bytes / median(t) / 1e9);
  }
  return 0;
}

int time_attention(int B, int64_t kv, int L, int H, int G) {
  const int d = 128;
  const int64_t row = (int64_t)G * d, qrow = (int64_t)H * d;
  std::vector<const void*> k(L * B), v(L * B);
  for (int i = 0; i < L * B; ++i) {
    k[i] = random_bf16(kv * row, 2 * i);
    v[i] = random_bf16(kv * row, 2 * i + 1);
  }
  uint16_t* q = random_bf16(B * qrow, 99);
  std::vector<float> out(B * qrow);
  std::vector<int64_t> cu(B + 1), len(B, kv);
  for (int b = 0; b <= B; ++b) cu[b] = b;
  const int reps = L == 1 ? 400 : 1;  // one layer: repeat it, so the caches serve from cache
  std::vector<double> t;
  for (int pass = 0; pass < 15; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r)
      for (int l = 0; l < L; ++l)
        check(fp_cpu_decode_attention(q, cu.data(), B, H, G, d, FP_DTYPE_BF16, 0.0884f, &k[l * B], &v[l * B],
                                      len.data(), out.data(), FP_DTYPE_F32, nullptr),
              "fp_cpu_decode_attention");
    t.push_back(seconds_since(t0) / reps);
  }
  const double bytes = 2.0 * L * B * kv * row * 2;
  std::printf("B %d, %lld rows, %d layers, H %d, G %d: %.2f ms a pass (%.1f GB/s of K/V)\n", B, (long long)kv, L, H, G,
              median(t) * 1e3, bytes / median(t) / 1e9);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && !std::strcmp(argv[1], "linear"))
    return time_linear(argc > 2 ? std::atoi(argv[2]) : 8, argc > 3 ? std::atoll(argv[3]) : 11008,
                       argc > 4 ? std::atoi(argv[4]) : -1);
  if (argc >= 4 && !std::strcmp(argv[1], "attention"))
    return time_attention(std::atoi(argv[2]), std::atoll(argv[3]), argc > 4 ? std::atoi(argv[4]) : 32,
                          argc > 6 ? std::atoi(argv[5]) : 32, argc > 6 ? std::atoi(argv[6]) : 32);
  std::fprintf(stderr, "usage: decode_timer linear [L [N [ISA]]] | decode_timer attention B KV [L [H G]]\n");
  return 2;
}
