#!/usr/bin/env bash
# emit_check.sh BUILD_DIR MODEL.mcn [mcgen emit options...]
#
# Emits the model into a fresh folder, compiles the emitted C with gcc and
# with clang (-std=c11 -Wall -Wextra -Werror), links it with the runtime
# and tests/model_check.c, and runs the check: generated step against the
# generic one. Run from the source tree's root (CTest does).
# MCGEN_CHECK_MARCH: gcc's -march for the check (default native; e.g.
# x86-64-v3 runs the kernels' forms for machines without AVX-512).
set -euo pipefail
build=$1 model=$2
shift 2
src=$(pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$build/mcgen" emit "$model" "$@" -o "$out/gen"
name=$(sed -n 's/^model[[:space:]]\{1,\}\([A-Za-z0-9_]*\).*/\1/p' "$model" | head -1)
flags=(-std=c11 -Wall -Wextra -Werror -O1 -I "$src/runtime" -I "$out/gen")

# Every emitted file must compile warning-free with both compilers.
for f in "$out"/gen/*.c; do
  clang "${flags[@]}" -fsyntax-only "$f"
done
# gcc builds the threaded kernels (OpenMP), run on two threads, for this
# machine's vectors with multiply-adds fused, as mcgen build does (without
# them gcc splits the 64-byte vectors and takes minutes on the larger
# kernel lists); clang checks the serial form.
gcc "${flags[@]}" -march="${MCGEN_CHECK_MARCH:-native}" -ffp-contract=fast -fopenmp -I "$src/tests" -DMODEL_HEADER="\"$name.h\"" -DMODEL_DESC="${name}_model" \
  "$out"/gen/*.c "$src/tests/model_check.c" "$src/tests/numeric.c" "$src/tests/reference_conv.c" \
  "$build/libmcgen_runtime.a" $(pkg-config --cflags --libs criterion) -lm -o "$out/check"
OMP_NUM_THREADS=2 "$out/check" --jobs 1
