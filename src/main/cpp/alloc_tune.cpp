// Keeps freed heap memory mapped for reuse (glibc). A prefill allocates and frees tens of MB of
// temporaries per layer; with glibc's defaults large blocks are mmapped and unmapped each time,
// and every first touch of a fresh page is a page fault, which is expensive in a VM (measured:
// about 5 ms per MB of fresh memory on the development machine). Per-thread arenas are the worst
// case: a whole free heap is unmapped regardless of the trim threshold, so we also limit malloc to
// one arena (threads that already have one keep it). Measured: ~40000 minor faults per pair of
// prefills before, under 100 after.
#include "fitprune.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

extern "C" int fp_tune_malloc(int64_t mmap_threshold, int64_t trim_threshold) {
#if defined(__GLIBC__)
  if (mmap_threshold < 0 || trim_threshold < 0) return FP_ERR_ARG;
  int ok = 1;
  // glibc caps M_MMAP_THRESHOLD at HEAP_MAX (32 MiB on 64-bit) and rejects larger values.
  if (mmap_threshold > 0) ok &= mallopt(M_MMAP_THRESHOLD, (int)(mmap_threshold > (32 << 20) ? (32 << 20) : mmap_threshold));
  if (trim_threshold > 0) ok &= mallopt(M_TRIM_THRESHOLD, (int)(trim_threshold > 0x7fffffff ? 0x7fffffff : trim_threshold));
  ok &= mallopt(M_ARENA_MAX, 1);
  return ok ? FP_OK : FP_ERR_VALUE;
#else
  (void)mmap_threshold;
  (void)trim_threshold;
  return FP_ERR_UNAVAILABLE;
#endif
}
