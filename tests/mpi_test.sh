#!/usr/bin/env bash
# mpi_test.sh BUILD_DIR ST_COMPARE MPIEXEC: data-parallel training of the
# resnet20 Multiception classifier on 2 ranks over loopback, on real
# Fashion-MNIST (skipped without it), 1 thread per rank:
#   1. --sync-bn on 2 ranks ends with the weights of one process with the
#      same global batch (st_compare, relative 1e-5), resumed by 2 ranks;
#   2. so does a run of 2 ranks resumed by 1 process, and one of uneven shards;
#   3. local batch norm: the ranks stay bit-identical (the per-epoch checksum
#      passes), and a rank that drifts stops the job with a clear error;
#   4. a rank killed mid-epoch ends the job with an error naming it, and the
#      last checkpoint loads.
# The learning rate is small on purpose: at 0.1 the first steps of an
# untrained net amplify rounding so much that two correct one-process
# builds (the generated and the generic kernels) differ by 3e-2 after 8
# steps of 64; at 0.002 and batches of 128 the runs stay 10x inside the
# tolerance (the running variances are the most sensitive).
set -euo pipefail
build=$1 compare=$2 mpiexec=$3
source "$(dirname "$0")/classifier_env.sh"
# Root in CI, more ranks than cores, shared memory without the
# single-copy mechanism (containers often forbid it), and a rank that waits
# yields its core (CI runs other tests beside this one).
mpirun2=("$mpiexec" --allow-run-as-root --oversubscribe --mca btl self,vader
  --mca btl_vader_single_copy_mechanism none --mca mpi_yield_when_idle 1 -np 2)
train=(train --data "$data" --threads 1 --lr 0.002)
ckpt() { echo "$tmp/$1/checkpoint.safetensors"; }

# 1. Synchronized batch norm: 2 ranks of 64 images = 1 process of 128,
#    over 2 epochs (the second resumed by 2 ranks).
"$exe" "${train[@]}" --limit 256 --epochs 2 --batch 128 --out "$tmp/one" > /dev/null
"${mpirun2[@]}" "$exe" "${train[@]}" --limit 256 --epochs 1 --batch 128 --sync-bn --out "$tmp/two" > /dev/null
cp "$(ckpt two)" "$tmp/epoch1.safetensors"
"${mpirun2[@]}" "$exe" "${train[@]}" --limit 256 --epochs 2 --sync-bn --resume "$tmp/epoch1.safetensors" \
  --out "$tmp/two" > "$tmp/two.out"
cat "$tmp/two.out"
grep -q "2 ranks, all-reduce" "$tmp/two.out" || fail "no all-reduce share in the summary"
"$compare" "$(ckpt two)" "$(ckpt one)" 1e-5 || fail "2 ranks with --sync-bn differ from 1 process"

# 2. Resume with another number of ranks: the 2 ranks' first epoch, resumed
#    by 1 process, as 1 process throughout.
"$exe" "${train[@]}" --limit 256 --epochs 2 --resume "$tmp/epoch1.safetensors" --out "$tmp/mixed" > /dev/null
"$compare" "$(ckpt mixed)" "$(ckpt one)" 1e-5 || fail "a 2-rank run resumed by 1 process differs"

#    Uneven shards: batches of 99 (50 + 49) and a last one of 58 (29 + 29),
#    one epoch (smaller batches amplify rounding faster, see above).
"$exe" "${train[@]}" --limit 256 --epochs 1 --batch 99 --out "$tmp/one_odd" > /dev/null
"${mpirun2[@]}" "$exe" "${train[@]}" --limit 256 --epochs 1 --batch 99 --sync-bn --out "$tmp/two_odd" > /dev/null
"$compare" "$(ckpt two_odd)" "$(ckpt one_odd)" 1e-5 || fail "uneven shards differ from 1 process"

# 3. Local batch norm: every epoch's checksum of the ranks' state agrees
#    (else the run fails), and a drifting rank is caught.
"${mpirun2[@]}" "$exe" "${train[@]}" --limit 64 --epochs 2 --batch 32 --out "$tmp/local" > /dev/null 2> "$tmp/local.err" ||
  fail "2 ranks with local batch norm: $(cat "$tmp/local.err")"
if MCGEN_TEST_DRIFT=1 "${mpirun2[@]}" -x MCGEN_TEST_DRIFT "$exe" "${train[@]}" --limit 32 --epochs 2 --batch 16 \
  --out "$tmp/drift" > /dev/null 2> "$tmp/drift.err"; then
  fail "a rank drifted and the job went on"
fi
grep -q "error: after epoch 1 the 2 ranks no longer hold the same weights" "$tmp/drift.err" ||
  fail "no drift error in: $(cat "$tmp/drift.err")"
[ ! -e "$(ckpt drift)" ] || fail "a checkpoint was written after the drift"

#    A last batch smaller than the ranks is left out, with a note.
"${mpirun2[@]}" "$exe" "${train[@]}" --limit 33 --epochs 1 --batch 16 --out "$tmp/tail" > /dev/null 2> "$tmp/tail.err"
grep -q "note: the last 1 images of every epoch are fewer than the 2 ranks" "$tmp/tail.err" ||
  fail "no note on the left-out images: $(cat "$tmp/tail.err")"

# 4. SIGKILL to rank 1 once the first checkpoint exists: the job ends
#    (no hang), with an error that names the rank, and the checkpoint loads.
"${mpirun2[@]}" "$exe" "${train[@]}" --limit 32 --epochs 1000 --batch 16 --out "$tmp/kill" > /dev/null 2> "$tmp/kill.err" &
job=$! # mpiexec, whose children are the ranks
for _ in $(seq 600); do
  [ -e "$(ckpt kill)" ] && break
  sleep 0.1
done
[ -e "$(ckpt kill)" ] || fail "no checkpoint after 60 s"
sleep 0.5
victim=""
for pid in $(pgrep -P "$job"); do
  if tr '\0' '\n' < "/proc/$pid/environ" | grep -qx OMPI_COMM_WORLD_RANK=1; then victim=$pid; fi
done
[ -n "$victim" ] || fail "rank 1 not found among mpiexec's children"
kill -9 "$victim"
for _ in $(seq 300); do
  kill -0 "$job" 2> /dev/null || break
  sleep 0.1
done
if kill -0 "$job" 2> /dev/null; then kill -9 "$job"; fail "the job went on 30 s after rank 1 died"; fi
if wait "$job"; then fail "the job succeeded after rank 1 died"; fi
grep -q "rank 1 .*exited on signal 9" "$tmp/kill.err" || fail "no error naming rank 1 in: $(cat "$tmp/kill.err")"
"$exe" eval --weights "$(ckpt kill)" --data "$data" --limit 32 > /dev/null || fail "checkpoint broken after the kill"
echo "mpi_test: all passed"
