#!/usr/bin/env bash
# neon_check.sh BUILD_DIR MODEL.mcn [mcgen emit options...]
#
# The emitted-code check of emit_check.sh for the neon CPU target, on an
# x86-64 machine: emits the model with --cpu neon, cross-compiles the
# emitted C, tests/model_check.c (with tests/criterion_shim.h for
# Criterion) and the runtime's generic step for AArch64 with Debian's
# gcc-aarch64-linux-gnu (static, serial: no OpenMP; no BLAS, so the
# generic matrix products are plain loops), and runs it under
# qemu-aarch64 (qemu-user). Run from the source tree's root (CTest does).
set -euo pipefail
build=$1 model=$2
shift 2
src=$(pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$build/mcgen" emit "$model" --cpu neon "$@" -o "$out/gen"
name=$(sed -n 's/^model[[:space:]]\{1,\}\([A-Za-z0-9_]*\).*/\1/p' "$model" | head -1)
# MCGEN_CHECK_BATCH: the batch of the check, as in emit_check.sh.
aarch64-linux-gnu-gcc -std=c11 -Wall -Wextra -Werror -O2 -ffp-contract=fast -static -DMC_CHECK_SHIM \
  -DMC_CHECK_BATCH="${MCGEN_CHECK_BATCH:-4}" \
  -I "$src/runtime" -I "$src/tests" -I "$out/gen" -DMODEL_HEADER="\"$name.h\"" -DMODEL_DESC="${name}_model" \
  "$out"/gen/*.c "$src/tests/model_check.c" "$src/tests/numeric.c" "$src/tests/reference_conv.c" \
  "$src/runtime/generic_model.c" "$src/runtime/generic_conv.c" "$src/runtime/generic_conv_gemm.c" "$src/runtime/gemm.c" \
  "$src/runtime/generic_ops.c" "$src/runtime/rng.c" \
  -lm -o "$out/check"
qemu-aarch64 "$out/check"
