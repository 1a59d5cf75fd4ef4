#!/usr/bin/env bash
# results_test.sh BUILD_DIR: issue 21's results and training options, end to
# end on real Fashion-MNIST (skipped without it) with a small model
# (tests/fixtures/tiny_fmnist.mcn) built generated and --generic:
#  - progress lines off a terminal, OUT/curves.svg after every epoch;
#  - predict --top K with class names; eval's per-class and top-5 accuracy
#    and its --confusion CSV against what it printed;
#  - label smoothing: after a 3-epoch run with it, one batch's loss and
#    output-layer gradient against PyTorch's CrossEntropyLoss, generated and
#    generic alike;
#  - AdamW with warmup resumed equals the straight run bit for bit (its
#    state and --limit kept); a changed --lr is noted, a changed --batch
#    refused;
#  - a bad --out or mcgen build -o fails at once, in one line.
set -euo pipefail
build=$1
source "$(dirname "$0")/classifier_env.sh" # data, tmp, fail
here=$(dirname "$0")
"$build/mcgen" build "$here/fixtures/tiny_fmnist.mcn" -o "$tmp/tiny"
"$build/mcgen" build "$here/fixtures/tiny_fmnist.mcn" --generic -o "$tmp/tiny_generic"
exe=$tmp/tiny
run() { "$exe" train --data "$data" --dataset fashion-mnist --limit 256 --batch 32 "$@"; }

# 1. Progress off a terminal (stderr is a file here): a line at least every
#    MCGEN_PROGRESS_SECONDS (30 by default; 0: after every batch), inside
#    the epoch and during the evaluation; curves.svg after 2 epochs.
MCGEN_PROGRESS_SECONDS=0 run --epochs 2 --out "$tmp/a" > "$tmp/a.out" 2> "$tmp/a.err"
grep -q '^epoch 1/2  64/256 .*img/s.*loss' "$tmp/a.err" || fail "no progress line inside epoch 1: $(head -3 "$tmp/a.err")"
grep -q '^evaluation  .*/256 ' "$tmp/a.err" || fail "no progress line during the evaluation"
run --epochs 1 --out "$tmp/quiet" > /dev/null 2> "$tmp/quiet.err"
[ ! -s "$tmp/quiet.err" ] || fail "a 1 s epoch printed progress lines: $(cat "$tmp/quiet.err")"
/usr/bin/python3 - "$tmp/a/curves.svg" << 'PY' || fail "curves.svg"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
lines = root.findall(ns + "polyline")
assert len(lines) == 4, f"{len(lines)} curves, expected train and test loss and accuracy"
assert all(len(l.get("points").split()) == 2 for l in lines), "expected 2 epochs per curve"
texts = [t.text for t in root.iter(ns + "text")]
for label in ("loss", "accuracy (%)", "epoch", "train", "test"):
    assert label in texts, f"no label '{label}'"
print("curves.svg: 4 curves of 2 epochs, axes and legend labelled")
PY

# 2. predict --top 3: three lines per image, most likely first, with names.
ckpt=$tmp/a/checkpoint.safetensors
"$exe" predict --weights "$ckpt" --data "$data" --limit 1 --top 3 | tee "$tmp/top3"
[ "$(wc -l < "$tmp/top3")" -eq 3 ] || fail "predict --top 3 printed $(wc -l < "$tmp/top3") lines"
names='T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot'
[ "$(grep -cE "^record 0: [123]\. class [0-9] ($names) \(p=0\.[0-9]{4}\)" "$tmp/top3")" -eq 3 ] ||
  fail "predict --top 3 lines lack a rank, class, name or probability"
sed 's/.*(p=\([0-9.]*\)).*/\1/' "$tmp/top3" | sort -rc > /dev/null || fail "top 3 not most likely first"
"$exe" predict --weights "$ckpt" --data "$data" --limit 1 | grep -qE "^record 0: class [0-9] ($names) .*, label 9 Ankle boot$" ||
  fail "predict without --top: not one line with the class, its name and the label's"

# 2b. Names from the checkpoint's metadata class_names, a JSON array (with
#     an escape) or one name a line (as train on an image folder writes
#     them), before the dataset's.
for form in json lines; do
  /usr/bin/python3 - "$ckpt" "$tmp/named_$form.safetensors" $form << 'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
names = [f"n\u00e9{k}" if k else 'a "quoted", one' for k in range(10)]
header["__metadata__"]["class_names"] = json.dumps(names) if sys.argv[3] == "json" else "\n".join(names)
text = json.dumps(header).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
PY
  "$exe" predict --weights "$tmp/named_$form.safetensors" --data "$data" --limit 1 --top 10 > "$tmp/named"
  grep -q '^record 0: [0-9]*\. class 0 a "quoted", one (p=' "$tmp/named" || fail "class_names ($form): $(cat "$tmp/named")"
  grep -q "^record 0: [0-9]*\. class 3 né3 (p=" "$tmp/named" || fail "class_names ($form): $(cat "$tmp/named")"
