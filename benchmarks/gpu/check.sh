#!/usr/bin/env bash
# The GPU check of the CUDA backend, in one call on a lent GPU machine:
#
#   bash benchmarks/gpu/check.sh            (from the repository root; $OUT receives the results)
#
# Needs g++, nvcc and python3 with torch there; no Maven, no internet. Java is optional: when
# `java` exists and build/java-gpu was carried (benchmarks/gpu/prepare-java.sh makes it), the Java
# CUDA tests run too. Sections: env, build (clean, timed, ptxas register/spill report), link,
# sanity (every entry point vs the CPU backend), python (correctness vs float64, PyTorch and the
# CPU; timings vs SDPA flash; gather vs copy), compute-sanitizer, java, ncu (short). A failing
# section is logged and the next one runs; each has a timeout within FP_GPU_BUDGET (560 s) so the
# whole check fits one 600 s device call; the exit status is non-zero when any section failed.
#
# Results in $OUT (or benchmarks/results/gpu-<time> when OUT is unset): gpu-check.log, ptxas.txt,
# results.json, ncu.txt. Commit them under benchmarks/results/gpu/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
export PATH="$PATH:/usr/local/cuda/bin"
out="${OUT:-$root/benchmarks/results/gpu-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
build="${FP_GPU_BUILD:-/tmp/fitprune-gpu-build}"
log="$out/gpu-check.log"
: >"$log"
exec > >(tee -a "$log") 2>&1
tee_pid=$!

# The device tool stops a command after 600 s: sections get timeouts from what is left of this
# budget, so a hang in one still leaves the summary (and the files in $OUT) to come back.
budget="${FP_GPU_BUDGET:-560}"
cap() {  # cap N: N seconds, or what is left of the budget if less (at least 10)
  local left=$((budget - SECONDS))
  ((left < 10)) && left=10
  echo $(($1 < left ? $1 : left))
}

declare -A status=()
order=()
failed=0

# section NAME FUNCTION: runs FUNCTION in a subshell with errexit, records its status and time.
section() {
  local name="$1" fn="$2" t0=$SECONDS rc
  order+=("$name")
  echo
  echo "===== [$name] start $(date -u +%H:%M:%S)"
  set +e
  (set -euo pipefail; "$fn")
  rc=$?
  set -e
  status[$name]="rc=$rc, $((SECONDS - t0)) s"
  [[ $rc -eq 0 ]] || failed=1
  echo "===== [$name] rc=$rc in $((SECONDS - t0)) s"
}

env_info() {
  date -u
  uname -a
  git -C "$root" rev-parse HEAD 2>/dev/null || echo "(no git metadata in this copy)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm,temperature.gpu --format=csv || true
  command -v nvcc || ls /usr/local/cuda/bin/nvcc
  (nvcc --version || /usr/local/cuda/bin/nvcc --version) | tail -2
  g++ --version | head -1
  nproc
  python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda, torch.cuda.get_device_name())' ||
    echo "python3 has no usable torch: the python section will fail"
  command -v compute-sanitizer || echo "no compute-sanitizer"
  command -v ncu || echo "no ncu"
  if command -v java >/dev/null 2>&1; then java -version 2>&1; else echo "java: not installed"; fi
}

build_native() {
  rm -rf "$build"
  mkdir -p "$build"
  local t0=$SECONDS
  # -Xptxas -v: registers, shared memory, stack and spills of every kernel, per architecture.
  if ! NVCC_FLAGS="-Xptxas -v" FITPRUNE_REQUIRE_CUDA=1 bash src/main/native/build.sh "$build" 2>"$out/ptxas.txt"; then
    grep -vE "ptxas info|bytes stack frame|^ *$" "$out/ptxas.txt" | head -60
    return 1
  fi
  echo "clean native build (g++ and nvcc, $(nproc) cores): $((SECONDS - t0)) s"
  echo "register/spill report (sm_90):"
  awk '/Compiling entry function/ { on = /sm_90/; if (on && match($0, /_Z[A-Za-z0-9_]*/)) print substr($0, RSTART, RLENGTH) }
       on && /bytes stack frame|Used [0-9]+ registers/ { sub(/^.*: */, ""); sub(/^ */, ""); print "    " $0 }' \
    "$out/ptxas.txt" | c++filt || true
}

