#!/usr/bin/env bash
# bench_test.sh BUILD_DIR: the bench command end to end on a small batch:
# both sides timed, the generic side's BLAS and core named, the JSON
# complete and well formed, --generated-only
# leaves the generic side out, and bad options or an unwritable JSON path
# are one-line errors with a non-zero exit.
set -euo pipefail
exe=$1/classifiers/resnet20_multiception
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$exe" bench --batch 4 --iters 2 --threads 2 --layers --json "$tmp/both.json" > "$tmp/both.txt"
grep -q 'training step: generated .* generic ' "$tmp/both.txt"
grep -q '^generic matrix products: .*, core ' "$tmp/both.txt"
grep -q 'depthwise .* layers: forward+backward generated vs generic' "$tmp/both.txt"
"$exe" bench --batch 4 --iters 2 --generated-only --layers --cpu-time --json "$tmp/gen.json" > "$tmp/gen.txt"
grep -q 'sum of layer medians: forward .* ms, backward .* ms$' "$tmp/gen.txt"
if grep -v '^#   layer' "$tmp/gen.txt" | grep -q 'generic'; then exit 1; fi

python3 - "$tmp/both.json" "$tmp/gen.json" <<'PY'
import json, sys
both, gen = (json.load(open(p)) for p in sys.argv[1:])
for d, sides in ((both, ("generated", "generic")), (gen, ("generated",))):
    assert d["model"] == "resnet20" and d["batch"] == 4 and d["iters"] == 2, d
    assert sorted(d["step"]) == sorted(sides), d["step"]
    assert d["blas"]["config"] and d["blas"]["core"], d["blas"]
    for s in sides:
        assert d["step"][s]["images_per_s"] > 0 and d["step"][s]["min_s"] <= d["step"][s]["median_s"] <= d["step"][s]["max_s"]
    assert len(d["layers"]) > 60, len(d["layers"])
    for l in d["layers"]:
        keys = {f"{p}_{s}" for p in ("fwd", "bwd") for s in sides}
        assert keys <= set(l) and not ({"fwd_generic", "bwd_generic"} - keys) & set(l), l
        assert all(l[k]["median_s"] > 0 for k in keys if l["op"] != "identity"), l
        if l["op"] in ("conv", "depthwise", "linear"):
            assert l["flops_fwd"] > 0 and l["flops_bwd"] == 2 * l["flops_fwd"], l
seps = [l for l in both["layers"] if l["op"] == "depthwise" and l["kernels"] == [3, 5, 7]]
assert seps and seps[0]["flops_fwd"] == 2 * 4 * 16 * 28 * 28 * (9 + 25 + 49), seps[0]
PY

if "$exe" bench --iters 0 2> "$tmp/err"; then exit 1; fi
grep -q "bad --iters '0'" "$tmp/err"
if "$exe" bench --batch 2 --iters 1 --generated-only --json "$tmp/no/such/dir/b.json" > /dev/null 2> "$tmp/err"; then exit 1; fi
[ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -q 'cannot write' "$tmp/err"
echo "bench: all checks passed"
