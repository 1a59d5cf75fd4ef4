#!/usr/bin/env bash
# run.sh BUILD_DIR MODEL.mcn [mcgen build options...] [-- check.py options...]
#
# Builds the model's training executable (at -O1: it is the reference
# here, not what is timed) and checks the inference library against it
# (check.py). For models without a classifier built by CMake.
set -euo pipefail
build=$1 model=$2
shift 2
opts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
[ $# -gt 0 ] && shift
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
MCGEN_CFLAGS="-std=c11 -O1 -ffp-contract=fast -fno-trapping-math -fopenmp" \
  "$build/mcgen" build "$model" "${opts[@]}" -o "$out/exe"
/usr/bin/python3 "$(dirname "$0")/check.py" --mcgen "$build/mcgen" --exe "$out/exe" --model "$model" "$@"
