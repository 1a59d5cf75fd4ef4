#!/usr/bin/env python3
"""The shape benchmark: every network's training step, generated against the
generic kernels and against PyTorch, at each thread count, as one Markdown table.

    /usr/bin/python3 tools/shape_bench.py [--mcgen build/mcgen] [--cpu CPU] [--threads 1 2]
        [--batch 32] [--iters 5] [--rounds 3] [--tune] [--input CxHxW] [MODEL.mcn ...]

Without models, every models/bench/*.mcn. For each model: `mcgen build --cpu CPU`
(and with --tune, `mcgen tune` then a build with its file); then per thread count
`EXE bench` (the generated and the generic step in turn) and the generated step
against PyTorch's (its faster layout; the twin tools/torch_graph.py builds), in
turn, --rounds times (tools/compare.py's interleaved_steps). Ratios are of
medians; PyTorch is limited to the target's ISA (--cpu avx2 sets
ATEN_CPU_CAPABILITY=avx2 and DNNL_MAX_CPU_ISA=AVX2 before torch loads).
"""

import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.dont_write_bytecode = True


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("shape_bench.py: %s failed (exit %d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r.stdout


def bench_pair(exe, threads, batch, iters):
    """(generated, generic) images/s of `EXE bench`, measured in turn."""
    out = run([exe, "bench", "--threads", str(threads), "--batch", str(batch), "--iters", str(iters)])
    m = re.search(r"training step: generated [\d.]+ ms \(([\d.]+) images/s.*generic [\d.]+ ms \(([\d.]+) images/s",
                  out)
    if not m:
        sys.exit("shape_bench.py: no step line in the output of %s bench" % exe)
    return float(m.group(1)), float(m.group(2))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--mcgen", default=os.path.join(REPO, "build", "mcgen"))
    ap.add_argument("--cpu", default="native")
    ap.add_argument("--input", help="CxHxW instead of each model's own input (mcgen build --input)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tune", action="store_true", help="also the build mcgen tune chooses")
    args = ap.parse_args(argv)
    models = args.models or sorted(glob.glob(os.path.join(REPO, "models", "bench", "*.mcn")))
    if args.cpu == "avx2":
        os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")
        os.environ.setdefault("DNNL_MAX_CPU_ISA", "AVX2")
    sys.path.insert(0, HERE)
    import compare  # noqa: E402 (after the environment that torch reads)
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        sys.exit("shape_bench.py: PyTorch is needed (Debian's python3-torch: run /usr/bin/python3): %s" % e)

    cpu = run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo; grep -m1 'cpu family' /proc/cpuinfo; "
                           "grep -m1 '^model' /proc/cpuinfo"]).replace("\n", " ")
    print("CPU: %s; target %s; batch %d; medians of %d rounds in turn" % (
        " ".join(cpu.split()), args.cpu, args.batch, args.rounds))
    print()
    cols = ["model", "threads", "generated img/s", "generic img/s", "vs generic", "PyTorch img/s", "vs PyTorch"]
    if args.tune:
        cols[3:3] = ["tuned img/s", "tuned vs rules"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            name = os.path.splitext(os.path.basename(model))[0]
            exe = os.path.join(tmp, name)
            shape = ["--input", args.input] if args.input else []
            run([args.mcgen, "build", model, "--cpu", args.cpu, "-o", exe] + shape)
            tuned = None
            if args.tune:
                tune = os.path.join(tmp, name + ".tune")
                run([args.mcgen, "tune", model, "--cpu", args.cpu, "--batch", str(args.batch), "-o", tune] + shape)
                tuned = exe + "_tuned"
                run([args.mcgen, "build", model, "--cpu", args.cpu, "--tune", tune, "-o", tuned] + shape)
            for threads in args.threads:
                torch.set_num_threads(threads)
                js = os.path.join(tmp, name + ".json")
                run([exe, "bench", "--layers", "--generated-only", "--threads", str(threads), "--batch",
                     str(args.batch), "--iters", "1", "--json", js])
                with open(js) as f:
                    bench = json.load(f)
                gens, gens_generic = [], []
                for _ in range(args.rounds):
                    g, gg = bench_pair(exe, threads, args.batch, args.iters)
                    gens.append(g), gens_generic.append(gg)
                steps = compare.torch_steps(torch, F, bench, model, args.mcgen)
                vs = compare.interleaved_steps(exe, steps, bench, threads, args.iters, args.rounds)
                row = [name, str(threads), "%.0f" % statistics.median(gens), "%.0f" % statistics.median(gens_generic),
                       "%.2fx" % (statistics.median(gens) / statistics.median(gens_generic)),
                       "%.0f" % vs["pytorch_median"], "%.2fx" % vs["speedup_median"]]
                if tuned:
                    t = [compare.run_exe_step(x, bench, threads, args.iters) for _ in range(args.rounds)
                         for x in (tuned, exe)]
                    tuned_med, rules_med = statistics.median(t[0::2]), statistics.median(t[1::2])
                    row[3:3] = ["%.0f" % tuned_med, "%.2fx" % (tuned_med / rules_med)]
                print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
