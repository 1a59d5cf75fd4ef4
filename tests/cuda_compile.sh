#!/usr/bin/env bash
# cuda_compile.sh NVCC OUT_DIR GEN_DIR...
#
# Compiles the CUDA sources of each emitted model folder with nvcc, all of
# a model's .cu in one run (one unity file that includes them, which keeps
# CI's nvcc time down), for sm_90 and compute_90 PTX, warnings as errors,
# and fails if ptxas reports a register spill in a layer kernel (the
# model's loss kernels, whose double exp and log calls use a stack frame,
# are left out). Leaves OUT_DIR/<model>.o (OUT_DIR "-": a scratch folder,
# removed at the end). Run from the source tree's root.
set -euo pipefail
nvcc=$1 out=$2
shift 2
if [ "$out" = - ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
for gen in "$@"; do
  model=$(basename "$(ls "$gen"/*_cuda.cu)" _cuda.cu)
  unity="$out/${model}_all.cu"
  for f in "$gen"/*.cu; do echo "#include \"$(cd "$(dirname "$f")" && pwd)/$(basename "$f")\""; done > "$unity"
  "$nvcc" -std=c++17 -O3 -gencode arch=compute_90,code=[sm_90,compute_90] -Werror all-warnings \
    -Xcompiler -Wall,-Wextra,-Werror -Xptxas -v -I runtime -I runtime/cuda -I "$gen" -c "$unity" \
    -o "$out/$model.o" 2> "$out/$model.ptxas" || { cat "$out/$model.ptxas" >&2; exit 1; }
  spilled=$(grep -B1 'spill stores' "$out/$model.ptxas" | awk -v loss="_Z[0-9]+${model}_(xent|mean)" '
    /Function properties for/ {f = $NF} /spill stores/ && !/ 0 bytes spill stores, 0 bytes spill loads/ && f !~ loss {print f}')
  if [ -n "$spilled" ]; then
    echo "cuda_compile: kernels of $model spill registers: $spilled" >&2
    exit 1
  fi
  echo "$model: $(grep -c 'spill stores' "$out/$model.ptxas") kernels compiled, none of the layer kernels spills"
done
