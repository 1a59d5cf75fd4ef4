#!/usr/bin/env bash
# `cmake --install` into a fresh prefix, then the installed mcgen works on
# the installed zoo without the source or build tree.
set -euo pipefail
build_dir=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
cd "$prefix"
out=$(env -i PATH=/usr/bin:/bin "$prefix/bin/mcgen" summary "$prefix/share/mcgen/models/resnet20.mcn" --json)
case $out in
  *'"params": 189434'*) echo "1 passed, 0 failed" ;;
  *) echo "installed mcgen printed: $out" >&2; echo "0 passed, 1 failed"; exit 1 ;;
esac
