#!/usr/bin/env bash
# `cmake --install` into a fresh prefix, then the installed mcgen works on
# the installed zoo without the source or build tree: summary, and build
# (the installed templates, runtime headers and library) into a classifier
# that runs.
set -euo pipefail
build_dir=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
cd "$prefix"
out=$(env -i PATH=/usr/bin:/bin "$prefix/bin/mcgen" summary "$prefix/share/mcgen/models/resnet20.mcn" --json)
case $out in
  *'"params": 189434'*) ;;
  *) echo "installed mcgen printed: $out" >&2; echo "0 passed, 1 failed"; exit 1 ;;
esac
env -i PATH=/usr/bin:/bin TMPDIR="$prefix" "$prefix/bin/mcgen" build "$prefix/share/mcgen/models/resnet20.mcn" \
  --conv dsconv --input 1x28x28 -o "$prefix/r20"
info=$("$prefix/r20" info)
case $info in
  *"parameters  166570"*) echo "2 passed, 0 failed" ;;
  *) echo "the installed build's classifier says: $info" >&2; echo "1 passed, 1 failed"; exit 1 ;;
esac
