#!/usr/bin/env python3
"""Parity of an mcgen-built classifier with PyTorch (tests/parity/reference_models.py).

    python3 tests/parity/parity.py --mcgen build-gcc/mcgen --model models/resnet20.mcn \
        --conv multiception [--input CxHxW] [--classes N] [--batch N] [--seed S] [--tol T] [--graph]

The PyTorch side is reference_models.py's hand-written module for the zoo's
models, and for any other model (or with --graph) the twin that
tools/torch_graph.py builds from `mcgen summary --json` (--mcgen is then needed
even with --exe).

Steps (all files in a temporary folder, kept on failure or with --keep):
  1. mcgen build MODEL --conv T [--input ..] [--classes ..] -o exe
  2. exe init --seed S --out init.safetensors; the checkpoint must load into the
     PyTorch model with load_state_dict(strict=True), F32 tensors and I64
     num_batches_tracked (entries named optim.* are ignored)
  3. the state is perturbed (weights, BN affine and running statistics) and
     written to w.safetensors with a DataParallel 'module.' prefix on every key;
     in.safetensors holds 'input' F32 [N,C,H,W] and 'labels' I64 [N]
  4. exe forward (eval), exe forward --train --no-dropout --shake-alpha A
     --shake-beta B, and exe grad ... --no-dropout --shake-alpha A --shake-beta B
     are compared with the float64 PyTorch model: logits, loss and every
     parameter gradient.
Error per tensor: max|ours - torch| / max(max|torch|, floor); floor = 1e-30 for
logits and loss, 1e-2 * the largest |grad| over all parameters for gradients.
Exit status: 0 all checks pass, 1 a check failed, 2 a setup problem (no torch,
mcgen missing, build or init failed).

Conditioning (float32 against float64): a ReLU input that lies within float32
rounding of its kink has an ambiguous derivative, and one such element moves a
weight gradient by up to ~1e-2 when few positions feed it. When gradients fail,
the script retries with the derivative taken from the other side at the closest
such elements (greedy, at most 4) and reports each one it used ("kinks:" lines);
--no-kink-resolve turns this off. For MobileNetV2 (deep, train-mode BN, ReLU6)
the BNs that feed a ReLU/ReLU6 also get per-channel affine values that keep whole
channels clear of the kinks (--bn-regimes, see perturb()).

--self-test runs the whole pipeline against a stand-in classifier written in
PyTorch (float32), once faithful (must pass) and once with injected bugs (must
fail), plus a round trip of the safetensors reader and writer. It needs no C.
"""

import argparse
import copy
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

EXIT_PASS, EXIT_FAIL, EXIT_SETUP = 0, 1, 2


class SetupError(Exception):
    pass


class CheckFailure(Exception):
    pass


# --------------------------------------------------------------------------
# safetensors: 8-byte LE header length, JSON header, raw little-endian data
# --------------------------------------------------------------------------

def _np_dtypes():
    import numpy as np
    return {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
            "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    """-> (dict name -> (dtype string, numpy array) in file order, metadata dict)."""
    import numpy as np
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError("%s: %d bytes, shorter than the 8-byte header length" % (path, len(buf)))
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        raise ValueError("%s: header length %d exceeds the file (%d bytes)" % (path, n, len(buf)))
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = memoryview(buf)[8 + n:]
    types = _np_dtypes()
    out = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        dt = info["dtype"]
        if dt not in types:
            raise ValueError("%s: tensor %s has dtype %s, which this reader does not know" % (path, name, dt))
        b, e = info["data_offsets"]
        shape = tuple(int(d) for d in info["shape"])
        npdt = np.dtype(types[dt]).newbyteorder("<")
        count = 1
        for d in shape:
            count *= d
        if not (0 <= b <= e <= len(data)) or e - b != count * npdt.itemsize:
            raise ValueError("%s: tensor %s: data_offsets [%d, %d] do not fit shape %s %s (data %d bytes)"
                             % (path, name, b, e, list(shape), dt, len(data)))
        arr = np.frombuffer(data[b:e], dtype=npdt, count=count).reshape(shape)
        out[name] = (dt, arr.astype(npdt.newbyteorder("="), copy=True))
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (written in dict order)."""
    import numpy as np
    names = {v: k for k, v in _np_dtypes().items()}
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        dt = names.get(arr.dtype.type)
        if dt is None:
            raise ValueError("tensor %s: dtype %s not writable" % (name, arr.dtype))
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def read_mcn_header(path):
    """The header facts of a .mcn file: model, input, classes, conv_type."""
    facts = {}
    with open(path) as f:
        for line in f:
            words = line.split("#", 1)[0].split()
            if len(words) == 2 and words[0] in ("model", "input", "classes", "conv_type"):
                facts.setdefault(words[0], words[1])
    return facts


def parse_shape(s):
    parts = s.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise SetupError("bad input shape %r (expected CxHxW, e.g. 3x32x32)" % s)
    return tuple(int(p) for p in parts)


def run(cmd, what, setup, log, timeout):
    t0 = time.time()
    log("$ " + " ".join(shlex.quote(c) for c in cmd))
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    except FileNotFoundError as e:
        raise (SetupError if setup else CheckFailure)("%s: cannot run %s: %s" % (what, cmd[0], e))
    except subprocess.TimeoutExpired:
        raise (SetupError if setup else CheckFailure)("%s: timed out after %d s" % (what, timeout))
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        tail = "\n".join(out.rstrip().splitlines()[-25:])
        raise (SetupError if setup else CheckFailure)(
            "%s failed (exit status %d):\n  $ %s\n%s" % (what, p.returncode, " ".join(shlex.quote(c) for c in cmd),
                                                        "\n".join("  | " + l for l in tail.splitlines())))
    return time.time() - t0


def rel_error(ours, ref, floor):
    import numpy as np
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if not np.all(np.isfinite(ours)):
        return float("inf")
    diff = float(np.max(np.abs(ours - ref))) if ref.size else 0.0
    scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, floor)
    return diff / scale


