#!/usr/bin/env bash
# regenerate.sh BUILD_DIR [--check]
#
# Emits every zoo model (its default conv type, Multiception) into
# generated/c/<model>/ and its CUDA sources into generated/cuda/<model>/,
# the C for the avx2 CPU target (x86-64-v3, the commonest; the same on
# every machine, unlike the default --cpu native).
# With --check, changes nothing and fails if any committed file differs
# from what mcgen emits now (the freshness test). Run from the source
# tree's root.
set -euo pipefail
build=$1 mode=${2:-write}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for target in c cuda; do
  mkdir -p "$tmp/$target"
  for model in models/*.mcn; do
    name=$(basename "$model" .mcn)
    "$build/mcgen" emit "$model" --target "$target" --cpu avx2 -o "$tmp/$target/$name"
    if [ "$mode" = --check ]; then
      if ! diff -r "$tmp/$target/$name" "generated/$target/$name" >/dev/null 2>&1; then
        echo "generated/$target/$name is stale: run 'bash tests/regenerate.sh $build' and commit the result" >&2
        diff -r "$tmp/$target/$name" "generated/$target/$name" | head -20 >&2 || true
        status=1
      fi
    else
      rm -rf "generated/$target/$name"
      mkdir -p "generated/$target"
      mv "$tmp/$target/$name" "generated/$target/$name"
    fi
  done
done
if [ "$mode" = --check ]; then
  [ $status -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
fi
exit $status
