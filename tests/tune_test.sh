#!/usr/bin/env bash
# tune_test.sh BUILD_DIR: mcgen tune on a small model (tests/fixtures/
# tune.mcn): it writes a tune file naming the model, the target and this
# CPU, a line per conv and depthwise layer; emit and build take it back;
# a build whose forms are all the other candidates passes its check
# against the generic kernels; stale, foreign and malformed files are
# refused with one line naming the file, the line and the layer.
set -euo pipefail
build=$1
mcgen="$build/mcgen"
model="$(dirname "$0")/fixtures/tune.mcn"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error MESSAGE CMD...: exit status 1 and one line containing MESSAGE.
expect_error() {
  local want=$1
  shift
  if "$@" > "$tmp/out" 2> "$tmp/err"; then
    fail "'$*' succeeded"
  fi
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "'$*' printed more than one line: $(cat "$tmp/err")"
  grep -qF -- "$want" "$tmp/err" || fail "'$*': expected '$want' in: $(cat "$tmp/err")"
}

# 1. Tuning writes the file and says what it gained.
"$mcgen" tune "$model" --iters 1 --batch 4 -o "$tmp/t.tune" > "$tmp/log"
grep -Eq "^(step .* tuned, .* by the rules|every layer.s rules form measured fastest)" "$tmp/log" || fail "no step comparison in: $(cat "$tmp/log")"
for head in "mcgen-tune 1" "model tune" "target " "cpu "; do
  grep -q "^$head" "$tmp/t.tune" || fail "the tune file has no '$head' line"
done
for layer in c1 d2 p3 g4; do
  grep -q "^layer $layer " "$tmp/t.tune" || fail "the tune file has no line for $layer"
done

# 2. emit and build take it; the emitted kernels follow it.
"$mcgen" emit "$model" --tune "$tmp/t.tune" -o "$tmp/gen"
"$mcgen" build "$model" --tune "$tmp/t.tune" -o "$tmp/exe"
"$tmp/exe" check --batch 4 > /dev/null

# 3. Every layer on a candidate the rules did not pick (the last of each
#    line's measured list): still equal to the generic kernels.
awk '/^layer / { n = split($0, c, ";"); last = c[n]; sub(/^.*# /, "", last); split(last, w, " ");
                 if (n > 1) $4 = w[1]; print $1, $2, $3, $4; next } { print }' "$tmp/t.tune" > "$tmp/other.tune"
cmp -s "$tmp/t.tune" "$tmp/other.tune" && fail "no layer had a second candidate"
"$mcgen" build "$model" --tune "$tmp/other.tune" -o "$tmp/other"
"$tmp/other" check --batch 4 > /dev/null || fail "the other candidates differ from the generic kernels"

# 4. Refusals: a stale file (the model changed), another target, a
#    layer missing, a form a layer cannot take, an unknown flag.
expect_error "is conv:16x12x12" "$mcgen" emit "$model" --input 16x12x12 --tune "$tmp/t.tune" -o "$tmp/x"
[ ! -e "$tmp/x" ] || fail "a refused emit wrote its folder"
other_target=$("$mcgen" targets | awk '$1 == "portable" { print $1 }')
expect_error "run mcgen tune again" "$mcgen" emit "$model" --cpu "$other_target" --tune "$tmp/t.tune" -o "$tmp/x"
grep -v "^layer d2 " "$tmp/t.tune" > "$tmp/missing.tune"
expect_error "layer d2 of tune is missing" "$mcgen" emit "$model" --tune "$tmp/missing.tune" -o "$tmp/x"
sed 's/^\(layer g4 [^ ]*\) [^ ]*/\1 cl_fwd,cl_dx/' "$tmp/t.tune" > "$tmp/bad.tune"
expect_error "layer g4 cannot take the form cl_fwd,cl_dx" "$mcgen" emit "$model" --tune "$tmp/bad.tune" -o "$tmp/x"
sed 's/^\(layer c1 [^ ]*\) [^ ]*/\1 fast/' "$tmp/t.tune" > "$tmp/flag.tune"
expect_error "unknown form flag 'fast'" "$mcgen" emit "$model" --tune "$tmp/flag.tune" -o "$tmp/x"
expect_error "cannot read the tune file" "$mcgen" emit "$model" --tune "$tmp/none.tune" -o "$tmp/x"
echo "tune: ok"
