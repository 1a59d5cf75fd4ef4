#!/usr/bin/env bash
# tests/gpu/run.sh [--compile-only] [MODEL.mcn [mcgen emit options...]]
#
# On a machine with an NVIDIA GPU (and nvcc, cuBLAS and cuDNN under
# /usr/local/cuda): configures and builds mcgen with CUDA in build-gpu/,
# emits the model (default: resnet20, Multiception, CIFAR-sized 3x32x32)
# for both targets, builds tests/gpu/gpu_check.cu against it, and runs it:
# every layer (forward and backward) GPU against C, the whole training step
# GPU against C (the bounds: gpu_check.cu), and one table of timings per
# layer (generated CUDA, a generic CUDA kernel, cuDNN forward and backward)
# and per training step. --compile-only stops before
# running (what CI does, without a GPU); MCGEN_GPU_BUILD names a build
# folder configured already (CI's), which is then only built.
# MCGEN_GPU_BATCH: the batch of the timings (default 128; the layer-by-layer
# checks run at batch 16 first, where copying every area per layer is cheap).
# MCGEN_GPU_OUT keeps the built check there (to run it on another machine);
# MCGEN_GPU_CFLAGS replaces the host C flags (default -O3 -march=native).
# Run from the source tree's root.
set -euo pipefail
run=1
if [ "${1:-}" = --compile-only ]; then run=0; shift; fi
model=${1:-models/resnet20.mcn}
shift || true
emit_opts=("$@")
[ ${#emit_opts[@]} -eq 0 ] && emit_opts=(--input 3x32x32)
cuda=${CUDA_HOME:-/usr/local/cuda}
build=${MCGEN_GPU_BUILD:-build-gpu}
jobs=$(nproc)

if [ -z "${MCGEN_GPU_BUILD:-}" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMCGEN_TESTS=OFF -DCMAKE_CUDA_COMPILER="$cuda/bin/nvcc" >/dev/null
fi
cmake --build "$build" -j "$jobs" --target mcgen mcgen_runtime mcgen_cuda >/dev/null

if [ -n "${MCGEN_GPU_OUT:-}" ]; then
  out=$MCGEN_GPU_OUT
  rm -rf "$out/gen" && mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
read -r -a cflags <<<"${MCGEN_GPU_CFLAGS:--O3 -march=native}"
"$build/mcgen" emit "$model" --target all "${emit_opts[@]}" -o "$out/gen"
name=$(sed -n 's/^model[[:space:]]\{1,\}\([A-Za-z0-9_]*\).*/\1/p' "$model" | head -1)
inc=(-I runtime -I runtime/cuda -I "$out/gen")
nv=("$cuda/bin/nvcc" -std=c++17 -O3 -gencode arch=compute_90,code=[sm_90,compute_90] "${inc[@]}")

# The model's CUDA in one nvcc run (as CI compiles it), its C sources and
# the check beside it.
bash tests/cuda_compile.sh "$cuda/bin/nvcc" "$out" "$out/gen" &
cu=$!
objs=("$out/$name.o" "$out/gpu_check.o")
for f in "$out"/gen/*.c; do
  objs+=("$out/$(basename "$f").o")
  cc -std=c11 "${cflags[@]}" -fopenmp "${inc[@]}" -c "$f" -o "$out/$(basename "$f").o"
done
"${nv[@]}" -DMODEL="$name" -c tests/gpu/gpu_check.cu -o "$out/gpu_check.o"
wait $cu
"${nv[@]}" "${objs[@]}" "$build/libmcgen_runtime.a" "$build/libmcgen_cuda.a" -L"$cuda/lib64" -lcudnn -lcublas $(cat "$build/blas_libs") \
  -lgomp -lz -lm -o "$out/gpu_check"
echo "built $out/gpu_check for $name"
[ $run -eq 1 ] || exit 0
"$out/gpu_check" --batch 16 --reps 3
"$out/gpu_check" --batch "${MCGEN_GPU_BATCH:-128}" --timing
