// The read-bandwidth probe's loop: streams [p, p + bytes) with the widest vector loads the
// compilation allows (AVX-512, AVX2 or SSE2), four independent accumulators, software prefetch
// 2 KiB ahead (on Zen 4/5 it read 10-20% faster than the plain loop, so the probe is the higher
// of the two limits), and returns a checksum so the loads cannot be removed. Self-contained (no
// library headers), so the standalone probe (benchmarks/native/bandwidth.cpp) and the library's
// fp_cpu_read_stream share it.
#pragma once

#include <immintrin.h>
#include <stdint.h>

// Prefetches the `span` bytes (whole cache lines) that lie 2 KiB past offset i; a prefetch never faults.
#define PROBE_PREFETCH(i, span) \
  for (int64_t pf = 0; pf < (span); pf += 64) _mm_prefetch(p + (i) + 2048 + pf, _MM_HINT_T0)

inline uint64_t stream_read_loop(const char* p, int64_t bytes) {
  int64_t i = 0;
  uint64_t tail = 0;
#if defined(__AVX512F__)
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 256 <= bytes; i += 256) {
    PROBE_PREFETCH(i, 256);
    a0 = _mm512_xor_si512(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_xor_si512(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_xor_si512(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_xor_si512(a3, _mm512_loadu_si512(p + i + 192));
  }
  const __m512i s = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
  uint64_t lanes[8];
  _mm512_storeu_si512(lanes, s);
#elif defined(__AVX2__)
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 128 <= bytes; i += 128) {
    PROBE_PREFETCH(i, 128);
    a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i s = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  uint64_t lanes[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), s);
#else
  __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
  for (; i + 64 <= bytes; i += 64) {
    PROBE_PREFETCH(i, 64);
    a0 = _mm_xor_si128(a0, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));
    a1 = _mm_xor_si128(a1, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 16)));
    a2 = _mm_xor_si128(a2, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 32)));
    a3 = _mm_xor_si128(a3, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 48)));
  }
  const __m128i s = _mm_xor_si128(_mm_xor_si128(a0, a1), _mm_xor_si128(a2, a3));
  uint64_t lanes[2];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes), s);
#endif
  for (; i < bytes; ++i) tail = tail * 31 + (unsigned char)p[i];
#undef PROBE_PREFETCH
  uint64_t sum = tail;
  for (uint64_t v : lanes) sum ^= v;
  return sum;
}
