#!/usr/bin/env python3
"""Inference speed: the inference library's predictor against PyTorch.

    /usr/bin/python3 tools/infer_bench.py [--mcgen build/mcgen] [--input CxHxW] [--conv T]
        [--threads 1 2] [--rounds 3] [--batch 128] MODEL.mcn

Builds MODEL's predictor (mcgen build --inference), gives it the weights of
the model's PyTorch twin (tools/torch_graph.py, PyTorch's default init; the
batch norms' running statistics drawn, so that folding them is not
trivial), saved as a PyTorch state_dict in safetensors, and times, per
thread count, in rounds that alternate the two:
- batch 1: the median milliseconds of one image (EXE bench --latency);
- batch B: images per second;
PyTorch 1.13 in eval mode under torch.no_grad(), eager and TorchScript
(traced, frozen), in NCHW and channels-last; its best of those. Prints a
table; the CPU and the target in its header.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "parity"))
import torch_graph  # noqa: E402
from parity import write_safetensors  # noqa: E402


def run(cmd, env=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if r.returncode != 0:
        sys.exit("infer_bench.py: failed: %s\n%s" % (" ".join(cmd), r.stdout))
    return r.stdout


def median_seconds(m, x, runs):
    """The median seconds of m(x) over runs calls, after warming up."""
    for _ in range(3):
        m(x)
    t = []
    for _ in range(runs):
        s = time.perf_counter()
        m(x)
        t.append(time.perf_counter() - s)
    return statistics.median(t)


def torch_times(net, shape, batch, threads, runs1, runsb):
    """PyTorch's best (batch-1 ms, batch-B images/s) over its modes, and which."""
    torch.set_num_threads(threads)
    best1, bestb = (float("inf"), ""), (0.0, "")
    x1 = torch.randn(1, *shape)
    xb = torch.randn(batch, *shape)
    with torch.no_grad():
        for fmt in ("nchw", "channels_last"):
            mf = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
            eager = net.to(memory_format=mf)
            scripted = torch.jit.freeze(torch.jit.trace(eager, x1.to(memory_format=mf)))
            for kind, m in (("eager", eager), ("torchscript", scripted)):
                ms = 1e3 * median_seconds(m, x1.to(memory_format=mf), runs1)
                if ms < best1[0]:
                    best1 = (ms, "%s %s" % (kind, fmt))
                ips = batch / median_seconds(m, xb.to(memory_format=mf), runsb)
                if ips > bestb[0]:
                    bestb = (ips, "%s %s" % (kind, fmt))
    return best1, bestb


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--mcgen", default=os.path.join(HERE, "..", "build", "mcgen"))
    ap.add_argument("--input")
    ap.add_argument("--conv")
    ap.add_argument("--cpu", default="native")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()

    graph = torch_graph.summary(a.mcgen, a.model, a.conv, a.input)
    shape = tuple(graph["input"])
    torch.manual_seed(0)
    net = torch_graph.build(graph).eval()
    for mod in net.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 2.0)
    opts = (["--conv", a.conv] if a.conv else []) + (["--input", a.input] if a.input else [])
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "torch.safetensors")
        write_safetensors(ckpt, {k: v.numpy() for k, v in net.state_dict().items()
                                 if v.dtype == torch.float32})
        exe = os.path.join(tmp, "predictor")
        run([a.mcgen, "build", a.model, "--inference", "--cpu", a.cpu, "--weights", ckpt, "-o", exe] + opts)
        info = run([exe, "info"])
        rows = []
        for threads in a.threads:
            ours1, oursb, torch1, torchb, how = [], [], [], [], None
            for _ in range(a.rounds):
                out = run([exe, "bench", "--latency", "--threads", str(threads), "--batch", str(a.batch),
                           "--iters", str(a.iters), "--json", "-"])
                j = json.loads(out.strip().splitlines()[-1])
                ours1.append(j["latency_ms_median"])
                oursb.append(j["images_per_s"])
                (t1, h1), (tb, hb) = torch_times(net, shape, a.batch, threads, 20 * a.iters, a.iters)
                torch1.append(t1)
                torchb.append(tb)
                how = (h1, hb)
            m = statistics.median
            rows.append((threads, m(ours1), m(torch1), how[0], m(oursb), m(torchb), how[1]))
        cpu = [l for l in info.splitlines() if l.startswith("cpu target")][0].split(None, 2)[2]
        print("%s (%s), input %s, %s target, %s; medians of %d rounds; PyTorch %s"
              % (graph["model"], graph["conv"], "x".join(map(str, shape)), cpu, j["cpu_name"], a.rounds,
                 torch.__version__))
        print("| threads | batch 1, ours (ms) | PyTorch (ms) | speedup | batch %d, ours (images/s) | PyTorch | speedup |"
              % a.batch)
        print("|---|---|---|---|---|---|---|")
        for t, o1, p1, h1, ob, pb, hb in rows:
            print("| %d | %.3f | %.3f (%s) | **%.2fx** | %.0f | %.0f (%s) | **%.2fx** |"
                  % (t, o1, p1, h1, p1 / o1, ob, pb, hb, ob / pb))


if __name__ == "__main__":
    main()
