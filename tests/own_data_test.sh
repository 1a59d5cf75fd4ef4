#!/usr/bin/env bash
# own_data_test.sh BUILD_DIR IMAGE_WRITE: training on images of one's own
# (docs/own_data.md), end to end with real files. From Fashion-MNIST
# (Debian's dataset-fashion-mnist; skipped without it or python3-torch):
# a folder of 5 classes in train/ and val/, PNG, JPEG, BMP and PGM (with a
# comment) images of sizes from 16 to 48 pixels, gray and RGB, a CSV list
# of names and indices; a model of its own input (3x24x24, 5 classes)
# trains on it, evaluates and predicts with the checkpoint's classes and
# normalization; it fine-tunes from a PyTorch state_dict (written here by
# hand in the safetensors format, "module." prefixes, a 10-class head) with
# a frozen layer; and bad inputs get one-line errors naming the file.
set -euo pipefail
build=$1
image_write=$2
fm=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
if [ ! -e "$fm/train-images-idx3-ubyte.gz" ]; then
  echo "SKIP: no Fashion-MNIST in $fm (apt-get install dataset-fashion-mnist)"
  exit 77
fi
if ! /usr/bin/python3 -c "import numpy, torch" 2> /dev/null; then
  echo "SKIP: /usr/bin/python3 has no numpy and torch (apt-get install python3-torch python3-numpy)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_error() { # expect_error PATTERN COMMAND...: exit 1, one line on stderr holding PATTERN
  local pattern=$1; shift
  if "$@" > "$tmp/out" 2> "$tmp/err"; then fail "$* succeeded"; fi
  grep -q -- "$pattern" "$tmp/err" || fail "$*: expected '$pattern' in: $(cat "$tmp/err")"
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$*: more than one line: $(cat "$tmp/err")"
  echo "refused: $(cat "$tmp/err")"
}

exe=$tmp/tiny
"$build/mcgen" build tests/fixtures/tiny_rgb.mcn -o "$exe" > /dev/null

