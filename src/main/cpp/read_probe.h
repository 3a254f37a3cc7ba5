// The read-bandwidth probe's loop: streams [p, p + bytes) with the widest vector loads the
// compilation allows (AVX-512, AVX2 or SSE2), software prefetch 2 KiB ahead (on Zen 4/5 it read
// 10-20% faster than the plain loop, so the probe is the higher of the two limits), and returns a
// checksum so the loads cannot be removed. Self-contained (no library headers), so the standalone
// probe (benchmarks/native/bandwidth.cpp) and the library's fp_cpu_read_stream share it.
#pragma once

#include <immintrin.h>
#include <stdint.h>

// Reads kProbeStreams quarters of the range in lockstep, one cache line of each per step, so that
// each stream's DRAM pages lie far from the others': streams a few KiB apart (adjacent rows of a
// weight matrix) read slower than one stream, streams far apart read faster (Zen 5, 2 threads:
// 48-54 GB/s for one stream per thread, 64-78 for four, in the same minutes). The rest after the
// whole steps is read byte by byte.
constexpr int kProbeStreams = 4;

inline uint64_t stream_read_loop(const char* p, int64_t bytes) {
  const int64_t quarter = bytes / kProbeStreams / 64 * 64;
  const char* q[kProbeStreams];
  for (int s = 0; s < kProbeStreams; ++s) q[s] = p + s * quarter;
  int64_t i = 0;
  uint64_t tail = 0;
#if defined(__AVX512F__)
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (; i < quarter; i += 64) {
    for (int s = 0; s < kProbeStreams; ++s) _mm_prefetch(q[s] + i + 2048, _MM_HINT_T0);
    a0 = _mm512_xor_si512(a0, _mm512_loadu_si512(q[0] + i));
    a1 = _mm512_xor_si512(a1, _mm512_loadu_si512(q[1] + i));
    a2 = _mm512_xor_si512(a2, _mm512_loadu_si512(q[2] + i));
    a3 = _mm512_xor_si512(a3, _mm512_loadu_si512(q[3] + i));
  }
  const __m512i s = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
  uint64_t lanes[8];
  _mm512_storeu_si512(lanes, s);
#elif defined(__AVX2__)
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (; i < quarter; i += 64) {
    for (int s = 0; s < kProbeStreams; ++s) _mm_prefetch(q[s] + i + 2048, _MM_HINT_T0);
    for (int h = 0; h < 64; h += 32) {
      a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[0] + i + h)));
      a1 = _mm256_xor_si256(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[1] + i + h)));
      a2 = _mm256_xor_si256(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[2] + i + h)));
      a3 = _mm256_xor_si256(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[3] + i + h)));
    }
  }
  const __m256i s = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  uint64_t lanes[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), s);
#else
  __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
  for (; i < quarter; i += 64) {
    for (int s = 0; s < kProbeStreams; ++s) _mm_prefetch(q[s] + i + 2048, _MM_HINT_T0);
    for (int h = 0; h < 64; h += 16) {
      a0 = _mm_xor_si128(a0, _mm_loadu_si128(reinterpret_cast<const __m128i*>(q[0] + i + h)));
      a1 = _mm_xor_si128(a1, _mm_loadu_si128(reinterpret_cast<const __m128i*>(q[1] + i + h)));
      a2 = _mm_xor_si128(a2, _mm_loadu_si128(reinterpret_cast<const __m128i*>(q[2] + i + h)));
      a3 = _mm_xor_si128(a3, _mm_loadu_si128(reinterpret_cast<const __m128i*>(q[3] + i + h)));
    }
  }
  const __m128i s = _mm_xor_si128(_mm_xor_si128(a0, a1), _mm_xor_si128(a2, a3));
  uint64_t lanes[2];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes), s);
#endif
  for (int64_t b = kProbeStreams * quarter; b < bytes; ++b) tail = tail * 31 + (unsigned char)p[b];
  uint64_t sum = tail;
  for (uint64_t v : lanes) sum ^= v;
  return sum;
}
