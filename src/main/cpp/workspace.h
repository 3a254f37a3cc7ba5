// Per-thread scratch of the API entry points. Kept out of internal.h, which the per-ISA kernel
// files include: an inline function compiled with AVX-512 flags there could be the copy the
// linker keeps for every caller.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace fp {

// Grow-only scratch memory, 64-byte aligned (a vector load that splits a cache line costs two),
// one per calling thread: kernels allocate nothing per call once warm.
struct Workspace {
  void* ptr = nullptr;
  size_t bytes = 0;
  ~Workspace() { std::free(ptr); }
  void* get(size_t need) {
    if (need > bytes) {
      std::free(ptr);
      ptr = nullptr;
      bytes = 0;
      const size_t rounded = (need + 4095) & ~size_t(4095);
      ptr = std::aligned_alloc(64, rounded);
      if (!ptr) throw std::bad_alloc();
      bytes = rounded;
    }
    return ptr;
  }
};

}  // namespace fp