done
"$exe" eval --weights "$tmp/named_json.safetensors" --data "$data" --limit 16 --confusion "$tmp/named.csv" > /dev/null
head -1 "$tmp/named.csv" | grep -q '^true\\predicted,"a ""quoted"", one",né1,' || fail "CSV header: $(head -1 "$tmp/named.csv")"

# 3. eval: per-class accuracy, top-5, and a confusion matrix whose rows sum
#    to the per-class counts and whose diagonal is the accuracy.
"$exe" eval --weights "$ckpt" --data "$data" --limit 256 --confusion "$tmp/conf.csv" | tee "$tmp/eval"
grep -q '^top-5 accuracy [0-9.]*% ([0-9]* of 256)$' "$tmp/eval" || fail "no top-5 accuracy"
/usr/bin/python3 - "$tmp/eval" "$tmp/conf.csv" << 'PY' || fail "confusion matrix"
import csv, re, sys
text = open(sys.argv[1]).read()
acc = float(re.search(r"accuracy ([0-9.]+)%", text).group(1))
per = [(m.group(1), int(m.group(2)), int(m.group(3))) for m in re.finditer(r"^ +\d+ (.+?) +[0-9.]+%  \((\d+) of (\d+)\)$", text, re.M)]
rows = list(csv.reader(open(sys.argv[2])))
header, body = rows[0], rows[1:]
assert header[0] == "true\\predicted" and header[1:] == [p[0] for p in per], header
assert len(body) == 10 and all(len(r) == 11 for r in body)
counts = [[int(x) for x in r[1:]] for r in body]
for i, (name, hits, images) in enumerate(per):
    assert body[i][0] == name, (body[i][0], name)
    assert sum(counts[i]) == images, f"row {name} sums to {sum(counts[i])}, eval counted {images}"
    assert counts[i][i] == hits, f"{name}: diagonal {counts[i][i]}, eval said {hits} correct"
total = sum(map(sum, counts))
diag = sum(counts[i][i] for i in range(10))
assert total == 256 and abs(100 * diag / total - acc) < 0.006, (diag, total, acc)
print(f"confusion matrix: rows sum to the class counts, diagonal {diag}/{total} = {acc}%")
PY

# 4. Label smoothing: 3 epochs, then one batch of 16 test-like images: the
#    loss and the output layer's bias gradient (the batch sum of the
#    logits' gradient) against PyTorch's cross_entropy(label_smoothing=0.1)
#    on the logits of the same training-mode forward, to 1e-5; the
#    generated and generic steps agree.
run --epochs 3 --label-smoothing 0.1 --out "$tmp/ls" > "$tmp/ls.out"
have_torch=1
/usr/bin/python3 -c "import torch" 2> /dev/null || have_torch=0
if [ $have_torch = 1 ]; then
  /usr/bin/python3 - "$tmp/batch.safetensors" << 'PY'
import sys, torch, json, struct
torch.manual_seed(0)
x = torch.randn(16, 1, 28, 28) * 1.5
y = torch.arange(16) % 10
def tensor(t, dtype):
    return {"dtype": dtype, "shape": list(t.shape)}, t.contiguous().numpy().tobytes()
parts = [("input", *tensor(x, "F32")), ("labels", *tensor(y.to(torch.int64), "I64"))]
header, blob = {}, b""
for name, h, data in parts:
    h["data_offsets"] = [len(blob), len(blob) + len(data)]
    header[name], blob = h, blob + data
text = json.dumps(header).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(text)) + text + blob)
PY
  for e in tiny tiny_generic; do
    "$tmp/$e" grad --weights "$tmp/ls/checkpoint.safetensors" --input "$tmp/batch.safetensors" --label-smoothing 0.1 \
      --output "$tmp/grad_$e.safetensors"
  done
  "$exe" forward --train --weights "$tmp/ls/checkpoint.safetensors" --input "$tmp/batch.safetensors" \
    --output "$tmp/logits.safetensors"
  /usr/bin/python3 - "$tmp" << 'PY' || fail "label smoothing against PyTorch"
import sys, json, struct, torch
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": torch.float32, "I64": torch.int64}[v["dtype"]]
        out[k] = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=dt).reshape(v["shape"])
    return out
tmp = sys.argv[1]
labels = load(f"{tmp}/batch.safetensors")["labels"]
logits = load(f"{tmp}/logits.safetensors")["logits"].double().requires_grad_()
loss = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
loss.backward()
want_bias = logits.grad.sum(0)
for e in ("tiny", "tiny_generic"):
    g = load(f"{tmp}/grad_{e}.safetensors")
    dl = abs(g["loss"].item() - loss.item())
    db = (g["grad.fc.bias"].double() - want_bias).abs().max().item()
    print(f"{e}: loss {g['loss'].item():.7f}, torch {loss.item():.7f}: |difference| {dl:.2g}; fc.bias gradient {db:.2g}")
    assert dl < 1e-5 and db < 1e-5
PY
else
  echo "no torch: the label smoothing check against PyTorch is skipped"
fi

