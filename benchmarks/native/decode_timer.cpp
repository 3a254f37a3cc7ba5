// Times a decode step's native parts through the C API alone (no JVM), for quick A/B comparisons
// of kernel changes (JMH's DecodeStepBench and GemvBench remain the reference for published ratios):
// - `linear [L [N [ISA]]]`: fp_cpu_linear over L [N, 4096] BF16 weights (default eight [11008,
//   4096], 721 MB a pass, far past the caches; `linear 4 512` fits in cache and measures the
//   arithmetic) at 1, 2, 8 and 16 rows, beside fp_cpu_read_stream over the same weights; medians
//   of 7 passes, three rounds. ISA (an fp_isa value, e.g. 1 for AVX2) forces an instruction-set
//   path.
// - `step [L [ROWS]]`: the dense layers of a LLaMA-7B decode step (D = 4096, F = 11008, BF16)
//   grouped as the JVM's DecodeStep calls them: q/k/v in one call, o, gate/up with SwiGLU in one
//   call, down, for L layers (default 32, 13.2 GB with the 32064-row LM head), for ROWS rows
//   (default 1); each pass is followed by the read probe over the same weights, matrix by matrix,
//   and six pass/probe pairs are printed with their ratio. Compared with `prefill --generate`'s
//   decode line, it tells the kernels' share of a 7B step from the JVM's.
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
//   /tmp/decode_timer step
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

int time_step(int L, int rows) {
  const int64_t D = 4096, F = 11008, V = 32064;
  const int32_t bf16[3] = {FP_DTYPE_BF16, FP_DTYPE_BF16, FP_DTYPE_BF16};
  const int64_t nD[3] = {D, D, D}, nF[2] = {F, F};
  struct Layer {
    const void* qkv[3];
    const void* o;
    const void* gate_up[2];
    const void* down;
  };
  std::vector<Layer> layers(L);
  std::vector<std::pair<const void*, int64_t>> all;  // every matrix and its bytes, in reading order
  auto add = [&](int64_t count, uint32_t seed) {
    const void* w = random_bf16(count, seed);
    all.push_back({w, count * 2});
    return w;
  };
  for (int l = 0; l < L; ++l) {
    Layer& y = layers[l];
    for (int i = 0; i < 3; ++i) y.qkv[i] = add(D * D, 8 * l + i);
    y.o = add(D * D, 8 * l + 3);
    for (int i = 0; i < 2; ++i) y.gate_up[i] = add(F * D, 8 * l + 4 + i);
    y.down = add(D * F, 8 * l + 6);
  }
  const void* head = add(V * D, 8 * L);
  double bytes = 0;
  for (auto& m : all) bytes += (double)m.second;
  std::vector<float> x(rows * D), q(rows * D), k(rows * D), v(rows * D), res(rows * D), g(rows * F), u(rows * F),
      logits(rows * V);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (float)(i % 7) * 0.1f;
  for (size_t i = 0; i < q.size(); ++i) q[i] = (float)(i % 5) * 0.1f;
  std::printf("step: %d layers + LM head, %d row(s), %.2f GB of BF16 weights\n", L, rows, bytes / 1e9);
  for (int pass = 0; pass < 6; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    for (const Layer& y : layers) {
      float* qkv[3] = {q.data(), k.data(), v.data()};
      check(fp_cpu_linear(x.data(), rows, D, 3, y.qkv, bf16, nD, qkv, 0), "q/k/v");
      float* r = res.data();
      check(fp_cpu_linear(q.data(), rows, D, 1, &y.o, bf16, nD, &r, FP_LINEAR_ACCUMULATE), "o");
      float* gu[2] = {g.data(), u.data()};
      check(fp_cpu_linear(x.data(), rows, D, 2, y.gate_up, bf16, nF, gu, FP_LINEAR_SWIGLU), "gate/up");
      check(fp_cpu_linear(g.data(), rows, F, 1, &y.down, bf16, nD, &r, FP_LINEAR_ACCUMULATE), "down");
    }
    float* lg = logits.data();
    check(fp_cpu_linear(x.data(), rows, D, 1, &head, bf16, &V, &lg, 0), "lm head");
    const double step = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    for (auto& m : all) {
      uint64_t sum;
      check(fp_cpu_read_stream(m.first, m.second, 0, &sum), "fp_cpu_read_stream");
    }
    const double probe = seconds_since(t1);
    std::printf("step %6.1f ms (%5.1f GB/s), probe over the same weights %6.1f ms (%5.1f GB/s): %.2f of the probe\n",
                step * 1e3, bytes / step / 1e9, probe * 1e3, bytes / probe / 1e9, probe / step);
  }
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
  if (argc >= 2 && !std::strcmp(argv[1], "step"))
    return time_step(argc > 2 ? std::atoi(argv[2]) : 32, argc > 3 ? std::atoi(argv[3]) : 1);
  std::fprintf(stderr, "usage: decode_timer linear [L [N [ISA]]] | decode_timer attention B KV [L [H G]] | decode_timer step [L [ROWS]]\n");
  return 2;
}