link_native() {
  # A shared object for ctypes (check.py) and the sanity harness, from the static archives.
  g++ -shared -o "$build/libfitprune_check.so" -Wl,--whole-archive "$build/libfitprune_cpu.a" \
    "$build/libfitprune_cuda.a" -Wl,--no-whole-archive "$build/libcudart_static.a" -lpthread -ldl -lrt
  g++ -O2 -std=c++17 -Isrc/main/cpp benchmarks/gpu/sanity.cpp -L"$build" -lfitprune_cuda -lfitprune_cpu \
    -lcudart_static -lpthread -ldl -lrt -o "$build/sanity"
  ls -la "$build"
}

sanity() {
  g++ -O1 -std=c++17 benchmarks/gpu/fragment_model.cpp -o "$build/fragment_model" && "$build/fragment_model"
  timeout "$(cap 60)" "$build/sanity"
  timeout "$(cap 60)" "$build/sanity" 300 8 8 128 20 200
  timeout "$(cap 60)" "$build/sanity" 700 28 4 128 35 576
}

sanitizer() {
  local rc=0
  for tool in memcheck racecheck synccheck initcheck; do
    echo "--- compute-sanitizer --tool $tool"
    timeout "$(cap 90)" compute-sanitizer --tool "$tool" --error-exitcode 9 "$build/sanity" 203 4 2 64 11 150 || rc=1
  done
  echo "--- compute-sanitizer memcheck, d=128 GQA"
  timeout "$(cap 90)" compute-sanitizer --tool memcheck --error-exitcode 9 "$build/sanity" 150 4 2 128 10 100 || rc=1
  return $rc
}

python_check() {
  PYTHONUNBUFFERED=1 timeout "$(cap 330)" python3 benchmarks/gpu/check.py --lib "$build/libfitprune_check.so" --out "$out"
}

ncu_profile() {
  command -v ncu >/dev/null 2>&1 || { echo "ncu not found"; return 0; }
  PYTHONUNBUFFERED=1 timeout "$(cap 120)" ncu --clock-control none -k "regex:attention_mma_kernel|scores_mma_kernel" \
    --launch-count 2 --section SpeedOfLight --section Occupancy --section LaunchStats \
    python3 benchmarks/gpu/check.py --lib "$build/libfitprune_check.so" --profile >"$out/ncu.txt" 2>&1 ||
    { tail -20 "$out/ncu.txt"; return 1; }
  grep -E "attention_mma_kernel|scores_mma_kernel|Duration|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Registers Per" \
    "$out/ncu.txt" || true
}

java_tests() {
  if ! command -v java >/dev/null 2>&1; then
    echo "java not installed: Java CUDA tests not run (the C++ sanity harness and check.py cover the kernels)"
    return 0
  fi
  local j="$root/build/java-gpu"
  if [[ ! -d "$j" ]]; then
    echo "java present but build/java-gpu was not carried: run benchmarks/gpu/prepare-java.sh on the dev machine"
    echo "and carry build/java-gpu to run the Java CUDA tests here"
    return 0
  fi
  local cp="$j/classes:$j/test-classes:$(find "$j/lib" -name '*.jar' | tr '\n' ':')"
  timeout "$(cap 120)" java -Dorg.bytedeco.javacpp.cachedir=/tmp/javacpp-cache -cp "$cp" benchmarks/gpu/RunTests.java \
    io.fitprune.kernels.CudaKernelsTest io.fitprune.kernels.CudaKvCacheTest io.fitprune.kernels.CudaCallerMemoryTest io.fitprune.kernels.BackendsTest \
    io.fitprune.cli.ScoreCliTest
}

section env env_info
section build build_native
section link link_native
section sanity sanity
section python python_check
section compute-sanitizer sanitizer
section java java_tests
section ncu ncu_profile

echo
echo "===== sections"
for s in "${order[@]}"; do printf '  %-18s %s\n' "$s" "${status[$s]}"; done
echo "results in $out: $(ls "$out" | tr '\n' ' ')"
exec 1>&- 2>&-
wait "$tee_pid" 2>/dev/null || true
exit $failed
