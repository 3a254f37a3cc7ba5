#!/usr/bin/env bash
# Usage: build.sh OUT_DIR [VERSION]. Compiles src/main/cpp (g++) and src/main/cuda (nvcc) into static archives in OUT; JavaCPP then
# links them with its generated JNI glue into one .so (see pom.xml). Objects are rebuilt only
# when a source or header is newer. Without nvcc a stub CUDA backend is built, unless
# FITPRUNE_REQUIRE_CUDA=1 (CI), where a missing nvcc is an error.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
out="${1:-$root/target/native}"
cpp="$root/src/main/cpp"
cu="$root/src/main/cuda"
mkdir -p "$out/obj"
CXX="${CXX:-g++}"
version="${2:-dev}"
CXXFLAGS=(-O3 -std=c++17 -fPIC -pthread -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter
          -DFITPRUNE_VERSION="\"$version\"" -I"$cpp")
headers=("$cpp"/*.h "$cpp"/*.hpp "$cu"/*.cuh "$cu"/*.h)

stale() {  # stale OBJ SRC: true when OBJ is missing or older than SRC or any header
  local obj="$1" src="$2"
  [[ ! -f "$obj" || "$src" -nt "$obj" || "$0" -nt "$obj" ]] && return 0
  for h in "${headers[@]}"; do [[ "$h" -nt "$obj" ]] && return 0; done
  return 1
}

declare -A isa_flags=(
  [kernels_generic]=""
  [kernels_avx2]="-mavx2 -mfma"
  [kernels_avx512]="-Wno-maybe-uninitialized -Wno-uninitialized -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma -mprefer-vector-width=512"
  [kernels_avx512bf16]="-Wno-maybe-uninitialized -Wno-uninitialized -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx512bf16 -mavx2 -mfma -mprefer-vector-width=512"
)

pids=()
cpu_objs=()
for src in "$cpp"/*.cpp; do
  name="$(basename "$src" .cpp)"
  obj="$out/obj/$name.o"
  cpu_objs+=("$obj")
  if stale "$obj" "$src"; then
    # shellcheck disable=SC2086
    "$CXX" "${CXXFLAGS[@]}" ${isa_flags[$name]:-} -c "$src" -o "$obj" & pids+=($!)
  fi
done

# NVCC=/path picks the compiler; NVCC set to something that is not an executable (e.g. NVCC=none)
# builds the stub, as on a machine without CUDA.
if [[ -n "${NVCC+x}" ]]; then
  if [[ -n "$NVCC" && ! -x "$NVCC" ]] && ! command -v "$NVCC" >/dev/null 2>&1; then
    echo "build.sh: NVCC=$NVCC is not an executable" >&2
    NVCC=""
  fi
else
  NVCC="$(command -v nvcc || true)"
  [[ -z "$NVCC" && -x /usr/local/cuda/bin/nvcc ]] && NVCC=/usr/local/cuda/bin/nvcc
fi
cuda_objs=()
if [[ -n "$NVCC" ]]; then
  # nvcc on PATH may be a wrapper script, so look for the toolkit in the usual places too.
  for src in "$cu"/*.cu; do
    obj="$out/obj/$(basename "$src" .cu).cu.o"
    cuda_objs+=("$obj")
    if stale "$obj" "$src"; then
      # NVCC_FLAGS: extra flags, e.g. "-Xptxas -v" for the register/spill report (benchmarks/gpu).
      # shellcheck disable=SC2086
      "$NVCC" -O3 -std=c++17 -I"$cpp" -Xcompiler -fPIC,-fvisibility=hidden \
        -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
        -gencode arch=compute_90,code=compute_90 ${NVCC_FLAGS:-} -c "$src" -o "$obj" & pids+=($!)
    fi
  done
  cudart=""
  for home in ${CUDA_HOME:-} ${CUDA_PATH:-} "$(dirname "$(readlink -f "$NVCC")")/.." /usr/local/cuda; do
    for c in "$home"/lib64/libcudart_static.a "$home"/targets/*/lib/libcudart_static.a; do
      [[ -f "$c" ]] && { cudart="$c"; break 2; }
    done
  done
  [[ -n "$cudart" ]] || { echo "build.sh: nvcc found but libcudart_static.a was not found (set CUDA_HOME)" >&2; exit 1; }
else
  if [[ "${FITPRUNE_REQUIRE_CUDA:-0}" == 1 ]]; then
    echo "build.sh: FITPRUNE_REQUIRE_CUDA=1 but nvcc was not found" >&2
    exit 1
  fi
  echo "build.sh: nvcc not found; building without the CUDA backend" >&2
  obj="$out/obj/cuda_stub.o"
  cuda_objs+=("$obj")
  if stale "$obj" "$root/src/main/native/cuda_stub.cpp"; then
    "$CXX" "${CXXFLAGS[@]}" -c "$root/src/main/native/cuda_stub.cpp" -o "$obj" & pids+=($!)
  fi
fi

for p in "${pids[@]}"; do wait "$p"; done

rm -f "$out/libfitprune_cpu.a" "$out/libfitprune_cuda.a" "$out/libcudart_static.a"
ar rcs "$out/libfitprune_cpu.a" "${cpu_objs[@]}"
ar rcs "$out/libfitprune_cuda.a" "${cuda_objs[@]}"
if [[ -n "$NVCC" ]]; then
  cp "$cudart" "$out/libcudart_static.a"
else
  ar rcs "$out/libcudart_static.a"  # empty: the link line names cudart either way
fi
echo "build.sh: native archives in $out (cuda: ${NVCC:-none})"
