#!/usr/bin/env bash
# The test command (README): installs what the project needs on Debian
# (as root), then builds with gcc and with clang, warnings as errors, and
# runs every test with each. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup
# The emitted-code checks compile with both compilers themselves: once is enough.
for cc in gcc clang; do
  echo "== $cc"
  emit_tests=$([ "$cc" = gcc ] && echo ON || echo OFF)
  cmake -S . -B "build-$cc" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCGEN_EMIT_TESTS=$emit_tests
  cmake --build "build-$cc" -j "$(nproc)"
  (cd "build-$cc" && ctest --output-on-failure -j 2)
done
