// Times the CPU attention and score pass through the C API alone (no JVM), per ISA path: the
// median of 10 calls on random inputs. Used for quick A/B comparisons of kernel changes; JMH
// (AttentionBench) remains the reference for the published ratios.
//
// Build and run (after `mvn -q package -DskipTests` made target/native):
//   g++ -O2 -Isrc/main/cpp benchmarks/native/attention_timer.cpp -Ltarget/native
//       -lfitprune_cuda -lfitprune_cpu -lcudart_static -lpthread -ldl -lrt -o /tmp/attention_timer
//   (one command line)
//   /tmp/attention_timer 650 32 32 128 35 576      # n H G d P V
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fitprune.h"

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s n H G d P V\n", argv[0]);
    return 2;
  }
  const long n = std::atol(argv[1]), P = std::atol(argv[5]), V = std::atol(argv[6]);
  const int H = std::atoi(argv[2]), G = std::atoi(argv[3]), d = std::atoi(argv[4]);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> q(n * H * d), k(n * G * d), v(n * G * d), out(n * H * d), lse(H * n), self(V), cross(V);
  for (auto* vec : {&q, &k, &v})
    for (float& x : *vec) x = normal(rng);
  using clock = std::chrono::steady_clock;
  for (int isa = FP_ISA_AVX2; isa <= FP_ISA_AVX512; ++isa) {
    if (!fp_cpu_isa_supported(isa)) continue;
    fp_cpu_set_isa(isa);
    std::vector<double> ta, ts;
    for (int it = 0; it < 10; ++it) {
      const auto t0 = clock::now();
      int st = fp_cpu_attention_f32(q.data(), k.data(), v.data(), n, H, G, d, out.data(), lse.data());
      const auto t1 = clock::now();
      st |= fp_cpu_scores_f32(q.data(), k.data(), lse.data(), n, H, G, d, P, V, self.data(), cross.data());
      const auto t2 = clock::now();
      if (st != FP_OK) {
        std::fprintf(stderr, "error: %s\n", fp_last_error());
        return 1;
      }
      ta.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      ts.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
    std::sort(ta.begin(), ta.end());
    std::sort(ts.begin(), ts.end());
    const double flops = 2.0 * n * n * d * H;  // causal: half of 4*n^2*d*H
    std::printf("%s: attention median %.2f ms (%.1f GFLOP/s), scores median %.2f ms\n",
                isa == FP_ISA_AVX512 ? "avx512" : "avx2", ta[5], flops / ta[5] / 1e6, ts[5]);
  }
  return 0;
}