class Report:
    def __init__(self, tol):
        self.tol = tol
        self.rows = []  # (name, err or None, ok, note)
        self.warnings = []

    def check(self, name, err, note=""):
        ok = err is not None and err <= self.tol
        self.rows.append((name, err, ok, note))
        print("%-60s %11s  %s%s" % (name, "%.3e" % err if err is not None else "-",
                                    "ok" if ok else "FAIL", ("  " + note) if note else ""))
        sys.stdout.flush()
        return ok

    def fail(self, name, note):
        self.rows.append((name, None, False, note))
        print("%-60s %11s  FAIL  %s" % (name, "-", note))
        sys.stdout.flush()

    def passed(self, name, note=""):
        self.rows.append((name, None, True, note))
        print("%-60s %11s  ok%s" % (name, "-", ("  " + note) if note else ""))

    def failures(self):
        return [r for r in self.rows if not r[2]]


# --------------------------------------------------------------------------
# state handling
# --------------------------------------------------------------------------

def expected_dtype(name, tensor):
    import torch
    return "I64" if tensor.dtype == torch.int64 else "F32"


def check_checkpoint(rep, ckpt, model):
    """Names, shapes and dtypes of an init checkpoint against the model's state_dict;
    then load_state_dict(strict=True). Returns the state (torch tensors) or None."""
    import torch
    ref = model.state_dict()
    entries = {k: v for k, v in ckpt.items() if not k.startswith("optim.")}
    ignored = len(ckpt) - len(entries)
    missing = [k for k in ref if k not in entries]
    unexpected = [k for k in entries if k not in ref]
    problems = []
    if missing:
        problems.append("%d missing (%s%s)" % (len(missing), ", ".join(missing[:4]), ", ..." if len(missing) > 4 else ""))
    if unexpected:
        problems.append("%d unexpected (%s%s)" % (len(unexpected), ", ".join(unexpected[:4]),
                                                 ", ..." if len(unexpected) > 4 else ""))
    for k, t in ref.items():
        if k not in entries:
            continue
        dt, arr = entries[k]
        if tuple(arr.shape) != tuple(t.shape):
            problems.append("%s: shape %s, expected %s" % (k, list(arr.shape), list(t.shape)))
        want = expected_dtype(k, t)
        if dt != want:
            problems.append("%s: dtype %s, expected %s" % (k, dt, want))
    order_ok = [k for k in entries if k in ref] == [k for k in ref if k in entries]
    if problems:
        rep.fail("init checkpoint: names, shapes, dtypes", "; ".join(problems[:8]) +
                 (" (+%d more)" % (len(problems) - 8) if len(problems) > 8 else ""))
        return None
    state = {k: torch.from_numpy(entries[k][1].copy()) for k in ref}
    try:
        model.load_state_dict(state, strict=True)
    except Exception as e:  # noqa: BLE001 - report whatever torch says
        rep.fail("init checkpoint: load_state_dict(strict=True)", str(e).splitlines()[0])
        return None
    rep.passed("init checkpoint: load_state_dict(strict=True)",
               "%d tensors%s%s" % (len(ref), ", %d optim.* ignored" % ignored if ignored else "",
                                  "" if order_ok else ", stored in another order than state_dict()"))
    return state


def init_statistics(rep, model_name, conv, classes, in_channels, state):
    """Informational: compare the init checkpoint with the reference init rules
    (BN exact; weights: sample std within a factor 1.25 of a PyTorch init of the
    same model). Prints WARN lines; never fails the run."""
    import torch
    import reference_models as R
    torch.manual_seed(12345)
    fresh = R.build(model_name, conv, classes, in_channels)
    ref = fresh.state_dict()
    bn_names = set()
    for mname, m in fresh.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            bn_names.add(mname)
    warn = []
    for k, t in ref.items():
        v = state[k]
        owner, leaf = k.rsplit(".", 1)
        if owner in bn_names:
            want = {"weight": 1.0, "bias": 0.0, "running_mean": 0.0, "running_var": 1.0,
                    "num_batches_tracked": 0}[leaf]
            if not bool(torch.all(v == want)):
                warn.append("%s not all %s" % (k, want))
            continue
        if t.numel() < 256:
            continue
        s_ref, s_got = float(t.double().std()), float(v.double().std())
        if s_ref == 0.0:
            if s_got != 0.0:
                warn.append("%s: std %.3g, expected all 0" % (k, s_got))
        elif not (0.8 <= s_got / s_ref <= 1.25):
            warn.append("%s: std %.4g, SPEC's rule gives %.4g" % (k, s_got, s_ref))
        elif abs(float(v.double().mean())) > 0.2 * s_ref + 1e-12:
            warn.append("%s: mean %.3g for std %.3g" % (k, float(v.double().mean()), s_ref))
    if warn:
        print("%-60s %11s  WARN  %d tensor(s), e.g. %s" % ("init statistics vs SPEC 3 (informational)", "-",
                                                         len(warn), "; ".join(warn[:4])))
        rep.warnings += warn
    else:
        print("%-60s %11s  ok" % ("init statistics vs SPEC 3 (informational)", "-"))


