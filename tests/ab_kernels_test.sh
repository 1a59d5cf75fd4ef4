#!/usr/bin/env bash
# ab_kernels_test.sh BUILD_DIR: tools/ab_kernels.sh end to end on a small
# model emitted twice: every conv, depthwise and batch-norm kernel found
# and timed on both sides, the ratios printed; without arguments, its usage
# and exit 2.
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ab.mcn" <<'MCN'
model ab
input 16x9x7
classes 2
dw: depthwise kernels=[3,5] from in
pw: conv 32 k=1 from dw
bn: batchnorm from pw
c3: conv 16 k=3 stride=2 from bn
pool: avgpool from c3
fc: linear classes
MCN
"$build/mcgen" emit "$tmp/ab.mcn" -o "$tmp/a" > /dev/null
"$build/mcgen" emit "$tmp/ab.mcn" -o "$tmp/b" > /dev/null
tools/ab_kernels.sh "$tmp/a" "$tmp/b" ab 1 3 4 > "$tmp/out.txt"
cat "$tmp/out.txt"
for k in dw_k3_5_c16_9x7_s1 conv_k1_c32_32_9x7_s1_p0 bn_c32_9x7 conv_k3_c32_16_9x7_s2_p1; do
  grep -Eq "^$k +[0-9.]+ +[0-9.]+ +[0-9.]+x +[0-9.]+ +[0-9.]+ +[0-9.]+x$" "$tmp/out.txt"
done
grep -Eq '^all ' "$tmp/out.txt"
if tools/ab_kernels.sh > /dev/null 2>&1; then exit 1; else test $? -eq 2; fi
