#!/usr/bin/env python3
"""Put a classifier's own timings beside PyTorch's and a roofline bound.

    python3 tools/compare.py --bench BENCH.json [--probe PROBE.json] [--threads T]
                             [--iters N] [--png FILE] [--json OUT] [--exe EXE [--rounds R]]
                             [--model MODEL.mcn [--mcgen MCGEN]]

BENCH.json is what a classifier's `bench --layers --json FILE` writes: per layer
and pass (forward, backward) the generated code's median time, the generic
build's when it was measured, FLOPs and compulsory bytes; and the whole
training step. This tool

  * rebuilds every conv, depthwise (Multiception: one depthwise conv per kernel
    size, outputs concatenated), mixconv, batchnorm and linear layer, and the
    cheap ones (relu, relu6, sigmoid, silu, hardswish, hardsigmoid, add, avgpool,
    maxpool), in PyTorch with
    the bench's batch and shapes on T threads, in NCHW and channels_last, and
    times forward and backward separately (time.perf_counter, warm-up, median
    of N). Inputs and weights require grad; backward is the autograd of
    sum(output * G) for a fixed random G, i.e. output.backward(G). PyTorch's
    faster layout is kept per layer;
  * times PyTorch's whole training step (SGD Nesterov, momentum 0.9, wd 2e-4,
    lr 0.1, cross-entropy) in both layouts: zoo models built by
    tests/parity/reference_models.py, any other model by tools/torch_graph.py
    from `MCGEN summary MODEL.mcn --json` (BENCH.json does not name the .mcn:
    give --model; --mcgen defaults to build/mcgen, then mcgen on the PATH);
  * computes the roofline bound max(FLOPs / peak, bytes / bandwidth) per layer
    and pass, peak and bandwidth from tools/roofline_probe.c (compiled and run
    here with cc when --probe is not given);
  * with --exe (the classifier that wrote BENCH.json): times its training step
    (`EXE bench --generated-only`) and PyTorch's in turn, R rounds, and
    reports the medians and the speedup of each round: on a noisy machine
    only measurements made side by side compare;
  * prints one table (per layer and pass, per-op totals, the whole step),
    optionally writes it as JSON (--json) and plots per-layer speedups with
    gnuplot (--png).

Speedups are "how many times faster the generated code is" (> 1: generated
wins); "gen/roof" is the generated time over the roofline bound (1.0 is the
bound itself).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# ops whose PyTorch twin we build and time; anything else gets a "-" there
TORCH_OPS = ("conv", "depthwise", "mixconv", "batchnorm", "linear",
             "relu", "relu6", "sigmoid", "silu", "hardswish", "hardsigmoid", "add", "avgpool", "maxpool")
# 4-D ops, for which NCHW and channels_last differ
LAYOUTS = ("nchw", "channels_last")


def die(msg):
    """One clear line instead of a traceback."""
    print("compare.py: error: %s" % msg, file=sys.stderr)
    sys.exit(1)


def note(msg):
    """Progress goes to stderr so stdout holds only the table."""
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Inputs: the bench file and the probe
# --------------------------------------------------------------------------

def load_bench(path):
    try:
        with open(path) as f:
            bench = json.load(f)
    except OSError as e:
        die("cannot read bench file %s: %s" % (path, e.strerror))
    except ValueError as e:
        die("bench file %s is not valid JSON: %s" % (path, e))
    if not isinstance(bench, dict):
        die("bench file %s: expected a JSON object at top level" % path)
    for key in ("model", "input", "batch", "threads", "step", "layers"):
        if key not in bench:
            die("bench file %s has no %r (write it with `EXE bench --layers --json FILE`)" % (path, key))
    if not bench["layers"]:
        die("bench file %s has no layers (run bench with --layers)" % path)
    for layer in bench["layers"]:
        for key in ("index", "name", "op", "output", "stride", "flops_fwd", "flops_bwd",
                    "bytes_fwd", "bytes_bwd", "fwd_generated", "bwd_generated"):
            if key not in layer:
                die("bench file %s: layer %s has no %r" % (path, layer.get("name", "?"), key))
    return bench


# The compiler flags of mcgen's CPU targets (generator/target.c, `mcgen
# targets`), for the probe to measure with the vectors of the target the
# classifier was built for; native (or a bench without "cpu") takes what
# this CPU has.
TARGET_MARCH = {"avx512": "-march=x86-64-v4", "avx2": "-march=x86-64-v3", "portable": "-march=x86-64"}


def run_probe(threads, cpu=None):
    """Compile tools/roofline_probe.c into a temp dir for the classifier's
    CPU target and run it on T threads."""
    src = os.path.join(HERE, "roofline_probe.c")
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        die("no C compiler %r to build the roofline probe (give --probe PROBE.json instead)" % cc)
    with tempfile.TemporaryDirectory(prefix="mcgen-probe-") as tmp:
        exe = os.path.join(tmp, "probe")
        cmd = [cc, "-O3", TARGET_MARCH.get(cpu, "-march=native"), "-fopenmp", src, "-o", exe, "-lm"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            die("building the probe failed: %s: %s" % (" ".join(cmd), r.stderr.strip().splitlines()[-1:]))
        note("running the roofline probe on %d thread(s)..." % threads)
        r = subprocess.run([exe, str(threads)], capture_output=True, text=True)
        if r.returncode != 0:
            die("the roofline probe failed: %s" % r.stderr.strip())
        return parse_probe(r.stdout, "roofline_probe output")


def parse_probe(text, what):
    try:
        probe = json.loads(text)
        peak, bw = float(probe["peak_gflops"]), float(probe["bandwidth_gbs"])
    except (ValueError, KeyError, TypeError):
        die("%s is not the probe's JSON ({\"peak_gflops\":..,\"bandwidth_gbs\":..})" % what)
    if peak <= 0 or bw <= 0:
        die("%s: peak and bandwidth must be positive" % what)
    return probe


def load_probe(path):
    try:
        with open(path) as f:
            return parse_probe(f.read(), "probe file %s" % path)
    except OSError as e:
        die("cannot read probe file %s: %s" % (path, e.strerror))


# --------------------------------------------------------------------------
# Layer shapes
# --------------------------------------------------------------------------

def layer_input(layer, batch, prev=None):
    """[C, H, W] of a layer's input. New bench files say it ("input"); older
    ones only give the output, so recover it from the FLOP count, which is
    2 * N * weights * H_out * W_out for the layers with weights, or (pooling)
    from the previous layer's output."""
    if "input" in layer:
        return list(layer["input"])
    c, h, w = layer["output"]
    s = layer["stride"] or 1
    op = layer["op"]
    n_out = batch * h * w
    if op == "conv":
        k = layer["kernels"][0]
        cin = round(layer["flops_fwd"] / (2.0 * n_out * c * k * k))
        return [cin, h * s, w * s]
    if op == "depthwise":
        return [c // len(layer["kernels"]), h * s, w * s]
    if op == "linear":
        return [round(layer["flops_fwd"] / (2.0 * batch * c)), 1, 1]
    if op in ("batchnorm", "relu", "relu6", "sigmoid", "silu", "hardswish", "hardsigmoid", "add"):
        return [c, h, w]
    if op == "maxpool":
        return list(layer["input"])
    if op == "avgpool" and prev is not None:
        return list(prev["output"])
    return None  # not needed: we do not build this op in PyTorch


def split3(c):
    """MixConv's channel split (as reference_models.split3)."""
    return [c // 3 + c % 3, c // 3, c // 3]


# --------------------------------------------------------------------------
# PyTorch per-layer timing
# --------------------------------------------------------------------------

def make_layer(torch, F, layer, batch, prev):
    """Return (inputs, forward) for one layer: the tensors that require grad
    (activations and weights) and a function computing the output from them."""
    op = layer["op"]
    shape = layer_input(layer, batch, prev)
    if shape is None:
        die("layer %s (%s): the bench file does not say its input shape" % (layer["name"], op))
    cin, hin, win = shape
    cout = layer["output"][0]
    s = layer["stride"] or 1
    x = torch.randn(batch, cin, hin, win)

    def param(*shape):
        return torch.randn(*shape) * 0.1

    if op == "conv":
        k = layer["kernels"][0]
        groups = layer.get("groups", 1) or 1
        pad = layer.get("pad", k // 2)
        wt = param(cout, cin // groups, k, k)
        return [x, wt], lambda x, wt: F.conv2d(x, wt, None, s, pad, 1, groups)
    if op == "depthwise":
        # Multiception: every kernel runs over all input channels, pad k//2;
        # kernel j writes channels j*cin.. of the output
        ks = layer["kernels"]
        ws = [param(cin, 1, k, k) for k in ks]

        def fwd(x, *ws):
            return torch.cat([F.conv2d(x, wk, None, s, k // 2, 1, cin) for k, wk in zip(ks, ws)], 1)
        return [x] + ws, fwd
    if op == "mixconv":
        # dense convs k = 3, 5, 7 on a three-way channel split
        ins, outs, ks = split3(cin), split3(cout), (3, 5, 7)
        ws = [param(o, i, k, k) for i, o, k in zip(ins, outs, ks)]

        def fwd(x, *ws):
            xs = torch.split(x, ins, 1)
            return torch.cat([F.conv2d(xi, wk, None, s, k // 2) for xi, wk, k in zip(xs, ws, ks)], 1)
        return [x] + ws, fwd
    if op == "batchnorm":
        gamma, beta = torch.ones(cin), torch.zeros(cin)
        mean, var = torch.zeros(cin), torch.ones(cin)
        return [x, gamma, beta], lambda x, g, b: F.batch_norm(x, mean, var, g, b, True, 0.1, 1e-5)
    if op == "linear":
        x = torch.randn(batch, cin * hin * win)
        return [x, param(cout, x.shape[1]), param(cout)], F.linear
    activations = {"relu": F.relu, "relu6": F.relu6, "sigmoid": torch.sigmoid, "silu": F.silu,
                   "hardswish": F.hardswish, "hardsigmoid": F.hardsigmoid}
    if op in activations:
        return [x], activations[op]
    if op == "maxpool":
        k = layer["kernels"][0]
        return [x], lambda x: F.max_pool2d(x, k, s, layer["pad"])
    if op == "add":
        return [x, torch.randn_like(x)], torch.add
    if op == "avgpool":
        return [x], lambda x: x.mean((2, 3), keepdim=True)
    raise ValueError(op)


def folded_label(layer):
    """What a folded batch norm does itself, as bench labels it: takes the
    batch statistics, or combines those its depthwise wrote."""
    return " combine" if layer.get("reads_batch_stats") else " stats"


def make_fused_layer(torch, F, layer, batch, prev):
    """make_layer, with what mcgen fused into the layer: the activation
    after it ("fused": "relu" or "relu6" in the bench file: its activation
    layer is not listed), or the batch norm before a pointwise conv
    ("applies_batchnorm": the conv normalizes its input itself; the batch
    norm, "folded", only takes the batch statistics, and PyTorch's twin of
    the conv, batch norm and conv, does that too, so the folded layer has
    none of its own). An add that applies the batch norm before it
    ("add_applies_batchnorm"; that batch norm "applied_by_add": its forward
    only takes the statistics) keeps PyTorch's plain add and batch norm as
    twins: the two together do the same work."""
    tensors, fwd = make_layer(torch, F, layer, batch, prev)
    if layer.get("applies_batchnorm"):
        c = tensors[0].shape[1]
        mean, var = torch.zeros(c), torch.ones(c)
        conv = fwd
        tensors = tensors + [torch.ones(c), torch.zeros(c)]
        fwd = lambda x, *ts: conv(F.batch_norm(x, mean, var, ts[-2], ts[-1], True, 0.1, 1e-5), *ts[:-2])
    act = {"relu": F.relu, "relu6": F.relu6}.get(layer.get("fused"))
    if act:
        return tensors, lambda *ts: act(fwd(*ts))
    return tensors, fwd


def time_layer(torch, F, layer, prev, batch, layout, iters, warmup=2):
    """Median forward and backward seconds of one layer in one layout."""
    tensors, fwd = make_fused_layer(torch, F, layer, batch, prev)
    if layout == "channels_last":
        tensors = [t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in tensors]
    tensors = [t.requires_grad_() for t in tensors]
    grad_out = None
    t_fwd, t_bwd = [], []
    for i in range(warmup + iters):
        for t in tensors:  # fresh grads: accumulation would add a pass
            t.grad = None
        t0 = time.perf_counter()
        y = fwd(*tensors)
        t1 = time.perf_counter()
        if grad_out is None:
            # randn_like keeps y's memory format, so backward does not convert
            torch.manual_seed(1)
            grad_out = torch.randn_like(y)
        t2 = time.perf_counter()
        y.backward(grad_out)  # = autograd of (y * grad_out).sum()
        t3 = time.perf_counter()
        if i >= warmup:
            t_fwd.append(t1 - t0)
            t_bwd.append(t3 - t2)
        del y
    return statistics.median(t_fwd), statistics.median(t_bwd)


def time_layers_torch(torch, F, bench, iters):
    """{layer index: {"fwd": (s, layout), "bwd": (s, layout)}}, best layout per pass."""
    out = {}
    layers = bench["layers"]
    prev = {l["index"]: layers[i - 1] if i else None for i, l in enumerate(layers)}
    todo = [l for l in layers if l["op"] in TORCH_OPS and not l.get("folded")]
    for n, layer in enumerate(todo):
        note("pytorch layer %d/%d: %s (%s)" % (n + 1, len(todo), layer["name"], layer["op"]))
        # 2-D ops (linear) have no layout choice; a 1x1 activation neither
        layouts = LAYOUTS if layer["op"] != "linear" else ("nchw",)
        best = {}
        for layout in layouts:
            fwd, bwd = time_layer(torch, F, layer, prev[layer["index"]], bench["batch"], layout, iters)
            for p, t in (("fwd", fwd), ("bwd", bwd)):
                if p not in best or t < best[p][0]:
                    best[p] = (t, layout)
        out[layer["index"]] = best
    return out


# --------------------------------------------------------------------------
# PyTorch whole training step
# --------------------------------------------------------------------------

def torch_model(bench, classes, model_path, mcgen):
    """A function building PyTorch's twin of the benchmarked model: the zoo's
    from reference_models.py, any other from the graph mcgen prints; or None."""
    sys.path.insert(0, os.path.join(REPO, "tests", "parity"))
    sys.path.insert(0, HERE)
    conv = bench.get("conv", "standard")
    try:
        import reference_models as R
        if bench["model"] in R.MODELS and conv in R.CONV_TYPES:
            return lambda: R.build(bench["model"], conv, classes, bench["input"][0])
    except ImportError as e:
        note("cannot import tests/parity/reference_models.py (%s)" % e)
    if not model_path:
        note("skipping the PyTorch step: %s is not a zoo model; give --model MODEL.mcn (and --mcgen)" % bench["model"])
        return None
    import torch_graph as G
    try:
        graph = G.summary(mcgen, model_path, conv, bench["input"], classes)
    except (OSError, RuntimeError, ValueError) as e:
        die("the graph of %s: %s" % (model_path, e))
    if graph["model"] != bench["model"] or graph["input"] != list(bench["input"]):
        die("--model %s is %s at %s, but the bench ran %s at %s" % (
            model_path, graph["model"], graph["input"], bench["model"], bench["input"]))
    return lambda: G.build(graph)


def default_mcgen():
    built = os.path.join(REPO, "build", "mcgen")
    return built if os.access(built, os.X_OK) else shutil.which("mcgen") or "mcgen"


def torch_steps(torch, F, bench, model_path=None, mcgen=None):
    """{layout: step(iters, warmup) -> images/s} for PyTorch's training step
    (each layout's model built once), or None if there is no twin to build."""
    c, h, w = bench["input"]
    batch = bench["batch"]
    # classes: the last linear layer's width
    linears = [l for l in bench["layers"] if l["op"] == "linear"]
    classes = linears[-1]["output"][0] if linears else 10
    make = torch_model(bench, classes, model_path, mcgen)
    if make is None:
        return None
    steps = {}
    for layout in LAYOUTS:
        torch.manual_seed(0)
        model = make().train()
        x = torch.randn(batch, c, h, w)
        y = torch.randint(0, classes, (batch,))
        if layout == "channels_last":
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=2e-4)

        def step(iters, warmup, model=model, x=x, y=y, opt=opt):
            times = []
            for i in range(warmup + iters):
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                if i >= warmup:
                    times.append(time.perf_counter() - t0)
            return batch / statistics.median(times)
        steps[layout] = step
    return steps


def time_step_torch(steps, iters, warmup=2):
    """{layout: images/s} of PyTorch's training step, or None."""
    if not steps:
        return None
    result = {}
    for layout, step in steps.items():
        note("pytorch training step, %s..." % layout)
        result[layout] = step(iters, warmup)
    return result


def run_exe_step(exe, bench, threads, iters):
    """Images/s of the classifier's generated step: `EXE bench` (step only)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "step.json")
        cmd = [exe, "bench", "--batch", str(bench["batch"]), "--threads", str(threads), "--iters", str(iters),
               "--generated-only", "--json", out]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            die("%s failed (exit %d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
        with open(out) as f:
            return json.load(f)["step"]["generated"]["images_per_s"]


def interleaved_steps(exe, steps, bench, threads, iters, rounds):
    """The generated step and PyTorch's (both layouts) measured in turn,
    rounds times: both sides see the same moments of a noisy machine."""
    gen, pt = [], {layout: [] for layout in steps}
    for r in range(rounds):
        note("interleaved step, round %d/%d" % (r + 1, rounds))
        gen.append(run_exe_step(exe, bench, threads, iters))
        for layout, step in steps.items():
            pt[layout].append(step(iters, 2))
    best = max(pt, key=lambda layout: statistics.median(pt[layout]))
    ratios = [g / p for g, p in zip(gen, pt[best])]
    return {"rounds": rounds, "generated_images_per_s": gen, "pytorch_images_per_s": pt, "pytorch_layout": best,
            "generated_median": statistics.median(gen), "pytorch_median": statistics.median(pt[best]),
            "speedup_per_round": ratios, "speedup_median": statistics.median(ratios)}


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------

def ratio(a, b):
    return a / b if a and b else None


def build_rows(bench, torch_times, probe):
    """One row per layer and pass, all times in ms."""
    peak = probe["peak_gflops"] * 1e9
    bw = probe["bandwidth_gbs"] * 1e9
    rows = []
    for layer in bench["layers"]:
        for p in ("fwd", "bwd"):
            gen = layer[p + "_generated"]["median_s"] * 1e3
            generic = layer.get(p + "_generic", {}).get("median_s")
            generic = generic * 1e3 if generic is not None else None
            roof = max(layer["flops_" + p] / peak, layer["bytes_" + p] / bw) * 1e3
            tt = torch_times.get(layer["index"], {}).get(p)
            pt, layout = (tt[0] * 1e3, tt[1]) if tt else (None, None)
            rows.append({
                "index": layer["index"], "name": layer["name"], "pass": p,
                "op": layer["op"] +
                      ("+bn" if layer.get("applies_batchnorm") or layer.get("add_applies_batchnorm") else "") +
                      ("+" + layer["fused"] if layer.get("fused") else "") +
                      (folded_label(layer) if layer.get("folded") else ""),
                "generated_ms": gen, "generic_ms": generic, "pytorch_ms": pt, "pytorch_layout": layout,
                "roofline_ms": roof,
                "speedup_vs_pytorch": ratio(pt, gen), "speedup_vs_generic": ratio(generic, gen),
                "generated_over_roofline": ratio(gen, roof),
            })
    return rows


def op_totals(rows):
    """Per op and pass: sums over the layers. The PyTorch column sums only the
    layers PyTorch ran, so its speedup compares the same layers."""
    totals = {}
    for r in rows:
        t = totals.setdefault((r["op"], r["pass"]), {
            "op": r["op"], "pass": r["pass"], "layers": 0, "generated_ms": 0.0, "generic_ms": None,
            "pytorch_ms": None, "roofline_ms": 0.0, "_gen_pt": 0.0})
        t["layers"] += 1
        t["generated_ms"] += r["generated_ms"]
        t["roofline_ms"] += r["roofline_ms"]
        if r["generic_ms"] is not None:
            t["generic_ms"] = (t["generic_ms"] or 0.0) + r["generic_ms"]
        if r["pytorch_ms"] is not None:
            t["pytorch_ms"] = (t["pytorch_ms"] or 0.0) + r["pytorch_ms"]
            t["_gen_pt"] += r["generated_ms"]
    out = []
    for t in totals.values():
        t["speedup_vs_pytorch"] = ratio(t["pytorch_ms"], t.pop("_gen_pt"))
        t["speedup_vs_generic"] = ratio(t["generic_ms"], t["generated_ms"])
        t["generated_over_roofline"] = ratio(t["generated_ms"], t["roofline_ms"])
        out.append(t)
    return out


def step_summary(bench, torch_step, rows):
    step = bench["step"]
    gen = step.get("generated", {}).get("images_per_s")
    generic = step.get("generic", {}).get("images_per_s")
    best_layout = max(torch_step, key=torch_step.get) if torch_step else None
    pt = torch_step[best_layout] if torch_step else None
    # the unfused bound: every layer at its own roofline, one after the other
    roof_s = sum(r["roofline_ms"] for r in rows) * 1e-3
    roof = bench["batch"] / roof_s if roof_s else None
    return {"generated_images_per_s": gen, "generic_images_per_s": generic,
            "pytorch_images_per_s": pt, "pytorch_layout": best_layout,
            "pytorch_by_layout": torch_step,
            "roofline_images_per_s": roof,
            "speedup_vs_pytorch": ratio(gen, pt), "speedup_vs_generic": ratio(gen, generic),
            "generated_over_roofline": ratio(roof, gen)}


def fmt(v, spec, width):
    return ("%" + spec) % v if v is not None else "-".rjust(width)


LAYOUT_TAG = {"nchw": "nchw", "channels_last": "cl", None: ""}


def print_table(bench, probe, threads, rows, totals, step):
    print("%s %s, input %s, batch %d, %d thread(s); probe: %.1f GFLOP/s, %.2f GB/s"
          % (bench["model"], bench.get("conv", ""), "x".join(map(str, bench["input"])),
             bench["batch"], threads, probe["peak_gflops"], probe["bandwidth_gbs"]))
    print("speedups: > 1 means the generated code is faster; gen/roof: generated time over the roofline bound")
    print()
    head = "%4s %-28s %-14s %-4s %9s %9s %9s %-4s %9s %8s %8s %8s" % (
        "idx", "layer", "op", "pass", "gen ms", "generic", "pytorch", "lay", "roof ms",
        "vs torch", "vs gener", "gen/roof")
    print(head)
    print("-" * len(head))
    for r in rows:
        print("%4d %-28s %-14s %-4s %9.3f %s %s %-4s %9.3f %s %s %s" % (
            r["index"], r["name"][-28:], r["op"], r["pass"], r["generated_ms"],
            fmt(r["generic_ms"], "9.3f", 9), fmt(r["pytorch_ms"], "9.3f", 9),
            LAYOUT_TAG[r["pytorch_layout"]], r["roofline_ms"],
            fmt(r["speedup_vs_pytorch"], "7.2fx", 8), fmt(r["speedup_vs_generic"], "7.2fx", 8),
            fmt(r["generated_over_roofline"], "8.2f", 8)))
    print()
    head = "%-14s %-4s %6s %9s %9s %9s %9s %8s %8s %8s" % (
        "op", "pass", "layers", "gen ms", "generic", "pytorch", "roof ms", "vs torch", "vs gener", "gen/roof")
    print(head)
    print("-" * len(head))
    for t in sorted(totals, key=lambda t: -t["generated_ms"]):
        print("%-14s %-4s %6d %9.3f %s %s %9.3f %s %s %s" % (
            t["op"], t["pass"], t["layers"], t["generated_ms"], fmt(t["generic_ms"], "9.3f", 9),
            fmt(t["pytorch_ms"], "9.3f", 9), t["roofline_ms"],
            fmt(t["speedup_vs_pytorch"], "7.2fx", 8), fmt(t["speedup_vs_generic"], "7.2fx", 8),
            fmt(t["generated_over_roofline"], "8.2f", 8)))
    print()
    by = step["pytorch_by_layout"] or {}
    print("training step, images/s: generated %s, generic %s, pytorch %s (nchw %s, channels_last %s), "
          "roofline (sum of layer bounds) %s" % (
              fmt(step["generated_images_per_s"], ".1f", 1), fmt(step["generic_images_per_s"], ".1f", 1),
              fmt(step["pytorch_images_per_s"], ".1f", 1), fmt(by.get("nchw"), ".1f", 1),
              fmt(by.get("channels_last"), ".1f", 1), fmt(step["roofline_images_per_s"], ".1f", 1)))
    print("training step, generated vs: pytorch %s, generic %s, roofline %s" % (
        fmt(step["speedup_vs_pytorch"], ".2fx", 1), fmt(step["speedup_vs_generic"], ".2fx", 1),
        fmt(step["generated_over_roofline"], ".2f", 1)))


# --------------------------------------------------------------------------
# The plot
# --------------------------------------------------------------------------

def write_png(path, rows):
    """Per-layer fwd+bwd speedups of the generated code, log y, gnuplot."""
    if not shutil.which("gnuplot"):
        note("no gnuplot: skipping %s (apt-get install gnuplot-nox)" % path)
        return
    layers = {}
    for r in rows:  # sum the two passes: one point per layer and comparison
        l = layers.setdefault(r["index"], {"gen": 0.0, "generic": 0.0, "pt": 0.0, "n_generic": 0, "n_pt": 0})
        l["gen"] += r["generated_ms"]
        if r["generic_ms"] is not None:
            l["generic"] += r["generic_ms"]
            l["n_generic"] += 1
        if r["pytorch_ms"] is not None:
            l["pt"] += r["pytorch_ms"]
            l["n_pt"] += 1
    have_generic = any(l["n_generic"] == 2 for l in layers.values())
    with tempfile.TemporaryDirectory(prefix="mcgen-plot-") as tmp:
        data = os.path.join(tmp, "speedups.dat")
        with open(data, "w") as f:
            f.write("# index  vs_pytorch  vs_generic  (NaN: not measured)\n")
            for i, l in sorted(layers.items()):
                vs_pt = l["pt"] / l["gen"] if l["n_pt"] == 2 and l["gen"] else float("nan")
                vs_gn = l["generic"] / l["gen"] if l["n_generic"] == 2 and l["gen"] else float("nan")
                f.write("%d %.6g %.6g\n" % (i, vs_pt, vs_gn))
        plots = ["'%s' using 1:2 with points pt 7 ps 0.8 title 'generated vs PyTorch (best layout)'" % data]
        if have_generic:
            plots.append("'%s' using 1:3 with points pt 5 ps 0.8 title 'generated vs generic'" % data)
        plots.append("1 with lines lc rgb 'gray' dt 2 notitle")
        script = os.path.join(tmp, "plot.gp")
        with open(script, "w") as f:
            f.write("set terminal pngcairo size 1200,600 noenhanced\n" if has_pngcairo() else
                    "set terminal png size 1200,600 noenhanced\n")
            f.write("set output '%s'\n" % os.path.abspath(path).replace("'", "''"))
            f.write("set logscale y\nset grid\nset key below\n")
            f.write("set xrange [-1:%d]\n" % (max(layers) + 1))
            f.write("set xlabel 'layer index'\nset ylabel 'speedup, forward + backward (x, log)'\n")
            f.write("set title 'per-layer speedup of the generated code'\n")
            f.write("plot " + ", \\\n     ".join(plots) + "\n")
        r = subprocess.run(["gnuplot", script], capture_output=True, text=True)
        if r.returncode != 0:
            die("gnuplot failed: %s" % r.stderr.strip().splitlines()[-1:])
    note("wrote %s" % path)


def has_pngcairo():
    r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    return "pngcairo" in r.stdout + r.stderr


# --------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench", required=True, help="JSON from `EXE bench --layers --json FILE`")
    ap.add_argument("--probe", help="JSON from tools/roofline_probe (default: build and run it now)")
    ap.add_argument("--threads", type=int, help="PyTorch (and probe) threads (default: the bench's)")
    ap.add_argument("--iters", type=int, help="timed repetitions for PyTorch (default: the bench's)")
    ap.add_argument("--png", help="write a gnuplot PNG of per-layer speedups")
    ap.add_argument("--json", help="write the table as JSON")
    ap.add_argument("--exe", help="the classifier that wrote BENCH.json: its step is measured again in turn "
                    "with PyTorch's, --rounds times (the fair step comparison on a noisy machine)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of --exe (default 3)")
    ap.add_argument("--model", help="the .mcn the classifier was built from: PyTorch's step for a model outside "
                    "the zoo is built from its graph (tools/torch_graph.py)")
    ap.add_argument("--mcgen", help="the mcgen that prints that graph (default: build/mcgen, else mcgen on the PATH)")
    args = ap.parse_args(argv)

    bench = load_bench(args.bench)
    threads = args.threads or bench["threads"]
    iters = args.iters or bench.get("iters") or 5
    if threads < 1 or iters < 1 or args.rounds < 1:
        die("--threads, --iters and --rounds must be at least 1")
    if args.exe and not os.access(args.exe, os.X_OK):
        die("--exe %s: not an executable file" % args.exe)
    if threads != bench["threads"]:
        note("warning: the bench ran on %d thread(s), PyTorch runs on %d" % (bench["threads"], threads))

    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        die("PyTorch is needed (Debian's python3-torch, i.e. run /usr/bin/python3): %s" % e)
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    probe = load_probe(args.probe) if args.probe else run_probe(threads, bench.get("cpu"))
    if int(probe.get("threads", threads)) != threads:
        note("warning: the probe measured %s thread(s), the comparison uses %d" % (probe.get("threads"), threads))

    torch_times = time_layers_torch(torch, F, bench, iters)
    steps = torch_steps(torch, F, bench, args.model, args.mcgen or default_mcgen())
    torch_step = time_step_torch(steps, iters)
    interleaved = None
    if args.exe:
        if not steps:
            die("--exe needs PyTorch's step: a zoo model, or --model MODEL.mcn for any other")
        interleaved = interleaved_steps(args.exe, steps, bench, threads, iters, args.rounds)

    rows = build_rows(bench, torch_times, probe)
    totals = op_totals(rows)
    step = step_summary(bench, torch_step, rows)
    print_table(bench, probe, threads, rows, totals, step)
    if interleaved:
        step["interleaved"] = interleaved
        i = interleaved
        print("\ninterleaved step, %d rounds (%s bench, then PyTorch, in turn): generated %s images/s, "
              "PyTorch %s %s; medians %.0f and %.0f: %.2fx (per round %s)" % (
                  i["rounds"], args.exe, ", ".join("%.0f" % v for v in i["generated_images_per_s"]),
                  i["pytorch_layout"], ", ".join("%.0f" % v for v in i["pytorch_images_per_s"][i["pytorch_layout"]]),
                  i["generated_median"], i["pytorch_median"], i["speedup_median"],
                  ", ".join("%.2fx" % v for v in i["speedup_per_round"])))

    if args.json:
        out = {"bench": args.bench, "model": bench["model"], "conv": bench.get("conv"),
               "input": bench["input"], "batch": bench["batch"], "threads": threads, "iters": iters,
               "torch_version": torch.__version__, "probe": probe,
               "layers": rows, "ops": totals, "step": step}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        note("wrote %s" % args.json)
    if args.png:
        write_png(args.png, rows)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        die("interrupted")