def bns_before_relu(model):
    """The BatchNorms whose output goes straight into a ReLU or ReLU6."""
    import torch.nn as nn
    import reference_models as R
    if hasattr(model, "graph"):  # a torch_graph twin: read the graph
        ops = {l["name"]: l["op"] for l in model.graph["layers"]}
        return [model.get_submodule(l["inputs"][0]) for l in model.graph["layers"]
                if l["op"] in ("relu", "relu6") and ops.get(l["inputs"][0]) == "batchnorm"]

    def last_bn(m):
        if isinstance(m, nn.BatchNorm2d):
            return m
        if isinstance(m, R.DSConv):
            return m.bn
        if isinstance(m, R.Multiception):
            return m.bn2
        if isinstance(m, nn.Sequential) and len(m):
            return last_bn(m[len(m) - 1])
        return None

    found = []
    for seq in model.modules():
        if isinstance(seq, nn.Sequential):
            kids = list(seq.children())
            for a, b in zip(kids, kids[1:]):
                if isinstance(b, (nn.ReLU, nn.ReLU6)) and last_bn(a) is not None:
                    found.append(last_bn(a))
    return found


def perturb(model, x, seed, regimes=False):
    """Randomize the state in place (float64 model): every parameter changed a
    little, BN affine random, BN running statistics near the batch statistics of
    x, then randomized (var > 0).

    regimes: the BNs that feed a ReLU/ReLU6 get per channel a bias that keeps the
    whole channel far from the kinks: linear (bias 3, half of the channels), dead
    (-3.5) or, where it is safe, saturated at 6 (9.5), and a weight <= 1 small
    enough for a margin of 0.5 on this batch in train mode. Without this a deep
    train-mode BN network (MobileNetV2) amplifies float32 rounding until some
    activation lands on the other side of a kink than in float64, and one such
    flip moves a weight gradient by ~1e-2 when few positions feed it."""
    import torch
    import reference_models as R
    g = torch.Generator().manual_seed(seed * 7919 + 17)

    def randn(t):
        return torch.randn(t.shape, generator=g, dtype=t.dtype)

    def rand(t):
        return torch.rand(t.shape, generator=g, dtype=t.dtype)

    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    bn_params = {id(p) for m in bns for p in (m.weight, m.bias)}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if id(p) in bn_params:
                continue
            s = float(p.std()) if p.numel() > 1 else abs(float(p.flatten()[0]))
            p.add_(randn(p) * (0.1 * s if s > 0 else 0.05))
        for m in bns:
            m.weight.copy_(0.5 + rand(m.weight))
            m.bias.copy_(0.2 * randn(m.bias))
        if regimes:
            # saturating a channel is safe only where the ReLU6 output feeds 1x1 convs or the pool
            # (a constant channel into a kxk conv leaves BN a near-zero variance): the depthwise
            # BNs of the inverted residuals and the head's BN
            sat_ok = set()
            for seq in model.modules():
                kids = list(seq.children()) if isinstance(seq, torch.nn.Sequential) else []
                if (len(kids) == 3 and isinstance(kids[0], torch.nn.Conv2d) and isinstance(kids[2], torch.nn.ReLU6)
                        and (kids[0].groups > 1 or seq is getattr(model, "features", [None])[-1])):
                    sat_ok.add(id(kids[1]))
            regime_bns = bns_before_relu(model)
            for m in regime_bns:
                u = rand(m.bias)
                top = 9.5 if id(m) in sat_ok else 3.0
                m.weight.fill_(1.0)
                m.bias.copy_(torch.where(u < 0.5, torch.full_like(u, 3.0),
                                         torch.where(u < 0.75, torch.full_like(u, -3.5), torch.full_like(u, top))))
            # weight = min(1, 2.5 / max|x_hat|) per channel keeps every element at least 0.5 from a
            # kink in train mode on this batch; a few rounds, as each change moves later layers
            peak = {}

            def hook(mod, inp, out):
                v = inp[0].transpose(0, 1).reshape(inp[0].shape[1], -1)
                xh = (v - v.mean(1, keepdim=True)) / torch.sqrt(v.var(1, unbiased=False, keepdim=True) + mod.eps)
                peak[id(mod)] = xh.abs().max(1).values

            handles = [m.register_forward_hook(hook) for m in regime_bns]
            R.train_mode(model, dropout=False)
            R.set_shake(model, 0.5, 0.5)
            for _ in range(3):
                model(x)
                for m in regime_bns:
                    m.weight.copy_(torch.clamp(2.5 / peak[id(m)].clamp_min(1e-12), max=1.0))
            for h in handles:
                h.remove()
        # running stats from one batch (momentum 1), with fixed blends and no dropout
        saved = [(m, m.momentum) for m in bns]
        for m in bns:
            m.momentum = 1.0
        R.train_mode(model, dropout=False)
        R.set_shake(model, 0.5, 0.5)
        model(x)
        for m, mom in saved:
            m.momentum = mom
        R.set_shake(model, None, None)
        model.eval()
        for m in bns:
            sd = m.running_var.clamp_min(1e-6).sqrt()
            m.running_mean.add_(0.2 * sd * randn(m.running_mean))
            m.running_var.mul_(torch.exp(0.3 * randn(m.running_var))).clamp_(min=1e-4)
            m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))


