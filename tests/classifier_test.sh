#!/usr/bin/env bash
# classifier_test.sh BUILD_DIR: the resnet20 Multiception classifier built by
# CMake (classifiers/resnet20_multiception), end to end on real
# Fashion-MNIST images (Debian's dataset-fashion-mnist; the test is skipped
# without it): training lowers the loss and beats chance, a resumed run is
# bit-identical to an uninterrupted one, a checkpoint evaluates to what
# training reported, bad files are refused cleanly without touching the
# last checkpoint, and a SIGKILL during training never leaves a broken one.
set -euo pipefail
build=$1
source "$(dirname "$0")/classifier_env.sh"

# 1. 512 images, 2 epochs: the loss falls and the test accuracy beats chance.
"$exe" train --data "$data" --limit 512 --epochs 2 --batch 32 --out "$tmp/a" > "$tmp/a.out"
cat "$tmp/a.out"
awk -F, 'NR == 2 { l1 = $3 } NR == 3 { l2 = $3; acc = $6 }
  END { if (!(l2 < l1)) { print "loss did not fall: " l1 " -> " l2; exit 1 }
        if (!(acc > 0.2)) { print "test accuracy " acc " is not above chance (0.1) by enough"; exit 1 } }' \
  "$tmp/a/log.csv" || fail "training on 512 images"

# 2. Resume: 1 epoch, then resumed to 2, equals 2 epochs straight, bit for bit
#    (epoch 0's rate is the base rate whatever the length).
"$exe" train --data "$data" --limit 512 --epochs 1 --batch 32 --out "$tmp/b" > /dev/null
"$exe" train --data "$data" --limit 512 --epochs 2 --resume "$tmp/b/checkpoint.safetensors" --out "$tmp/b" > /dev/null
cmp "$tmp/a/checkpoint.safetensors" "$tmp/b/checkpoint.safetensors" || fail "resumed run differs from a straight one"

# 3. The checkpoint evaluates to what the last epoch reported.
want=$(sed -n 's/.*test accuracy \([0-9.]*%\) (loss \([0-9.]*\)).*/loss \2, accuracy \1/p' "$tmp/a.out")
got=$("$exe" eval --weights "$tmp/a/checkpoint.safetensors" --data "$data" --limit 512)
echo "$got"
case "$got" in *"$want"*) ;; *) fail "eval says '$got', training said '$want'" ;; esac

# 3b. predict: the first test image as PGM and as PNG gives the class that
#     predicting test record 0 gives.
{ printf 'P5\n28 28\n255\n'; zcat "$data/t10k-images-idx3-ubyte.gz" 2> /dev/null | head -c 800 | tail -c 784 || true; } \
  > "$tmp/first.pgm"
/usr/bin/python3 - "$tmp/first.pgm" "$tmp/first.png" << 'PY'
import struct, sys, zlib
pix = open(sys.argv[1], "rb").read()[-784:]
raw = b"".join(b"\0" + pix[r * 28:(r + 1) * 28] for r in range(28))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
open(sys.argv[2], "wb").write(png + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
record=$("$exe" predict --weights "$tmp/a/checkpoint.safetensors" --data "$data" --limit 1 | sed 's/.*class \([0-9]*\).*/\1/')
for f in first.pgm first.png; do
  got=$("$exe" predict --weights "$tmp/a/checkpoint.safetensors" "$tmp/$f" | sed 's/.*class \([0-9]*\).*/\1/')
  [ "$got" = "$record" ] || fail "predict $f says class $got, test record 0 says $record"
done

# 4. Bad files: one-line errors naming the file, exit 1, the checkpoint intact.
expect_error() { # expect_error PATTERN COMMAND...
  local pattern=$1; shift
  if "$@" > "$tmp/out" 2> "$tmp/err"; then fail "$* succeeded"; fi
  grep -q -- "$pattern" "$tmp/err" || fail "$*: expected '$pattern' in: $(cat "$tmp/err")"
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$*: more than one line: $(cat "$tmp/err")"
}
cp "$tmp/a/checkpoint.safetensors" "$tmp/good.safetensors"
head -c 1000 "$tmp/good.safetensors" > "$tmp/truncated.safetensors"
expect_error "truncated.safetensors" "$exe" eval --weights "$tmp/truncated.safetensors" --data "$data"
printf 'not a checkpoint at all' > "$tmp/junk.safetensors"
expect_error "junk.safetensors" "$exe" eval --weights "$tmp/junk.safetensors" --data "$data"
mkdir "$tmp/baddata"
zcat "$data/train-images-idx3-ubyte.gz" 2> /dev/null | head -c 5000 > "$tmp/baddata/train-images-idx3-ubyte" || true
for f in train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  cp "$data/$f.gz" "$tmp/baddata/"
done
expect_error "train-images-idx3-ubyte" "$exe" train --data "$tmp/baddata" --dataset fashion-mnist --out "$tmp/a"
expect_error "truncated.safetensors" "$exe" train --data "$data" --limit 64 --resume "$tmp/truncated.safetensors" --out "$tmp/a"
cmp "$tmp/a/checkpoint.safetensors" "$tmp/good.safetensors" || fail "a failed run changed the checkpoint"
expect_error "resnet20" "$build/classifiers/resnet20_standard" eval --weights "$tmp/good.safetensors" --data "$data"

# 4b. Built for a CPU target this CPU cannot run (neon here, avx2 on
#     AArch64): one line naming the target and what the CPU lacks, exit 1,
#     before any kernel (never SIGILL); info still describes it.
other=$([ "$(uname -m)" = aarch64 ] && echo avx2 || echo neon)
"$build/mcgen" build "$(dirname "$0")/fixtures/fused_relu.mcn" --input 3x5x5 --cpu "$other" -o "$tmp/other"
expect_error "built for the $other CPU target" "$tmp/other" eval --weights "$tmp/good.safetensors" --data "$data"
"$tmp/other" info | grep -q "cpu target  $other" || fail "info does not name the $other target"
"$exe" info | grep -q "cpu target  " || fail "info does not name the CPU target"

# 5. SIGKILL at moments spread over a run that checkpoints after every
#    (short) epoch, once its first checkpoint exists: the last checkpoint
#    always loads.
for delay in 0.3 0.9 1.6 2.4; do
  rm -rf "$tmp/k"
  "$exe" train --data "$data" --limit 32 --epochs 1000 --batch 32 --out "$tmp/k" > /dev/null &
  pid=$!
  for _ in $(seq 600); do
    [ -e "$tmp/k/checkpoint.safetensors" ] && break
    sleep 0.1
  done
  [ -e "$tmp/k/checkpoint.safetensors" ] || fail "no checkpoint after 60 s"
  sleep "$delay"
  kill -9 "$pid"
  wait "$pid" 2> /dev/null || true
  "$exe" eval --weights "$tmp/k/checkpoint.safetensors" --data "$data" --limit 32 > /dev/null ||
    fail "checkpoint broken after SIGKILL"
done
echo "classifier_test: all passed"
