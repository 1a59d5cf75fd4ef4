#!/usr/bin/env bash
# mutation_test.sh BUILD_DIR: the inference checks catch a fused activation
# left out. For each mutation of the templates (a copy, through
# MCGEN_TEMPLATES) that drops the activation a conv or depthwise applies
# as it stores its result (generator/plan.c, fuse_activations), check.py
# on tests/fixtures/conv_act.mcn must fail on the logits (not on a build),
# and pass on the templates as they are. Then: a fusion the templates
# cannot render stops m4.
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
model=$src/tests/fixtures/conv_act.mcn
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
MCGEN_CFLAGS="-std=c11 -O1 -ffp-contract=fast -fno-trapping-math -fopenmp" \
  "$build/mcgen" build "$model" -o "$out/exe"
check() { /usr/bin/python3 "$here/check.py" --mcgen "$build/mcgen" --exe "$out/exe" --model "$model"; }

# mutation name, template file, the line (a fixed string) and what replaces it
mutations=(
  "conv stores without it|c/conv.m4|m4_define(\`CV_ACT', \`m4_ifelse(FUSED, none, \`', \`act')')|m4_define(\`CV_ACT', \`')"
  "depthwise stores without it|c/depthwise.m4|m4_define(\`DW_ACT', \`m4_ifelse(FUSED, none, \`', \`act')')|m4_define(\`DW_ACT', \`')"
)
check > "$out/plain.log" 2>&1 || { cat "$out/plain.log"; echo "mutation_test: the templates as they are fail"; exit 1; }
for m in "${mutations[@]}"; do
  IFS='|' read -r what file line repl <<< "$m"
  rm -rf "$out/t" && cp -r "$src/templates" "$out/t"
  grep -qxF "$line" "$out/t/$file" || { echo "mutation_test: $file has no line $line"; exit 1; }
  LINE=$line REPL=$repl perl -i -pe 'chomp; $_ = $ENV{REPL} if $_ eq $ENV{LINE}; $_ .= "\n"' "$out/t/$file"
  if MCGEN_TEMPLATES=$out/t check > "$out/mutant.log" 2>&1; then
    cat "$out/mutant.log"; echo "mutation_test: $what: check.py passed"; exit 1
  fi
  grep -q 'differs from EXE forward' "$out/mutant.log" ||
    { cat "$out/mutant.log"; echo "mutation_test: $what: check.py failed, but not on the logits"; exit 1; }
  echo "mutation_test: $what: caught ($(grep -o 'differs from EXE forward by [0-9.e+-]*' "$out/mutant.log"))"
done

# A conv asked to apply an activation it cannot (one of none of the five, in
# a training step, with batch statistics) stops m4 with a message.
for c in "sigmoid 1 0" "relu 0 0" "relu 1 1"; do
  read -r act inference pstats <<< "$c"
  if printf '%s' "m4_define(\`VL', 16)m4_include(\`common.m4')m4_include(\`activation.m4')m4_define(\`NAME', \`k')m4_define(\`FUSED', \`$act')m4_define(\`INFERENCE', $inference)m4_define(\`PSTATS', $pstats)ACT_STORE_CHECK(\`conv')" |
    m4 -P -I "$src/templates/c" - > "$out/m4.log" 2>&1; then
    echo "mutation_test: FUSED $act, INFERENCE $inference, PSTATS $pstats: m4 did not stop"; exit 1
  fi
  grep -q "asks it to apply $act" "$out/m4.log" || { cat "$out/m4.log"; echo "mutation_test: no message"; exit 1; }
done
echo "mutation_test: fusions the templates cannot render stop m4"