def torch_grads(ref, x, y, a, b, record=None, flips=None):
    """Loss and parameter gradients of one train-mode forward + backward of a copy
    of ref (dropout off, shake alpha a, beta b). record: note the ReLU inputs within
    record*max|input| of a kink; flips: {relu module name: [index, ...]} where the
    derivative is taken from the other side of the kink.
    -> loss, {name: grad or None}, {name: shape}, [(relu name, index, input, distance/max)]"""
    import torch.nn.functional as F
    import reference_models as R
    m = R.set_shake(R.train_mode(copy.deepcopy(ref), dropout=False), a, b)
    relus = {n: mod for n, mod in m.named_modules() if isinstance(mod, R._KinkMixin)}
    for n, mod in relus.items():
        mod.record = record
        mod.flips = (flips or {}).get(n)
    m.zero_grad(set_to_none=True)
    loss = F.cross_entropy(m(x), y)
    loss.backward()
    grads = {k: (q.grad.numpy() if q.grad is not None else None) for k, q in m.named_parameters()}
    shapes = {k: tuple(q.shape) for k, q in m.named_parameters()}
    near = []
    for n, mod in relus.items():
        for idx, val in mod.near:
            d = abs(val) if mod.HI is None else min(abs(val), abs(val - mod.HI))
            near.append((n, idx, val, d / mod.scale if mod.scale > 0 else 0.0))
    near.sort(key=lambda t: t[3])
    return loss.item(), grads, shapes, near


def grad_errors(out, grads, shapes, names):
    """Error of every comparable gradient; floor = 1e-2 * the largest |grad| (PyTorch)."""
    import numpy as np
    gmax = max([float(np.max(np.abs(g))) for g in grads.values() if g is not None and g.size] + [0.0])
    floor = max(1e-2 * gmax, 1e-30)
    return {k: rel_error(out["grad." + k][1], grads[k] if grads[k] is not None else np.zeros(shapes[k]), floor)
            for k in names}


def resolve_kinks(ref, x, y, a, b, out, shapes, names, near, errs, args):
    """ReLU inputs closer to a kink than float32 rounding can resolve have an
    ambiguous derivative: the C side may see them on the other side. Greedily take
    the derivative from the other side at up to --kink-max of the closest ones,
    keeping a change only when it lowers the worst gradient error at least 2x.
    -> ([(relu, index, input, distance)] flipped, errors)"""
    cands = near[:args.kink_candidates]
    flipped, cur = [], max(errs.values())
    deadline = time.time() + args.kink_budget
    while len(flipped) < args.kink_max and cur > args.tol and time.time() < deadline:
        best = None
        for c in cands:
            if c in flipped or time.time() > deadline:
                continue
            flips = {}
            for n, idx, _, _ in flipped + [c]:
                flips.setdefault(n, []).append(idx)
            _, g, _, _ = torch_grads(ref, x, y, a, b, flips=flips)
            e = grad_errors(out, g, shapes, names)
            w = max(e.values())
            if best is None or w < best[0]:
                best = (w, c, e)
        if best is None or best[0] > 0.5 * cur:
            break
        cur, errs = best[0], best[2]
        flipped.append(best[1])
    return flipped, errs


# --------------------------------------------------------------------------
# the parity run
# --------------------------------------------------------------------------

def graph_of(args):
    """The model's graph from `mcgen summary --json`, with the run's options."""
    sys.path.insert(0, TOOLS)
    import torch_graph as G
    if not args.mcgen:
        raise SetupError("%s: the PyTorch twin is built from `mcgen summary --json`: give --mcgen" % args.model)
    try:
        return G.summary(args.mcgen, args.model, args.conv, args.input, args.classes)
    except (OSError, RuntimeError, ValueError) as e:
        raise SetupError(str(e))


def graph_twin(graph):
    """tools/torch_graph.py's module, with reference_models.py's ReLU, ReLU6 and
    shake, which the kink search and set_shake know."""
    import torch_graph as G
    import reference_models as R
    return G.build(graph, ops={"relu": lambda l, ins: R.ReLU(), "relu6": lambda l, ins: R.ReLU6(),
                               "shake": lambda l, ins: R.ShakeShake()})


