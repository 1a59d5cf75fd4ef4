#!/usr/bin/env bash
# predictor_test.sh BUILD_DIR
#
# The predictor end to end (mcgen build --inference), on real Fashion-MNIST
# (skipped without it): a small model trained for an epoch on 2,000 images,
# then its predictor, with the checkpoint built in and with --weights:
# - eval gives the accuracy the training executable's eval gives;
# - predict names the class (Fashion-MNIST's names) that the training
#   executable's predict gives, and --top 3 gives three, most likely first;
# - bench --latency times batch 1 and batch 8;
# - bad input: one-line errors, exit 1.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
source "$src/tests/classifier_env.sh" # data, tmp, fail (skips without Fashion-MNIST)
model=$src/tests/fixtures/tiny_fmnist.mcn

"$build/mcgen" build "$model" -o "$tmp/train"
"$tmp/train" train --data "$data" --limit 4000 --epochs 1 --batch 32 --lr 0.05 --out "$tmp/run" --threads 2 > /dev/null
ckpt=$tmp/run/checkpoint.safetensors
"$build/mcgen" build "$model" --inference --weights "$ckpt" -o "$tmp/built_in"
"$build/mcgen" build "$model" --inference -o "$tmp/loads"
"$tmp/built_in" info | tee "$tmp/info"
grep -q "built in" "$tmp/info" || fail "info does not say the parameters are built in"

# eval: the same accuracy as the training executable's
want=$("$tmp/train" eval --weights "$ckpt" --data "$data" --limit 1000 | sed -n 's/.*accuracy \([0-9.]*\)%.*/\1/p' | head -1)
for weights in "" "$ckpt"; do
  if [ -z "$weights" ]; then
    got=$("$tmp/built_in" eval --data "$data" --limit 1000)
  else
    got=$("$tmp/loads" eval --weights "$weights" --data "$data" --limit 1000)
  fi
  echo "predictor${weights:+ --weights}: $got; training executable: $want%"
  got=$(echo "$got" | sed -n 's/^accuracy \([0-9.]*\) .*/\1/p')
  awk -v a="$got" -v b="$want" 'BEGIN { d = 100 * a - b; exit !(d < 0.01 && d > -0.01) }' ||
    fail "predictor eval: accuracy $got, the training executable's $want%"
done

# predict: the first test image as PNG
/usr/bin/python3 - "$data/t10k-images-idx3-ubyte.gz" "$tmp/first.png" << 'PY'
import gzip, struct, sys, zlib
pix = gzip.open(sys.argv[1]).read()[16:16 + 784]
raw = b"".join(b"\0" + pix[r * 28:(r + 1) * 28] for r in range(28))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
open(sys.argv[2], "wb").write(png + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
"$tmp/train" predict --weights "$ckpt" "$tmp/first.png" | tee "$tmp/want"
"$tmp/built_in" predict --top 3 "$tmp/first.png" | tee "$tmp/got"
top=$(sed 's/^[^:]*: \([^(]*\) (p=.*/\1/' "$tmp/got" | sed 's/ *$//')
grep -qF "$top" "$tmp/want" || fail "predict says '$top', the training executable: $(cat "$tmp/want")"
[ "$(grep -o '(p=' "$tmp/got" | wc -l)" -eq 3 ] || fail "predict --top 3 gave: $(cat "$tmp/got")"
"$tmp/loads" predict --weights "$ckpt" "$tmp/first.png" | grep -qF "$top" || fail "--weights predicts otherwise"

# The README's classify.c, for this model, against its library with the
# checkpoint built in: it names the class the predictor names.
"$build/mcgen" emit "$model" --inference --weights "$ckpt" -o "$tmp/lib"
sed -n '/^<!-- classify.c -->$/,/^```$/p' "$src/README.md" | sed '1,2d;$d' |
  sed 's/resnet20/tiny_fmnist/g; s/RESNET20/TINY_FMNIST/g' > "$tmp/classify.c"
[ -s "$tmp/classify.c" ] || fail "no classify.c in the README"
cc -std=c11 -Wall -Wextra -Werror -O2 -march=native -Wno-unused-function -I "$tmp/lib" "$tmp/classify.c" "$tmp"/lib/*.c \
  -lm -o "$tmp/classify"
"$tmp/classify" "$tmp/first.png" | tee "$tmp/classified"
[ "$(cat "$tmp/classified")" = "$tmp/first.png: $top" ] || fail "classify.c says $(cat "$tmp/classified"), not $top"

# bench
"$tmp/built_in" bench --latency --batch 8 --iters 3 --threads 1 | tee "$tmp/bench"
grep -q "^batch 1: .* ms median" "$tmp/bench" && grep -q "^batch 8: .* images/s" "$tmp/bench" || fail "bench output"

# errors: one line, exit 1
expect_error() { # expect_error PATTERN COMMAND...
  local pattern=$1; shift
  if "$@" > "$tmp/out" 2> "$tmp/err"; then fail "$* succeeded"; fi
  grep -q -- "$pattern" "$tmp/err" || fail "$*: expected '$pattern' in: $(cat "$tmp/err")"
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$*: more than one line: $(cat "$tmp/err")"
}
head -c 1000 "$ckpt" > "$tmp/truncated.safetensors"
expect_error "truncated.safetensors" "$tmp/loads" predict --weights "$tmp/truncated.safetensors" "$tmp/first.png"
expect_error "no parameters built in" "$tmp/loads" predict "$tmp/first.png"
expect_error "missing.png" "$tmp/built_in" predict "$tmp/missing.png"
echo "predictor_test: ok"