# The images: 60 training and 12 validation images of each of the first 5
# classes, every image resized (nearest) to its own size, every third one
# tinted RGB, in turn PNG, JPEG, BMP and PGM.
/usr/bin/python3 - "$fm" "$tmp" << 'PY' | "$image_write"
import gzip, sys
import numpy as np
fm, tmp = sys.argv[1], sys.argv[2]
images = np.frombuffer(gzip.open(fm + "/train-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 28, 28)
labels = np.frombuffer(gzip.open(fm + "/train-labels-idx1-ubyte.gz").read()[8:], np.uint8)
names = ["t-shirt", "trouser", "pullover", "dress", "coat"]
rng = np.random.default_rng(0)
out = sys.stdout.buffer
import os
csv = open(tmp + "/list.csv", "w")
csv.write("path,label\n")
count = {}
for i in range(len(labels)):
    k = int(labels[i])
    if k >= 5 or count.get(k, 0) == 72:
        continue
    n = count[k] = count.get(k, 0) + 1
    split = "train" if n <= 60 else "val"
    d = "%s/imgs/%s/%s" % (tmp, split, names[k])
    os.makedirs(d, exist_ok=True)
    w, h = (int(x) for x in rng.integers(16, 49, 2))
    img = images[i][np.arange(h) * 28 // h][:, np.arange(w) * 28 // w]
    if n % 3 == 0:
        tint = rng.uniform(0.5, 1.0, 3)
        img = (img[:, :, None] * tint).astype(np.uint8)
    ext = ["png", "jpg", "bmp", "pgm"][n % 4]
    path = "%s/%03d.%s" % (d, n, ext)
    if ext == "pgm":
        gray = img if img.ndim == 2 else img.mean(axis=2).astype(np.uint8)
        open(path, "wb").write(b"P5\n# written by own_data_test.sh\n%d %d\n255\n" % (w, h) + gray.tobytes())
    else:
        c = 1 if img.ndim == 2 else 3
        out.write(b"%s %d %d %d\n" % (path.encode(), w, h, c) + np.ascontiguousarray(img).tobytes())
    if split == "val":  # the list: names and indices (of the sorted names), paths relative to it
        csv.write("imgs/val/%s/%03d.%s,%s\n" % (names[k], n, ext, names[k] if n % 2 else sorted(names).index(names[k])))
PY
echo "images: $(find "$tmp/imgs" -type f | wc -l) files, $(find "$tmp/imgs" -name '*.jpg' | wc -l) JPEG"

# 1. Train 1 epoch on the folder: the normalization is computed (a note
#    says so), the checkpoint holds it with the class names in folder order.
"$exe" train --data "$tmp/imgs" --epochs 1 --batch 32 --limit 200 --out "$tmp/run" > "$tmp/train.out" 2> "$tmp/train.err"
cat "$tmp/train.out" "$tmp/train.err"
grep -q "note: normalization from the 200 training images" "$tmp/train.err" || fail "no normalization note"
ck=$tmp/run/checkpoint.safetensors
/usr/bin/python3 - "$ck" << 'PY' || fail "checkpoint metadata"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
meta = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])["__metadata__"]
assert meta["dataset"] == "images", meta
assert meta["class_names"].split("\n") == ["coat", "dress", "pullover", "t-shirt", "trouser"], meta
mean = [float(x) for x in meta["mean"].split(",")]
assert len(mean) == 3 and all(0.05 < m < 0.6 for m in mean), meta
print("metadata:", {k: meta[k] for k in ("dataset", "mean", "std", "class_names")})
PY

# 2. eval on val/ and on the CSV list (names and indices) with the
#    checkpoint's classes and normalization; predict any size and format.
"$exe" eval --weights "$ck" --data "$tmp/imgs" --confusion "$tmp/confusion.csv" | tee "$tmp/eval.out"
grep -q "^images: 60 test images, loss [0-9.]*, accuracy" "$tmp/eval.out" || fail "eval on the folder"
# per-class accuracy, top-5 (5 classes), the confusion matrix by the folder's
# class names, and the training curves: what a user of their own images looks at
for name in coat dress pullover t-shirt trouser; do
  grep -q "^ *[0-4] $name " "$tmp/eval.out" || fail "eval: no per-class line for $name"
done
grep -q "^top-5 accuracy 100.00%" "$tmp/eval.out" || fail "eval: top-5 of 5 classes is not 100%"
head -1 "$tmp/confusion.csv" | grep -q "coat,dress,pullover,t-shirt,trouser" || fail "confusion header: $(head -1 "$tmp/confusion.csv")"
[ "$(wc -l < "$tmp/confusion.csv")" -eq 6 ] || fail "confusion: not 5 rows and a header"
/usr/bin/python3 -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$tmp/run/curves.svg" || fail "curves.svg"
"$exe" eval --weights "$ck" --data "$tmp/list.csv" | tee "$tmp/eval_csv.out"
# the list holds val/'s 60 images: the same loss and accuracy
[ "$(cut -d: -f2 "$tmp/eval.out")" = "$(cut -d: -f2 "$tmp/eval_csv.out")" ] || fail "the list evaluates differently"
"$exe" predict --weights "$ck" "$tmp/imgs/val/coat/064.png" "$tmp/imgs/val/dress/063.pgm" \
  "$tmp/imgs/val/trouser/065.jpg" | tee "$tmp/predict.out"
[ "$(grep -c "class [0-4] [a-z-]* *(p=" "$tmp/predict.out")" -eq 3 ] || fail "predict: $(cat "$tmp/predict.out")"

# 3. One folder split by --val-split (train/ alone, drawn with --seed),
#    with --mean/--std given (no statistics pass); eval finds the same split.
"$exe" train --data "$tmp/imgs/train" --val-split 0.2 --seed 3 --mean 0.3 --std 0.35 --epochs 1 --batch 32 \
  --limit 100 --out "$tmp/split" > /dev/null 2> "$tmp/split.err"
grep -q "normalization from" "$tmp/split.err" && fail "--mean/--std given, yet the statistics were computed"
"$exe" eval --weights "$tmp/split/checkpoint.safetensors" --data "$tmp/imgs/train" | tee "$tmp/split.out"
grep -q "^images: 60 test images" "$tmp/split.out" || fail "eval did not take the held-out 20% (60 of 300)"

# 3b. --resume takes the split and normalization from the checkpoint: 1
#     epoch then resumed to 2 equals 2 straight, bit for bit.
"$exe" train --data "$tmp/imgs/train" --val-split 0.2 --seed 3 --epochs 2 --batch 32 --limit 100 \
  --out "$tmp/straight" > /dev/null 2>&1
"$exe" train --data "$tmp/imgs/train" --val-split 0.2 --seed 3 --epochs 1 --batch 32 --limit 100 \
  --out "$tmp/resumed" > /dev/null 2>&1
"$exe" train --data "$tmp/imgs/train" --epochs 2 --resume "$tmp/resumed/checkpoint.safetensors" --limit 100 \
  --out "$tmp/resumed" > /dev/null 2> "$tmp/resume.err"
grep -q "normalization from" "$tmp/resume.err" && fail "the resumed run computed the statistics again"
cmp "$tmp/straight/checkpoint.safetensors" "$tmp/resumed/checkpoint.safetensors" || fail "resumed run differs"

# 4. Fine-tuning from a PyTorch state_dict: a 10-class head (initialized
#    afresh, a note names it), "module." prefixes, c1 frozen.
"$exe" init --out "$tmp/ours.safetensors"
/usr/bin/python3 - "$tmp/ours.safetensors" "$tmp" << 'PY'
import json, struct, sys
import torch
b = open(sys.argv[1], "rb").read()
header = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
torch.manual_seed(0)
sd = {}
for name, t in header.items():
    if name == "__metadata__":
        continue
    shape = [10] + t["shape"][1:] if name.startswith("fc.") else t["shape"]
    if t["dtype"] == "I64":
        sd[name] = torch.tensor(7, dtype=torch.int64)
    elif name.endswith("running_var"):
        sd[name] = torch.rand(shape) + 0.5
    else:
        sd[name] = torch.randn(shape) * 0.1
def save(path, tensors):  # the safetensors format by hand: u64 header length, JSON, raw data
    head, data = {}, b""
    for name, t in tensors.items():
        raw = t.contiguous().numpy().tobytes()
        head[name] = {"dtype": {torch.float32: "F32", torch.int64: "I64"}[t.dtype], "shape": list(t.shape),
                      "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(head).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)
save(sys.argv[2] + "/torch.safetensors", {"module." + k: v for k, v in sd.items()})
save(sys.argv[2] + "/nohead.safetensors", {k: v for k, v in sd.items() if not k.startswith("fc.")})
save(sys.argv[2] + "/missing.safetensors", {k: v for k, v in sd.items() if k != "c2.weight"})
torch.save(sd, sys.argv[2] + "/sd.pt")
PY
"$exe" train --data "$tmp/imgs" --init "$tmp/torch.safetensors" --freeze c1. --epochs 1 --batch 32 --limit 200 \
  --out "$tmp/tune" > /dev/null 2> "$tmp/tune.err"
cat "$tmp/tune.err"
grep -q "note: .*torch.safetensors: 2 tensors absent or of another shape, initialized afresh (a new head): fc.weight, fc.bias" \
  "$tmp/tune.err" || fail "no note naming the new head"
/usr/bin/python3 - "$tmp/tune/checkpoint.safetensors" "$tmp/sd.pt" << 'PY' || fail "--init/--freeze did not hold"
import json, struct, sys
import numpy as np, torch
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
head = json.loads(b[8:8 + n])
def get(name):
    t = head[name]
    lo, hi = t["data_offsets"]
    return np.frombuffer(b[8 + n + lo:8 + n + hi], np.float32).reshape(t["shape"])
sd = torch.load(sys.argv[2])
assert np.array_equal(get("c1.weight"), sd["c1.weight"].numpy()), "frozen c1.weight moved"
assert not np.array_equal(get("c2.weight"), sd["c2.weight"].numpy()), "c2.weight did not train"
assert np.abs(get("c2.weight") - sd["c2.weight"].numpy()).max() < 0.5, "c2.weight did not start from the state_dict"
assert get("fc.weight").shape == (5, 32)
print("fine-tuned: c1.weight frozen, c2.weight trained from the state_dict, fc a new 5-class head")
PY
"$exe" train --data "$tmp/imgs" --init "$tmp/nohead.safetensors" --epochs 1 --limit 64 --out "$tmp/nohead" \
  > /dev/null 2> "$tmp/nohead.err" || fail "a state_dict without its head: $(cat "$tmp/nohead.err")"

# 5. Datasets named, not guessed: IDX files in a folder without "fashion"
#    in its path are read as MNIST, and a note says so and how to choose.
mkdir "$tmp/idx" && cp "$fm"/*.gz "$tmp/idx/"
"$exe" train --data "$tmp/idx" --epochs 1 --out "$tmp/idxrun" > /dev/null 2> "$tmp/idx.err" || true
grep -q "^note: $tmp/idx holds IDX files, which MNIST and Fashion-MNIST share: read as mnist because its path does not contain 'fashion'; --dataset mnist or --dataset fashion-mnist says which" \
  "$tmp/idx.err" || fail "no note on the guess: $(cat "$tmp/idx.err")"

# 6. Errors: one line naming the file, exit 1.
expect_error "missing.safetensors: tensor 'c2.weight' of tiny_rgb (multiception) is missing" \
  "$exe" train --data "$tmp/imgs" --init "$tmp/missing.safetensors" --limit 64 --out "$tmp/e1"
expect_error "no parameter of tiny_rgb starts with it" \
  "$exe" train --data "$tmp/imgs" --freeze nope. --limit 64 --out "$tmp/e1"
# A small copy of the folder to break in turn.
mkdir -p "$tmp/bad/val"
for k in coat dress pullover t-shirt trouser; do
  mkdir -p "$tmp/bad/train/$k" && cp "$tmp"/imgs/train/$k/00[1-8].* "$tmp/bad/train/$k/"
done
cp -r "$tmp/imgs/val/coat" "$tmp/bad/val/"
head -c 100 "$tmp/imgs/train/coat/004.png" > "$tmp/bad/train/dress/broken.png" # a header, then nothing
expect_error "bad/train/dress/broken.png: not a readable image (expected PNG, JPEG, PGM/PPM or BMP" \
  "$exe" train --data "$tmp/bad" --epochs 1 --out "$tmp/e2"
rm "$tmp/bad/train/dress/broken.png"
echo "not an image" > "$tmp/bad/val/coat/text.jpg"
expect_error "bad/val/coat/text.jpg: not a readable image" "$exe" eval --weights "$ck" --data "$tmp/bad"
rm "$tmp/bad/val/coat/text.jpg"
mkdir "$tmp/bad/val/zebra"
expect_error "bad/val/zebra: class 'zebra' unknown" "$exe" eval --weights "$ck" --data "$tmp/bad"
rmdir "$tmp/bad/val/zebra"
mkdir "$tmp/bad/val/dress"
expect_error "bad/val/dress: empty class folder" "$exe" eval --weights "$ck" --data "$tmp/bad"
{ echo "path,label"; echo "imgs/val/coat/064.png,coat"; echo "imgs/val/coat/061.jpg"; } > "$tmp/bad.csv"
expect_error "bad.csv: line 3: expected 'path,label', got 'imgs/val/coat/061.jpg'" \
  "$exe" eval --weights "$ck" --data "$tmp/bad.csv"
{ echo "imgs/val/coat/064.png,coat"; echo "imgs/val/coat/061.jpg,zebra"; } > "$tmp/bad.csv"
expect_error "bad.csv: line 2: label 'zebra' unknown" "$exe" eval --weights "$ck" --data "$tmp/bad.csv"
{ echo "imgs/val/coat/064.png,coat"; echo "imgs/val/coat/nothere.png,coat"; } > "$tmp/bad.csv"
expect_error "imgs/val/coat/nothere.png: No such file or directory" "$exe" eval --weights "$ck" --data "$tmp/bad.csv"
expect_error "text.png: not a readable image" sh -c "echo hello > '$tmp/text.png' && '$exe' predict --weights '$ck' '$tmp/text.png'"
echo "own_data: OK"
