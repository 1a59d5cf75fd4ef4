#!/usr/bin/env bash
# cuda_check.sh BUILD_DIR NVCC MODEL.mcn [mcgen emit options...]
#
# The CUDA sources of a model, without a GPU: emits the model for both
# targets (the C for the portable CPU target: compiled here without
# -march), compiles its .cu (tests/cuda_compile.sh: warnings as errors, no
# spills in the layer kernels), and runs tests/model_check.c on the CUDA
# step emulated on the host (the kernels' own block bodies and per-element
# functions over the whole index space) against the generic C step, layer
# by layer, within 1e-5 relative. Parameter
# gradients within 1e-3: the generic kernels sum them in float over the
# whole batch, and behind a batch norm those sums cancel to a small
# remainder whose rounding (on the reference side) reaches 2e-4
# (mobilenetv2); an indexing error is of order 1.
# Run from the source tree's root (CTest does).
set -euo pipefail
build=$1 nvcc=$2 model=$3
shift 3
src=$(pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$build/mcgen" emit "$model" --target all --cpu portable "$@" -o "$out/gen"
name=$(sed -n 's/^model[[:space:]]\{1,\}\([A-Za-z0-9_]*\).*/\1/p' "$model" | head -1)
inc=(-I "$src/runtime" -I "$src/runtime/cuda" -I "$out/gen")
# The C sources (the descriptor, and the C step it points at, which this
# check does not run: -O0) while nvcc works; their warnings are checked by
# the emit tests.
flags=(-std=c11 -Wall -Wextra -Werror "${inc[@]}" -I "$src/tests")
{
  for f in "$out"/gen/*.c; do
    gcc "${flags[@]}" -O0 -c "$f" -o "$out/$(basename "$f" .c).c.o"
  done
  for f in "$src/tests/numeric.c" "$src/tests/reference_conv.c"; do
    gcc "${flags[@]}" -O1 -c "$f" -o "$out/$(basename "$f" .c).c.o"
  done
} &
c_side=$!
bash "$src/tests/cuda_compile.sh" "$nvcc" "$out" "$out/gen"
wait $c_side
gcc "${flags[@]}" -O1 -DMODEL_HEADER="\"${name}_cuda.h\"" -DMODEL_DESC="${name}_cuda_host_model" -DMODEL_TOLERANCE=1e-5 -DMODEL_GRAD_TOLERANCE=1e-3 \
  $(pkg-config --cflags criterion) -c "$src/tests/model_check.c" -o "$out/model_check.c.o"
"$nvcc" "$out"/*.o "$build/libmcgen_runtime.a" "$build/libmcgen_cuda.a" -lcublas $(cat "$build/blas_libs") \
  $(pkg-config --libs criterion) -lgomp -lz -lm -o "$out/check"
"$out/check" --jobs 1
