#!/usr/bin/env bash
# emit_check.sh BUILD_DIR MODEL.mcn [mcgen emit options...]
#
# Emits the model into a fresh folder, compiles the emitted C with gcc and
# with clang (-std=c11 -Wall -Wextra -Werror), links it with the runtime
# and tests/model_check.c, and runs the check: generated step against the
# generic one. Run from the source tree's root (CTest does).
# MCGEN_CHECK_CPU: the CPU target to emit for (mcgen emit --cpu; default
# native), compiled with its flags (mcgen targets --flags; neon:
# tests/neon_check.sh). A target this CPU cannot run (avx512 on an AVX2
# machine) is compiled and not run.
set -euo pipefail
build=$1 model=$2
shift 2
src=$(pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cpu=${MCGEN_CHECK_CPU:-native}
read -r -a cpu_flags <<< "$("$build/mcgen" targets --flags "$cpu")"
# The widest target this CPU runs is the native one (mcgen targets marks it):
# avx512 runs here only where it is native.
run=1
if [ "$cpu" = avx512 ] && ! "$build/mcgen" targets | grep -q '^avx512 .*; native here$'; then
  run=0
fi

"$build/mcgen" emit "$model" --cpu "$cpu" "$@" -o "$out/gen"
name=$(sed -n 's/^model[[:space:]]\{1,\}\([A-Za-z0-9_]*\).*/\1/p' "$model" | head -1)
flags=(-std=c11 -Wall -Wextra -Werror -O1 -I "$src/runtime" -I "$out/gen")

# Every emitted file must compile warning-free with both compilers.
for f in "$out"/gen/*.c; do
  clang "${flags[@]}" "${cpu_flags[@]}" -fsyntax-only "$f"
done
# gcc builds the threaded kernels (OpenMP), run on two threads, for this
# machine's vectors with multiply-adds fused, as mcgen build does (without
# them gcc splits the 64-byte vectors and takes minutes on the larger
# kernel lists); clang checks the serial form.
# MCGEN_CHECK_SANITIZE=1: the emitted kernels built with AddressSanitizer and
# UBSan (a read past a kernel's scratch, which only sometimes meets a NaN).
# MCGEN_CHECK_BATCH: the batch of the check (default 4); MCGEN_CHECK_THREADS:
# its OpenMP threads (default 2; more threads than images take the kernels'
# path that splits each image over the team).
check_flags=(-DMC_CHECK_BATCH="${MCGEN_CHECK_BATCH:-4}")
if [ "${MCGEN_CHECK_SANITIZE:-0}" = 1 ]; then
  check_flags+=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
fi
gcc "${flags[@]}" "${cpu_flags[@]}" "${check_flags[@]}" -ffp-contract=fast -fopenmp -I "$src/tests" -DMODEL_HEADER="\"$name.h\"" -DMODEL_DESC="${name}_model" \
  "$out"/gen/*.c "$src/tests/model_check.c" "$src/tests/numeric.c" "$src/tests/reference_conv.c" \
  "$build/libmcgen_runtime.a" $(cat "$build/blas_libs") $(pkg-config --cflags --libs criterion) -lm -o "$out/check"
if [ $run = 0 ]; then
  echo "emit_check.sh: compiled for $cpu; this CPU cannot run it, so not run"
  exit 0
fi
OMP_NUM_THREADS="${MCGEN_CHECK_THREADS:-2}" "$out/check" --jobs 1
