// Times the CPU attention and score pass through the C API alone (no JVM), per ISA path and
// element type (fp32, and the same inputs rounded to bf16 with bf16 output): the median of 10
// calls on random inputs, the two types interleaved call by call so load changes hit both; and
// the score pass separately (fp_cpu_scores) and fused into attention (fp_cpu_attention_scores). Used for quick A/B comparisons of kernel changes; JMH
// (AttentionBench) remains the reference for the published ratios.
//
// Build and run (after `mvn -q package -DskipTests` made target/native):
//   g++ -O2 -Isrc/main/cpp benchmarks/native/attention_timer.cpp -Ltarget/native
//       -lfitprune_cuda -lfitprune_cpu -lcudart_static -lpthread -ldl -lrt -o /tmp/attention_timer
//   (one command line)
//   /tmp/attention_timer 650 32 32 128 35 576      # n H G d P V
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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
  const float scale = 1.f / std::sqrt((float)d);  // the default softmax scale
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> q(n * H * d), k(n * G * d), v(n * G * d), out(n * H * d), lse(H * n), self(V), cross(V);
  for (auto* vec : {&q, &k, &v})
    for (float& x : *vec) x = normal(rng);
  std::vector<uint16_t> qb(q.size()), kb(k.size()), vb(v.size()), outb(out.size());
  auto round_bf16 = [](const std::vector<float>& f, std::vector<uint16_t>& b) {
    for (size_t i = 0; i < f.size(); ++i) {
      uint32_t u;
      std::memcpy(&u, &f[i], 4);
      b[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
  };
  round_bf16(q, qb);
  round_bf16(k, kb);
  round_bf16(v, vb);
  using clock = std::chrono::steady_clock;
  const char* names[] = {"generic", "avx2", "avx512", "avx512bf16"};
  for (int isa = FP_ISA_AVX2; isa <= FP_ISA_AVX512_BF16; ++isa) {
    if (!fp_cpu_isa_supported(isa)) continue;
    fp_cpu_set_isa(isa);
    std::vector<double> t[2][3];  // [dtype][attention, scores, attention+scores fused]
    for (int it = 0; it < 10; ++it) {
      for (int bf = 0; bf < 2; ++bf) {
        const int dt = bf ? FP_DTYPE_BF16 : FP_DTYPE_F32;
        const void *pq = bf ? (const void*)qb.data() : q.data(), *pk = bf ? (const void*)kb.data() : k.data();
        const void* pv = bf ? (const void*)vb.data() : v.data();
        void* po = bf ? (void*)outb.data() : out.data();
        const auto t0 = clock::now();
        int st = fp_cpu_attention(pq, pk, pv, n, H, G, d, dt, scale, po, dt, lse.data());
        const auto t1 = clock::now();
        st |= fp_cpu_scores(pq, pk, lse.data(), n, H, G, d, dt, scale, P, V, self.data(), cross.data());
        const auto t2 = clock::now();
        st |= fp_cpu_attention_scores(pq, pk, pv, n, H, G, d, dt, scale, po, dt, lse.data(), P, V, self.data(), cross.data());
        const auto t3 = clock::now();
        if (st != FP_OK) {
          std::fprintf(stderr, "error: %s\n", fp_last_error());
          return 1;
        }
        t[bf][0].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        t[bf][1].push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
        t[bf][2].push_back(std::chrono::duration<double, std::milli>(t3 - t2).count());
      }
    }
    for (auto& a : t)
      for (auto& b : a) std::sort(b.begin(), b.end());
    const double flops = 2.0 * n * n * d * H;  // causal: half of 4*n^2*d*H
    for (int bf = 0; bf < 2; ++bf)
      std::printf("%s %s: attention median %.2f ms (%.1f GFLOP/s), scores %.2f ms, fused attention+scores %.2f ms; "
                  "over attention: separate %.2f, fused %.2f\n",
                  names[isa], bf ? "bf16" : "fp32", t[bf][0][5], flops / t[bf][0][5] / 1e6, t[bf][1][5], t[bf][2][5],
                  (t[bf][0][5] + t[bf][1][5]) / t[bf][0][5], t[bf][2][5] / t[bf][0][5]);
    std::printf("%s: bf16/fp32 attention %.2f\n", names[isa], t[1][0][5] / t[0][0][5]);
  }
  return 0;
}
