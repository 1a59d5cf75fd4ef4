#!/usr/bin/env bash
# train_faults_test.sh BUILD_DIR: the checks of --out before any work, and
# fault injection into the saves of `train`
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
echo "train_faults: OK"