def parity(args):
    try:
        import numpy as np
        import torch
    except ImportError as e:
        raise SetupError("PyTorch and numpy are needed (Debian: apt-get install python3-torch): %s" % e)
    sys.path.insert(0, HERE)
    import reference_models as R

    if not os.path.isfile(args.model):
        raise SetupError("no model description %s" % args.model)
    facts = read_mcn_header(args.model)
    model_name = facts.get("model") or os.path.splitext(os.path.basename(args.model))[0]
    graph = None
    if args.graph or model_name not in R.MODELS:
        graph = graph_of(args)
        conv, shape, classes = graph["conv"], tuple(graph["input"]), graph["classes"]
    else:
        conv = args.conv or facts.get("conv_type", "multiception")
        if conv not in R.CONV_TYPES:
            raise SetupError("unknown conv type %r" % conv)
        shape = parse_shape(args.input or facts.get("input", "3x32x32"))
        classes = args.classes if args.classes is not None else int(facts.get("classes", "10"))
    twin = (lambda: graph_twin(graph)) if graph else (lambda: R.build(model_name, conv, classes, shape[0]))
    n = args.batch
    tag = "%s/%s %s batch %d" % (model_name, conv, "x".join(map(str, shape)), n)
    print("parity: %s, %d classes, seed %d, tol %g, shake alpha %g beta %g; PyTorch side: %s" % (
        tag, classes, args.seed, args.tol, args.shake_alpha, args.shake_beta,
        "tools/torch_graph.py (mcgen summary --json)" if graph else "reference_models.py"))

    work = args.workdir or tempfile.mkdtemp(prefix="mcgen-parity-")
    os.makedirs(work, exist_ok=True)
    p = lambda name: os.path.join(work, name)  # noqa: E731
    log = (lambda s: print(s)) if args.verbose else (lambda s: None)
    times = {}
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, args.threads))
    rep = Report(args.tol)
    ok = False
    try:
        # 1. build (or take a classifier built before, with the same options)
        if args.exe:
            exe = os.path.abspath(args.exe)
            if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
                raise SetupError("classifier not found or not executable: %s" % args.exe)
        else:
            if not (os.path.isfile(args.mcgen) and os.access(args.mcgen, os.X_OK)):
                raise SetupError("mcgen not found or not executable: %s" % args.mcgen)
            exe = p("exe")
            cmd = [args.mcgen, "build", args.model, "--conv", conv]
            if args.input:
                cmd += ["--input", args.input]
            if args.classes is not None:
                cmd += ["--classes", str(args.classes)]
            cmd += ["-o", exe]
            times["build"] = run(cmd, "mcgen build", True, log, args.timeout)
        # 2. init, strict load
        times["init"] = run([exe, "init", "--seed", str(args.seed), "--out", p("init.safetensors")],
                            "exe init", True, log, args.timeout)
        try:
            ckpt, _ = read_safetensors(p("init.safetensors"))
        except Exception as e:  # noqa: BLE001
            raise CheckFailure("init checkpoint unreadable: %s" % e)
        model = twin()
        state = check_checkpoint(rep, ckpt, model)
        if state is None:
            raise CheckFailure("the init checkpoint does not load into the PyTorch model")
        if graph is None:  # the twin has PyTorch's default init, not the file's rules
            init_statistics(rep, model_name, conv, classes, shape[0], state)

        # 3. inputs, perturbed weights
        rng = np.random.default_rng(args.seed)
        x32 = rng.standard_normal((n,) + shape).astype(np.float32)
        labels = rng.integers(0, classes, size=n).astype(np.int64)
        write_safetensors(p("in.safetensors"), {"input": x32, "labels": labels})
        x = torch.from_numpy(x32).double()
        y = torch.from_numpy(labels)
        model.double()
        t0 = time.time()
        regimes = args.bn_regimes == "on" or (args.bn_regimes == "auto" and model_name == "mobilenetv2")
        perturb(model, x, args.seed, regimes)
        w32 = {}
        for k, t in model.state_dict().items():
            w32[k] = t.numpy().astype(np.int64) if t.dtype == torch.int64 else t.numpy().astype(np.float32)
        write_safetensors(p("w.safetensors"), {"module." + k: v for k, v in w32.items()},
                          metadata={"format": "pt"})
        # the reference uses exactly the float32 values the classifier reads
        ref = twin().double()
        ref.load_state_dict({k: torch.from_numpy(v) for k, v in w32.items()}, strict=True)
        times["torch"] = time.time() - t0

        a, b = args.shake_alpha, args.shake_beta
        shake_flags = ["--no-dropout", "--shake-alpha", repr(a), "--shake-beta", repr(b)]

        def logits_of(path, what):
            try:
                out, _ = read_safetensors(path)
            except Exception as e:  # noqa: BLE001
                raise CheckFailure("%s: output unreadable: %s" % (what, e))
            if "logits" not in out:
                rep.fail(what + ": logits", "no tensor 'logits' in %s (has %s)" % (path, ", ".join(list(out)[:5])))
                return None
            dt, arr = out["logits"]
            if dt != "F32" or tuple(arr.shape) != (n, classes):
                rep.fail(what + ": logits", "%s %s, expected F32 [%d, %d]" % (dt, list(arr.shape), n, classes))
                return None
            return arr

        # 4a. eval forward
        t0 = time.time()
        m = copy.deepcopy(ref).eval()
        with torch.no_grad():
            want = m(x).numpy()
        times["torch"] += time.time() - t0
        try:
            times["forward"] = run([exe, "forward", "--weights", p("w.safetensors"), "--input", p("in.safetensors"),
                                    "--output", p("eval.safetensors")], "exe forward (eval)", False, log, args.timeout)
            got = logits_of(p("eval.safetensors"), "forward eval")
            if got is not None:
                rep.check("forward eval: logits", rel_error(got, want, 1e-30))
        except CheckFailure as e:
            rep.fail("forward eval", str(e))

        # 4b. train forward
        t0 = time.time()
        m = R.set_shake(R.train_mode(copy.deepcopy(ref), dropout=False), a, b)
        with torch.no_grad():
            want = m(x).numpy()
        times["torch"] += time.time() - t0
        try:
            times["forward --train"] = run(
                [exe, "forward", "--weights", p("w.safetensors"), "--input", p("in.safetensors"),
                 "--output", p("train.safetensors"), "--train"] + shake_flags,
                "exe forward --train", False, log, args.timeout)
            got = logits_of(p("train.safetensors"), "forward train")
            if got is not None:
                rep.check("forward train: logits", rel_error(got, want, 1e-30))
        except CheckFailure as e:
            rep.fail("forward train", str(e))

        # 4c. loss and gradients
        t0 = time.time()
        record = args.kink_margin if args.kink_resolve else None
        loss, grads, shapes, near = torch_grads(ref, x, y, a, b, record=record)
        times["torch"] += time.time() - t0
        try:
            times["grad"] = run([exe, "grad", "--weights", p("w.safetensors"), "--input", p("in.safetensors"),
                                 "--output", p("grad.safetensors")] + shake_flags, "exe grad", False, log,
                                args.timeout)
            try:
                out, _ = read_safetensors(p("grad.safetensors"))
            except Exception as e:  # noqa: BLE001
                raise CheckFailure("grad output unreadable: %s" % e)
            if "loss" not in out:
                rep.fail("grad: loss", "no tensor 'loss'")
            elif out["loss"][0] != "F32" or tuple(out["loss"][1].shape) != ():
                rep.fail("grad: loss", "%s %s, expected F32 []" % (out["loss"][0], list(out["loss"][1].shape)))
            else:
                rep.check("grad: loss", rel_error(out["loss"][1], loss, 1e-30),
                          "ours %.7g, torch %.7g" % (float(out["loss"][1]), loss))
            unexpected = [k for k in out if k.startswith("grad.") and k[5:] not in grads]
            if unexpected:
                rep.fail("grad: names", "%d unexpected grad.* tensor(s): %s" % (len(unexpected),
                                                                               ", ".join(unexpected[:4])))
            unused, comparable = 0, []
            for k, gref in grads.items():
                name = "grad." + k
                if name not in out:
                    if gref is None:
                        unused += 1
                    else:
                        rep.fail(name, "missing")
                    continue
                dt, arr = out[name]
                if dt != "F32" or tuple(arr.shape) != shapes[k]:
                    rep.fail(name, "%s %s, expected F32 %s" % (dt, list(arr.shape), list(shapes[k])))
                    continue
                comparable.append(k)
            errs = grad_errors(out, grads, shapes, comparable)
            raw_worst = max(errs.values()) if errs else 0.0
            flipped = []
            if near and raw_worst > args.tol:
                t0 = time.time()
                flipped, errs = resolve_kinks(ref, x, y, a, b, out, shapes, comparable, near, errs, args)
                times["kink search"] = time.time() - t0
            for k in comparable:
                note = "unused in forward: expect 0" if grads[k] is None else ""
                rep.check("grad." + k, errs[k], note)
            if unused:
                rep.passed("grad: %d unused parameter(s) without grad.* (none in PyTorch either)" % unused)
            if near:
                print("kinks: %d ReLU/ReLU6 input(s) in the train forward lie within %g*max|input| of a kink%s" % (
                    len(near), args.kink_margin, "" if raw_worst <= args.tol else
                    "; gradients before taking any derivative from the other side: worst %.3e" % raw_worst))
            for name, idx, val, rel in flipped:
                print("kinks: derivative taken from the other side at %s%s (input %.3e, %.1e of max|input|): "
                      "float32 rounding puts it across the kink" % (name, list(idx), val, rel))
        except CheckFailure as e:
            rep.fail("grad", str(e))

        fails = rep.failures()
        errs = [(r[1], r[0]) for r in rep.rows if r[1] is not None]
        worst = max(errs) if errs else (0.0, "-")
        ok = not fails
        print("%s: %s: %d checks, %d failed, worst %.3e (%s), tol %g" % (
            "PASS" if ok else "FAIL", tag, len(rep.rows), len(fails), worst[0], worst[1], args.tol))
        print("times: " + ", ".join("%s %.1f s" % kv for kv in times.items()))
        return EXIT_PASS if ok else EXIT_FAIL
    except CheckFailure as e:
        print("FAIL: %s: %s" % (tag, e))
        return EXIT_FAIL
    finally:
        setup_problem = isinstance(sys.exc_info()[1], SetupError)
        if args.keep or (not ok and not setup_problem):
            print("files kept in %s" % work)
        elif not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------
