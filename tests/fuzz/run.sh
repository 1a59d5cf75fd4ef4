#!/usr/bin/env bash
# run.sh FUZZER SEEDS SECONDS [libFuzzer options...]: one libFuzzer harness
# for a fixed time, new inputs kept in a scratch folder (the checked-in
# seeds, findings included as regression inputs, are only read). Exit 0
# when nothing was found; else the crashing input is printed (base64) and
# left in $MCGEN_FUZZ_ARTIFACTS (default: a scratch folder).
set -euo pipefail
fuzzer=$1 seeds=$2 seconds=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=${MCGEN_FUZZ_ARTIFACTS:-$work/artifacts}
mkdir -p "$work/corpus" "$artifacts"
if ! "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -max_len=262144 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" "$work/corpus" "$seeds" > "$work/log" 2>&1; then
  tail -40 "$work/log"
  for f in "$artifacts"/*; do [ -e "$f" ] && { echo "input $f:"; base64 "$f" | head -20; }; done
  exit 1
fi
grep -E '^stat::number_of_executed_units|^Done|INITED' "$work/log" || true