# 5. AdamW: 2 epochs straight equal 1 epoch and a resume, bit for bit (the
#    moments and --limit come from the checkpoint: the resume gives neither
#    --limit nor --optimizer; epoch 0's rate is the base rate whatever the
#    length). A changed --lr is applied with a note; a changed --batch,
#    --limit or --optimizer is refused in one line, before any work.
run --epochs 2 --optimizer adamw --out "$tmp/w2" > /dev/null
run --epochs 1 --optimizer adamw --out "$tmp/w1" > /dev/null
"$exe" train --data "$data" --dataset fashion-mnist --epochs 2 --resume "$tmp/w1/checkpoint.safetensors" --out "$tmp/w1" > /dev/null 2> "$tmp/w1.err"
grep -q "^note: the run in .* goes on for 2 epochs instead of 1" "$tmp/w1.err" || fail "no note of the new length"
cmp "$tmp/w1/checkpoint.safetensors" "$tmp/w2/checkpoint.safetensors" || fail "a resumed AdamW run differs from a straight one"
expect_one_line() { # expect_one_line PATTERN COMMAND...
  local pattern=$1; shift
  if "$@" > /dev/null 2> "$tmp/err"; then fail "$* succeeded"; fi
  grep -q -- "$pattern" "$tmp/err" || fail "$*: expected '$pattern' in: $(cat "$tmp/err")"
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$*: more than one line: $(cat "$tmp/err")"
}
resume=(train --data "$data" --resume "$tmp/w2/checkpoint.safetensors" --out "$tmp/w2")
expect_one_line "^error: --batch 64: the run in .* has batch 32" "$exe" "${resume[@]}" --batch 64
expect_one_line "^error: --limit 100: the run in .* has limit 256" "$exe" "${resume[@]}" --limit 100
expect_one_line "^error: --optimizer sgd: the run in .* has optimizer adamw" "$exe" "${resume[@]}" --optimizer sgd
expect_one_line "^error: --label-smoothing 0.2: .* has label-smoothing 0" "$exe" "${resume[@]}" --label-smoothing 0.2
cmp "$tmp/w2/checkpoint.safetensors" "$tmp/w1/checkpoint.safetensors" || fail "a refused resume changed the checkpoint"
"$exe" "${resume[@]}" --epochs 3 --lr 0.0005 > "$tmp/lr.out" 2> "$tmp/lr.err"
grep -q "^note: the run in .* goes on at base learning rate 0.0005 instead of 0.001$" "$tmp/lr.err" ||
  fail "a changed --lr was not noted: $(cat "$tmp/lr.err")"
# epoch 3 of 3 at base 0.0005: 0.0005 (1 + cos(2 pi / 3)) / 2
[ "$(tail -1 "$tmp/w2/log.csv" | cut -d, -f1,2)" = "3,0.000125" ] || fail "the new --lr was not applied: $(cat "$tmp/w2/log.csv")"

# 6. Warmup: AdamW's default rate 0.001 rises over 2 epochs, then the cosine
#    runs over the other 2: 0.0005, 0.001, 0.001, 0.0005.
run --epochs 4 --optimizer adamw --warmup-epochs 2 --out "$tmp/warm" > /dev/null
[ "$(cut -d, -f2 "$tmp/warm/log.csv" | tail -n +2 | tr '\n' ' ')" = "0.0005 0.001 0.001 0.0005 " ] ||
  fail "warmup rates: $(cut -d, -f2 "$tmp/warm/log.csv" | tr '\n' ' ')"
expect_one_line "^error: --warmup-epochs 4: expected fewer than the run's 4 epochs" \
  "$exe" train --data "$data" --dataset fashion-mnist --epochs 4 --warmup-epochs 4 --out "$tmp/warm2"
expect_one_line "^error: --momentum is SGD's" "$exe" train --data "$data" --dataset fashion-mnist --optimizer adamw --momentum 0.8 --out "$tmp/m"

# 7. Outputs checked before the work: in under a second, one line.
touch "$tmp/afile"
fast_one_line() { # fast_one_line PATTERN COMMAND...
  local t0=$(date +%s%N)
  expect_one_line "$@"
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ $ms -lt 1000 ] || fail "$*: took $ms ms to fail"
}
fast_one_line "afile: not a folder" "$exe" train --data "$data" --dataset fashion-mnist --out "$tmp/afile"
fast_one_line "afile/sub: cannot create the output folder" "$exe" train --data "$data" --dataset fashion-mnist --out "$tmp/afile/sub"
fast_one_line "/nonexistent/dir/exe: error: its folder /nonexistent/dir does not exist" \
  "$build/mcgen" build "$here/fixtures/tiny_fmnist.mcn" -o /nonexistent/dir/exe
fast_one_line "$tmp/afile/exe: error: its folder $tmp/afile is not a folder" \
  "$build/mcgen" build "$here/fixtures/tiny_fmnist.mcn" -o "$tmp/afile/exe"
fast_one_line "/nonexistent/dir/src: error: its folder /nonexistent/dir does not exist" \
  "$build/mcgen" emit "$here/fixtures/tiny_fmnist.mcn" -o /nonexistent/dir/src
echo "results: all passed"