# --self-test: a stand-in classifier in PyTorch float32 (no C needed)
# --------------------------------------------------------------------------

def fake_mcgen(argv):
    """fake 'mcgen build MODEL --conv T [--input ..] [--classes ..] -o EXE'."""
    ap = argparse.ArgumentParser(prog="fake-mcgen")
    ap.add_argument("cmd", choices=["build"])
    ap.add_argument("model")
    ap.add_argument("--conv")
    ap.add_argument("--input")
    ap.add_argument("--classes", type=int)
    ap.add_argument("-o", dest="out", required=True)
    a = ap.parse_args(argv)
    facts = read_mcn_header(a.model)
    cfg = {"model": facts["model"], "conv": a.conv or facts["conv_type"],
           "input": a.input or facts["input"], "classes": a.classes or int(facts["classes"]),
           "bug": os.environ.get("MCGEN_PARITY_FAKE_BUG", "")}
    with open(a.out, "w") as f:
        f.write("#!/bin/sh\nexec %s %s --_fake-exe %s \"$@\"\n" % (
            shlex.quote(sys.executable), shlex.quote(os.path.abspath(__file__)), shlex.quote(json.dumps(cfg))))
    os.chmod(a.out, 0o755)
    return 0


def fake_exe(cfg_json, argv):
    import numpy as np
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, HERE)
    import reference_models as R
    cfg = json.loads(cfg_json)
    bug = cfg["bug"]
    shape = parse_shape(cfg["input"])
    ap = argparse.ArgumentParser(prog="fake-exe")
    ap.add_argument("cmd", choices=["init", "forward", "grad"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out")
    ap.add_argument("--weights")
    ap.add_argument("--input")
    ap.add_argument("--output")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--no-dropout", action="store_true")
    ap.add_argument("--shake-alpha", type=float)
    ap.add_argument("--shake-beta", type=float)
    a = ap.parse_args(argv)
    torch.manual_seed(a.seed)
    model = R.build(cfg["model"], cfg["conv"], cfg["classes"], shape[0])
    if bug == "bn_eps":
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eps = 1e-3
    if a.cmd == "init":
        sd = {k: v.numpy() for k, v in model.state_dict().items()}
        sd["optim.epoch"] = np.zeros((), np.int64)
        write_safetensors(a.out, sd)
        return 0
    w, _ = read_safetensors(a.weights)
    st = {(k[7:] if k.startswith("module.") else k): torch.from_numpy(v) for k, (dt, v) in w.items()}
    model.load_state_dict(st, strict=True)
    inp, _ = read_safetensors(a.input)
    x = torch.from_numpy(inp["input"][1])
    y = torch.from_numpy(inp["labels"][1])
    if a.cmd == "forward" and not a.train:
        model.eval()
        with torch.no_grad():
            write_safetensors(a.output, {"logits": model(x).numpy()})
        return 0
    R.train_mode(model, dropout=not a.no_dropout)
    R.set_shake(model, a.shake_alpha, a.shake_beta)
    if a.cmd == "forward":
        with torch.no_grad():
            write_safetensors(a.output, {"logits": model(x).numpy()})
        return 0
    if bug == "kink":  # take the derivative from the other side at the input closest to a kink
        relus = {n: q for n, q in model.named_modules() if isinstance(q, R._KinkMixin)}
        for q in relus.values():
            q.record = 1e-2
        with torch.no_grad():
            model(x)
        near = sorted(((abs(v) if q.HI is None else min(abs(v), abs(v - q.HI)), n, i)
                       for n, q in relus.items() for i, v in q.near), key=lambda t: t[0])
        for q in relus.values():
            q.record = None
        if near:
            relus[near[0][1]].flips = [near[0][2]]
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    out = {"loss": loss.detach().numpy().astype(np.float32)}
    for k, q in model.named_parameters():
        g = q.grad.numpy() if q.grad is not None else np.zeros(tuple(q.shape), np.float32)
        if bug == "grad" and k.endswith("conv2.weight"):
            g = g * 1.001
        out["grad." + k] = g
    write_safetensors(a.output, out)
    return 0


def self_test():
    import numpy as np
    failures = 0
    # 1. reader/writer round trip
    tmp = tempfile.mkdtemp(prefix="mcgen-parity-selftest-")
    try:
        path = os.path.join(tmp, "rt.safetensors")
        rng = np.random.default_rng(1)
        t = {"a.weight": rng.standard_normal((3, 2, 5, 5)).astype(np.float32),
             "b.num_batches_tracked": np.array(7, dtype=np.int64),
             "c": rng.standard_normal((7,)),
             "empty": np.zeros((0, 3), np.float32),
             "u": np.arange(5, dtype=np.uint8)}
        write_safetensors(path, t, metadata={"format": "pt"})
        back, meta = read_safetensors(path)
        with open(path, "rb") as f:
            hl = struct.unpack("<Q", f.read(8))[0]
        same = (list(back) == list(t) and meta == {"format": "pt"} and hl % 8 == 0 and
                all(back[k][1].dtype == v.dtype and back[k][1].shape == v.shape and np.array_equal(back[k][1], v)
                    for k, v in t.items()) and back["b.num_batches_tracked"][0] == "I64")
        print("%-60s %s" % ("self-test: safetensors round trip", "ok" if same else "FAIL"))
        failures += not same
        # the reader rejects a truncated file
        with open(path, "rb") as f:
            raw = f.read()
        with open(path, "wb") as f:
            f.write(raw[:-3])
        try:
            read_safetensors(path)
            rejected = False
        except ValueError:
            rejected = True
        print("%-60s %s" % ("self-test: truncated file rejected", "ok" if rejected else "FAIL"))
        failures += not rejected
        # 2. the full pipeline against a faithful and a buggy stand-in
        mcgen = os.path.join(tmp, "mcgen")
        with open(mcgen, "w") as f:
            f.write("#!/bin/sh\nexec %s %s --_fake-mcgen \"$@\"\n" % (shlex.quote(sys.executable),
                                                                     shlex.quote(os.path.abspath(__file__))))
        os.chmod(mcgen, 0o755)
        models = os.path.join(HERE, "..", "..", "models")
        # (bug, model, conv, input, expected exit status, a line the output must hold)
        cases = [("", "resnet20", "multiception", "3x8x8", 0, None),
                 ("", "shakenet26_2x96d", "mixconv", "3x8x8", 0, None),
                 ("", "mobilenetv2", "dsconv", "3x32x32", 0, None),
                 ("bn_eps", "resnet20", "standard", "1x8x8", 1, "forward eval: logits .* FAIL"),
                 ("grad", "resnet20", "dsconv", "3x8x8", 1, "grad.layer1.0.conv2.weight .* FAIL"),
                 ("kink", "resnet20", "mixconv", "3x8x8", 0, "derivative taken from the other side")]
        for i, (bug, model, conv, inp, want, pattern) in enumerate(cases):
            env = dict(os.environ, MCGEN_PARITY_FAKE_BUG=bug)
            cmd = [sys.executable, os.path.abspath(__file__), "--mcgen", mcgen, "--model",
                   os.path.join(models, model + ".mcn"), "--conv", conv, "--input", inp,
                   "--batch", "4" if model == "mobilenetv2" else "3", "--classes", "7",
                   "--workdir", os.path.join(tmp, "case%d" % i)]
            t0 = time.time()
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            text = r.stdout.decode("utf-8", "replace")
            good = r.returncode == want and (pattern is None or re.search(pattern, text) is not None)
            name = "self-test: %s %s %s%s -> exit %d" % (model, conv, inp, " bug=" + bug if bug else "", want)
            print("%-60s %s (exit %d, %.1f s)" % (name, "ok" if good else "FAIL", r.returncode, time.time() - t0))
            if not good:
                print(text)
            failures += not good
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%s: self-test, %d failure(s)" % ("PASS" if not failures else "FAIL", failures))
    return EXIT_PASS if not failures else EXIT_FAIL


# --------------------------------------------------------------------------

def main(argv):
    if argv[:1] == ["--_fake-mcgen"]:
        return fake_mcgen(argv[1:])
    if argv[:1] == ["--_fake-exe"]:
        return fake_exe(argv[1], argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--mcgen", help="the mcgen executable")
    ap.add_argument("--exe", help="use this classifier instead of building one (it must have been built from "
                                  "--model with the same --conv, --input and --classes)")
    ap.add_argument("--model", help="the network description (models/X.mcn)")
    ap.add_argument("--conv", help="standard, dsconv, multiception or mixconv (default: the file's conv_type)")
    ap.add_argument("--input", help="CxHxW (default: the file's input); passed to mcgen build when given")
    ap.add_argument("--classes", type=int, help="number of classes; passed to mcgen build when given")
    ap.add_argument("--graph", action="store_true",
                    help="build the PyTorch side with tools/torch_graph.py even for a zoo model (automatic for "
                         "any other model)")
    ap.add_argument("--batch", type=int, default=2, help="batch size (default 2)")
    ap.add_argument("--seed", type=int, default=1, help="seed of init, inputs and perturbation (default 1)")
    ap.add_argument("--tol", type=float, default=1e-4, help="largest accepted error (default 1e-4)")
    ap.add_argument("--shake-alpha", type=float, default=0.3)
    ap.add_argument("--shake-beta", type=float, default=0.8)
    ap.add_argument("--bn-regimes", choices=["auto", "on", "off"], default="auto",
                    help="keep the channels of BNs that feed a ReLU/ReLU6 clear of the kinks (see perturb(); "
                         "auto: on for mobilenetv2, whose float32 train-mode gradients are otherwise ill-conditioned)")
    ap.add_argument("--no-kink-resolve", dest="kink_resolve", action="store_false",
                    help="compare gradients as they come, even where a ReLU input lies within float32 rounding "
                         "of its kink (see resolve_kinks())")
    ap.add_argument("--kink-margin", type=float, default=1e-5,
                    help="a ReLU input within this fraction of max|input| of a kink counts as ambiguous (1e-5)")
    ap.add_argument("--kink-candidates", type=int, default=8, help=argparse.SUPPRESS)
    ap.add_argument("--kink-max", type=int, default=4, help=argparse.SUPPRESS)
    ap.add_argument("--kink-budget", type=float, default=300.0, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1,
                    help="PyTorch threads (default 1: CTest may run several tests at once)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds allowed per command (default 900)")
    ap.add_argument("--workdir", help="folder for the files (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the files")
    ap.add_argument("--verbose", action="store_true", help="print the commands")
    ap.add_argument("--self-test", action="store_true",
                    help="test this script against a PyTorch stand-in for the classifier (no C needed)")
    args = ap.parse_args(argv)
    try:
        if args.self_test:
            return self_test()
        if not (args.mcgen or args.exe) or not args.model:
            ap.error("--mcgen (or --exe) and --model are required (or --self-test)")
        if args.batch < 1:
            raise SetupError("--batch must be at least 1")
        if not (0 < args.shake_alpha < 1 and 0 < args.shake_beta < 1):
            raise SetupError("--shake-alpha and --shake-beta must lie in (0, 1)")
        return parity(args)
    except SetupError as e:
        print("SETUP ERROR: %s" % e, file=sys.stderr)
        return EXIT_SETUP


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
