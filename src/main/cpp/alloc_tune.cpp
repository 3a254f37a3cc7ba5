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

// libgomp (loaded with libtorch, which also drives OpenBLAS through it) spins its idle threads by
// default. On a 2-core machine the spinning threads took the cores from our kernels' pool and the
// next parallel region: a decoder layer ran at ~60-130 GFLOP/s with spinning, ~155-165 without.
// libgomp reads OMP_WAIT_POLICY once, when it loads, so this only helps before libtorch loads; an
// existing OMP_WAIT_POLICY is left alone. Returns 1 when the setting can take effect, 0 when
// libgomp was already loaded (set OMP_WAIT_POLICY=PASSIVE in the environment instead).
#include <dlfcn.h>
#include <stdlib.h>

extern "C" int fp_prefer_passive_omp(void) {
  void* gomp = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
  if (gomp != nullptr) {
    dlclose(gomp);
    const char* v = getenv("OMP_WAIT_POLICY");
    return v != nullptr && (v[0] == 'P' || v[0] == 'p') ? 1 : 0;
  }
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  return 1;
}
