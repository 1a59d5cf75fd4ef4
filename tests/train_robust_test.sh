#!/usr/bin/env bash
# train_robust_test.sh BUILD_DIR: the checks of --out before any work, the
# values of a loaded checkpoint, and fault injection into the saves of `train`
# (runtime/mc_durable.h). A 2-epoch run on 32 synthetic images crosses 14
# save steps (log text, its sync, the checkpoint's temporary, rename and
# folder sync, the log's rename and folder sync, per epoch). At each step
# the run is killed (MCGEN_TEST_CRASH_AT, as a SIGKILL or power cut there)
# or, in the second epoch (when an older checkpoint and log stand), the
# step fails as on a full disk (MCGEN_TEST_FAIL_AT). Then:
#  - a failure is one line and a non-zero exit; nothing half-written stays;
#  - the committed log never lists an epoch the checkpoint does not hold;
#  - resuming from what is left (or starting again, when no checkpoint was
#    committed) ends with the checkpoint of an uninterrupted run, byte for
#    byte, and a log of epochs 1 and 2, each once.
set -euo pipefail
build=$1
exe=$build/classifiers/resnet20_multiception
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 64 training and 64 test images of MNIST's shape, made here.
/usr/bin/python3 - "$tmp/data" << 'PY'
import os, struct, sys
d = sys.argv[1]; os.makedirs(d)
for split in ("train", "t10k"):
    n = 64
    px = bytes((i * 37 + (i // 784) * 11) % 256 for i in range(n * 784))
    open(f"{d}/{split}-images-idx3-ubyte", "wb").write(struct.pack(">IIII", 0x803, n, 28, 28) + px)
    open(f"{d}/{split}-labels-idx1-ubyte", "wb").write(struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))
PY
train() { "$exe" train --data "$tmp/data" --dataset mnist --limit 32 --batch 16 --epochs 2 "$@"; }

# The epoch a checkpoint holds (optim.state[0]), 0 when there is none.
ckpt_epoch() {
  [ -e "$1" ] || { echo 0; return; }
  /usr/bin/python3 - "$1" << 'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])["optim.state"]
print(struct.unpack("<q", b[8 + n + t["data_offsets"][0]:][:8])[0])
PY
}
log_epochs() { [ -e "$1" ] && tail -n +2 "$1" | cut -d, -f1 | tr '\n' ' ' || true; }

# Checks before work: a bad --out is the first error, before the data (here
# missing) is read or an epoch run.
: > "$tmp/afile"
mkdir -p "$tmp/ckdir/checkpoint.safetensors" "$tmp/ro"
bad_out() { # bad_out OUT PATTERN
  if "$exe" train --data "$tmp/nodata" --out "$1" > /dev/null 2> "$tmp/err"; then fail "--out $1 accepted"; fi
  grep -q -- "$2" "$tmp/err" || fail "--out $1: expected '$2' in: $(cat "$tmp/err")"
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "--out $1: more than one line: $(cat "$tmp/err")"
}
bad_out "$tmp/afile" "afile: not a folder"
bad_out "$tmp/afile/sub" "afile/sub: cannot create the output folder: Not a directory"
bad_out "$tmp/ckdir" "checkpoint.safetensors: not a regular file"
# A folder --out made for a run that then fails on its data is removed.
if "$exe" train --data "$tmp/nodata" --out "$tmp/new" > /dev/null 2>&1; then fail "missing data accepted"; fi
[ -e "$tmp/new" ] && fail "a failed run left its new --out folder behind"
if [ "$(id -u)" != 0 ]; then # root writes anywhere
  chmod 555 "$tmp/ro"
  bad_out "$tmp/ro" "ro: cannot write in the output folder: Permission denied"
fi

train --out "$tmp/ref" > /dev/null
steps=$(MCGEN_TEST_FAULT_COUNT=1 train --out "$tmp/count" 2>&1 > /dev/null | grep -c '^fault point')
[ "$steps" -eq 14 ] || fail "expected 14 save steps in 2 epochs, counted $steps"

for mode in CRASH FAIL; do
  first=1
  [ $mode = FAIL ] && first=$((steps / 2 + 1))
  for k in $(seq $first "$steps"); do
    d=$tmp/$mode$k
    if env "MCGEN_TEST_${mode}_AT=$k" bash -c 'exec "$@"' _ "$exe" train --data "$tmp/data" --dataset mnist --limit 32 \
        --batch 16 --epochs 2 --out "$d" > /dev/null 2> "$tmp/err"; then
      fail "$mode at step $k: train succeeded"
    fi
    if [ $mode = FAIL ]; then
      [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$mode at step $k: not one line: $(cat "$tmp/err")"
      grep -q "No space left on device" "$tmp/err" || fail "$mode at step $k: $(cat "$tmp/err")"
      ls "$d" | grep -q '\.tmp\.' && fail "$mode at step $k: a temporary was left: $(ls "$d")"
    fi
    ce=$(ckpt_epoch "$d/checkpoint.safetensors")
    last=$(log_epochs "$d/log.csv" | awk '{ print $NF }')
    [ "${last:-0}" -le "$ce" ] || fail "$mode at step $k: the log lists epoch $last, the checkpoint holds $ce"
    if [ "$ce" -gt 0 ]; then
      train --resume "$d/checkpoint.safetensors" --out "$d" > /dev/null 2>&1 || fail "$mode at step $k: resume failed"
    else
      train --out "$d" > /dev/null || fail "$mode at step $k: the new run failed"
    fi
    cmp -s "$tmp/ref/checkpoint.safetensors" "$d/checkpoint.safetensors" ||
      fail "$mode at step $k (checkpoint epoch $ce): the resumed checkpoint differs from an uninterrupted run's"
    [ "$(log_epochs "$d/log.csv")" = "1 2 " ] || fail "$mode at step $k: the log lists epochs $(log_epochs "$d/log.csv")"
    [ -e "$d/log.csv.next" ] && fail "$mode at step $k: log.csv.next left behind"
    echo "$mode at step $k: checkpoint epoch $ce, log after resume: $(log_epochs "$d/log.csv")"
  done
done
# Loaded values: a checkpoint with a NaN or Inf weight, a negative running
# variance, momentum NaN, or training state out of what train accepts is
# refused with one line naming the tensor (or value) and the file.
# patch SRC DST TENSOR INDEX FORMAT VALUE: one element changed in place.
patch() {
  /usr/bin/python3 - "$@" << 'PY'
import json, struct, sys
src, dst, name, index, fmt, value = sys.argv[1:]
b = bytearray(open(src, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])[name]
at = 8 + n + t["data_offsets"][0] + int(index) * struct.calcsize(fmt)
struct.pack_into(fmt, b, at, float(value) if fmt in "<f<d" else int(value))
open(dst, "wb").write(b)
PY
}
ck=$tmp/ref/checkpoint.safetensors
bad_ckpt() { # bad_ckpt PATTERN TENSOR INDEX FORMAT VALUE (checked by eval and by --resume)
  local pattern=$1; shift
  patch "${SRC:-$ck}" "$tmp/bad.safetensors" "$@"
  for cmd in "eval --weights $tmp/bad.safetensors --data $tmp/data --dataset mnist" \
             "train --resume $tmp/bad.safetensors --data $tmp/data --dataset mnist --out $tmp/badrun"; do
    case $1 in optim.*) [ "${cmd%% *}" = eval ] && continue ;; esac # eval reads no training state
    if $exe $cmd > /dev/null 2> "$tmp/err"; then fail "$exe $cmd accepted $* = $5"; fi
    grep -q -- "$pattern" "$tmp/err" || fail "$cmd ($1[$2] = $4): expected '$pattern' in: $(cat "$tmp/err")"
    [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$cmd: more than one line: $(cat "$tmp/err")"
  done
}
bad_ckpt "bad.safetensors: tensor 'conv1.weight' holds nan at element 3, expected a finite number" conv1.weight 3 "<f" nan
bad_ckpt "tensor 'fc.bias' holds inf at element 0" fc.bias 0 "<f" inf
bad_ckpt "tensor 'bn1.running_var' holds -1 at element 2, expected a finite variance >= 0" bn1.running_var 2 "<f" -1
bad_ckpt "tensor 'bn1.running_mean' holds -inf" bn1.running_mean 0 "<f" -inf
bad_ckpt "tensor 'bn1.num_batches_tracked' holds -1" bn1.num_batches_tracked 0 "<q" -1
bad_ckpt "tensor 'optim.momentum.conv1.weight' holds nan" optim.momentum.conv1.weight 0 "<f" nan
bad_ckpt "optim.state: batch is 0, expected 1 to 65536" optim.state 2 "<q" 0
bad_ckpt "optim.state: batch is -3, expected 1 to 65536" optim.state 2 "<q" -3
bad_ckpt "optim.state: batch is 2147483648, expected" optim.state 2 "<q" 2147483648
bad_ckpt "optim.state: batch is 100000, expected" optim.state 2 "<q" 100000
bad_ckpt "optim.state: epoch is -1" optim.state 0 "<q" -1
bad_ckpt "optim.state: epoch 3 is past the run's 2 epochs" optim.state 0 "<q" 3
bad_ckpt "optim.state: steps is -1" optim.state 4 "<q" -1
bad_ckpt "optim.hyper: learning rate is nan, expected a number from 0 to 100" optim.hyper 0 "<d" nan
bad_ckpt "optim.hyper: learning rate is inf" optim.hyper 0 "<d" inf
bad_ckpt "optim.hyper: momentum is 1, expected a number from 0 to 1 (not included)" optim.hyper 1 "<d" 1
bad_ckpt "optim.hyper: weight decay is -0.5" optim.hyper 2 "<d" -0.5
cp "$ck" "$tmp/rng0.safetensors"
for i in 1 2 3; do patch "$tmp/rng0.safetensors" "$tmp/rng0.safetensors" optim.rng $i "<q" 0; done
SRC=$tmp/rng0.safetensors bad_ckpt "optim.rng: all zero" optim.rng 0 "<q" 0
# NaN propagates as in PyTorch: an all-NaN batch gives NaN logits (ReLU
# keeps NaN), in the emitted and in the generic kernels, eval mode.
/usr/bin/python3 - "$tmp/nan.safetensors" << 'PY'
import json, struct, sys
h = json.dumps({"input": {"dtype": "F32", "shape": [2, 1, 28, 28], "data_offsets": [0, 6272]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<f", float("nan")) * 1568)
PY
for e in "$exe" "${exe}_generic"; do
  "$e" forward --weights "$ck" --input "$tmp/nan.safetensors" --output "$tmp/logits.safetensors"
  /usr/bin/python3 - "$tmp/logits.safetensors" << 'PY' || fail "$e forward: NaN input gave finite logits"
import json, math, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
t = json.loads(b[8:8 + n])["logits"]
v = struct.unpack("<%df" % (t["shape"][0] * t["shape"][1]), b[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][1]])
sys.exit(0 if all(math.isnan(x) for x in v) else 1)
PY
done

# Outputs that overflow (finite weights of 3e38) are said to be NaN or
# infinite by predict and eval instead of printing p=nan or loss nan.
patch "$ck" "$tmp/huge.safetensors" conv1.weight 4 "<f" 3e38
if "$exe" predict --weights "$tmp/huge.safetensors" --data "$tmp/data" --dataset mnist --limit 2 > "$tmp/out" 2> "$tmp/err"; then
  fail "predict with overflowing outputs succeeded"
fi
grep -q "record 0: no class: the outputs are NaN or infinite" "$tmp/out" || fail "predict said: $(cat "$tmp/out")"
grep -q "nan" "$tmp/out" && fail "predict printed nan: $(cat "$tmp/out")"
grep -q "2 of 2 images gave NaN or infinite outputs" "$tmp/err" || fail "predict: $(cat "$tmp/err")"
if "$exe" eval --weights "$tmp/huge.safetensors" --data "$tmp/data" --dataset mnist > "$tmp/out" 2> "$tmp/err"; then
  fail "eval with overflowing outputs succeeded"
fi
grep -q "huge.safetensors: the outputs on mnist's test images are NaN or infinite" "$tmp/err" || fail "eval: $(cat "$tmp/err")"
# Divergence: a rate of 100 makes the loss NaN or infinite (or the running
# statistics overflow, so that the test loss is); train stops at that step
# (or epoch) with one line naming the epoch and step and suggesting a lower
# --lr, the checkpoint and log keep the epochs before it, and a resume with
# a lower rate finishes the run.
if train --lr 100 --epochs 4 --out "$tmp/div" > /dev/null 2> "$tmp/err"; then fail "a rate of 100 did not diverge"; fi
grep -Eq "^error: the (training loss became NaN or infinite at epoch [0-9]+, step [0-9]+|test loss \(eval mode\) became NaN or infinite after epoch [0-9]+) .*try a lower --lr than 100$" \
  "$tmp/err" || fail "divergence: $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "divergence: more than one line: $(cat "$tmp/err")"
de=$(sed -En 's/.*(at|after) epoch ([0-9]+).*/\2/p' "$tmp/err")
ce=$(ckpt_epoch "$tmp/div/checkpoint.safetensors")
[ "$ce" -eq $((de - 1)) ] || fail "diverged in epoch $de but the checkpoint holds $ce"
[ "$(log_epochs "$tmp/div/log.csv")" = "$(seq -s ' ' 1 "$ce") " ] || [ "$ce" -eq 0 ] ||
  fail "diverged in epoch $de; the log lists $(log_epochs "$tmp/div/log.csv")"
echo "diverged at: $(cat "$tmp/err")"
# The same from a good checkpoint (epoch 2) extended to 4 epochs at a rate
# of 100: it diverges in epoch 3, leaves checkpoint and log as they were,
# and a resume at a lower rate finishes the run.
mkdir -p "$tmp/div2" && cp "$tmp/ref/checkpoint.safetensors" "$tmp/ref/log.csv" "$tmp/div2/"
if train --resume "$tmp/div2/checkpoint.safetensors" --lr 100 --epochs 4 --out "$tmp/div2" > /dev/null 2> "$tmp/err"
then fail "resumed at a rate of 100: no divergence"; fi
grep -Eq "(at|after) epoch 3.*div2/checkpoint.safetensors \(epoch 2\) is unchanged; try a lower --lr than 100$" "$tmp/err" ||
  fail "divergence after a resume: $(cat "$tmp/err")"
cmp -s "$tmp/ref/checkpoint.safetensors" "$tmp/div2/checkpoint.safetensors" || fail "the divergence changed the checkpoint"
[ "$(log_epochs "$tmp/div2/log.csv")" = "1 2 " ] || fail "after the divergence the log lists $(log_epochs "$tmp/div2/log.csv")"
train --resume "$tmp/div2/checkpoint.safetensors" --lr 0.01 --epochs 4 --out "$tmp/div2" > /dev/null ||
  fail "resume at a lower rate after the divergence failed"
[ "$(log_epochs "$tmp/div2/log.csv")" = "1 2 3 4 " ] || fail "after the resume the log lists $(log_epochs "$tmp/div2/log.csv")"
# Image bombs: a PNG and a PGM claiming a trillion pixels are refused by
# their size before anything is allocated (in under 400 MB of address
# space, the executable's own included).
/usr/bin/python3 - "$tmp" << 'PY'
import struct, sys, zlib
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
ihdr = struct.pack(">IIBBBBB", 1000000, 1000000, 8, 0, 0, 0, 0)
open(sys.argv[1] + "/huge.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
                                          chunk(b"IDAT", zlib.compress(bytes(100000))) + chunk(b"IEND", b""))
open(sys.argv[1] + "/huge.pgm", "wb").write(b"P5\n2000000000 2000000000\n255\n" + bytes(100))
PY
for f in huge.png huge.pgm; do
  if (ulimit -v 400000; "$exe" predict --weights "$ck" "$tmp/$f") > /dev/null 2> "$tmp/err"; then fail "predict took $f"; fi
  grep -Eq "$f: .*too large" "$tmp/err" ||
    fail "predict $f: $(cat "$tmp/err")"
done
echo "train_robust: OK"
