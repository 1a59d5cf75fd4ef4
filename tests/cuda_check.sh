#!/usr/bin/env bash
# cuda_check.sh BUILD_DIR NVCC MODEL.mcn [mcgen emit options...]
#
# The CUDA sources of a model, without a GPU: emits the model for both
# targets, compiles every emitted .cu with nvcc (sm_90 and compute_90 PTX,
# warnings as errors), fails if ptxas reports a spill in a layer kernel, and
# runs tests/model_check.c on the CUDA step emulated on the host (the
# kernels' own per-element functions over the whole index space) against
# the generic C step, layer by layer, within 1e-5 relative. Parameter
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

"$build/mcgen" emit "$model" --target all "$@" -o "$out/gen"
name=$(sed -n 's/^model[[:space:]]\{1,\}\([A-Za-z0-9_]*\).*/\1/p' "$model" | head -1)
inc=(-I "$src/runtime" -I "$src/runtime/cuda" -I "$out/gen")

# Each .cu once, two at a time; ptxas -v reports every kernel's spills.
export nvcc out
export inc_flags="${inc[*]}"
ls "$out"/gen/*.cu | xargs -P 2 -I{} bash -c '
  f={}; o="$out/$(basename "$f" .cu)"
  # shellcheck disable=SC2086
  "$nvcc" -std=c++17 -O3 -gencode arch=compute_90,code=[sm_90,compute_90] -Werror all-warnings \
    -Xcompiler -Wall,-Wextra,-Werror -Xptxas -v $inc_flags -c "$f" -o "$o.o" 2> "$o.ptxas" ||
    { cat "$o.ptxas" >&2; exit 1; }'
# The layer kernels (the family files; the model file holds the loss,
# whose double exp and log calls use a stack frame).
spilled=$(cat "$out"/"${name}"_cuda_*.ptxas | grep -B1 'spill stores' |
  awk '/Function properties for/ {f = $NF} /spill stores/ && !/ 0 bytes spill stores, 0 bytes spill loads/ {print f}')
if [ -n "$spilled" ]; then
  echo "cuda_check: kernels of $name spill registers: $spilled" >&2
  exit 1
fi
echo "$(cat "$out"/*.ptxas | grep -c 'spill stores') kernels of $name compiled, none of the layer kernels spills"

flags=(-std=c11 -Wall -Wextra -Werror -O1 "${inc[@]}" -I "$src/tests")
for f in "$out"/gen/*.c "$src/tests/numeric.c" "$src/tests/reference_conv.c"; do
  gcc "${flags[@]}" -c "$f" -o "$out/$(basename "$f" .c).c.o"
done
gcc "${flags[@]}" -DMODEL_HEADER="\"${name}_cuda.h\"" -DMODEL_DESC="${name}_cuda_host_model" -DMODEL_TOLERANCE=1e-5 -DMODEL_GRAD_TOLERANCE=1e-3 \
  $(pkg-config --cflags criterion) -c "$src/tests/model_check.c" -o "$out/model_check.c.o"
"$nvcc" "$out"/*.o "$build/libmcgen_runtime.a" "$build/libmcgen_cuda.a" -lcublas \
  $(pkg-config --libs criterion) -lgomp -lpng16 -lz -lm -o "$out/check"
"$out/check" --jobs 1
