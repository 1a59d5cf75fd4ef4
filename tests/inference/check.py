#!/usr/bin/env python3
"""The inference library against the training executable.

check.py --mcgen MCGEN --exe EXE --model MODEL.mcn [mcgen options after --]

1. A checkpoint of the model whose batch norms have non-trivial running
   statistics and affine parameters (EXE init, then perturbed), and a batch
   of random images.
2. The training executable's eval-mode logits (EXE forward).
3. mcgen emit --inference, twice: with the loader, and with the weights
   embedded (--weights); each compiled with gcc (-fopenmp) and with clang
   (no OpenMP), -std=c11 -Wall -Wextra -Werror, nothing of the runtime on
   the include or link path, with tests/inference/driver.c; with --asan,
   one more gcc build under AddressSanitizer and UBSan.
4. Each library's logits, of the batch, of each image alone and of the
   images on threads at once (a thread and a workspace each, one net),
   equal the executable's within 1e-5 of the largest logit; and the
   header compiles as C++.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
from parity import read_safetensors, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-5


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        sys.exit("check.py: failed (%d): %s\n%s" % (r.returncode, " ".join(shlex.quote(c) for c in cmd), r.stdout))
    return r.stdout


def perturbed_checkpoint(src, dst, seed):
    """Batch norms with running statistics and affine parameters far from
    their initial 0, 1 (so that folding them is tested)."""
    tensors, meta = read_safetensors(src)
    rng = np.random.default_rng(seed)
    out = {}
    for name, (_, arr) in tensors.items():
        if name.endswith("running_mean"):
            arr = rng.normal(0, 0.2, arr.shape).astype(np.float32)
        elif name.endswith("running_var"):
            arr = rng.uniform(0.5, 2.0, arr.shape).astype(np.float32)
        elif name[: -len("weight")] + "running_var" in tensors and name.endswith("weight"):
            arr = rng.uniform(0.5, 1.5, arr.shape).astype(np.float32)
        elif name[: -len("bias")] + "running_var" in tensors and name.endswith("bias"):
            arr = rng.normal(0, 0.2, arr.shape).astype(np.float32)
        out[name] = arr
    write_safetensors(dst, out, meta)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mcgen", required=True)
    ap.add_argument("--exe", required=True, help="the model's training executable (mcgen build)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--cpu", default="native")
    ap.add_argument("--batch", type=int, default=3)
    ap.add_argument("--asan", action="store_true")
    ap.add_argument("--tolerance", type=float, default=TOLERANCE,
                    help="of the largest logit (default 1e-5; tests/CMakeLists.txt says where and why it is more)")
    a = ap.parse_args()
    # the model as the executable was built: its conv type, input and classes
    info = dict(line.split(None, 1) for line in run([a.exe, "info"]).splitlines() if " " in line.strip())
    info = {k: v.strip() for k, v in info.items()}
    a.options = ["--conv", info["conv"].split()[-1], "--input", info["input"], "--classes", info["classes"]]

    summary = json.loads(run([a.mcgen, "summary", a.model, "--json"] + a.options))
    name, (c, h, w), classes = summary["model"], summary["input"], summary["classes"]
    cpu_flags = run([a.mcgen, "targets", "--flags", a.cpu]).split()
    with tempfile.TemporaryDirectory() as tmp:
        p = lambda f: os.path.join(tmp, f)  # noqa: E731
        run([a.exe, "init", "--out", p("init.safetensors"), "--seed", "3"])
        perturbed_checkpoint(p("init.safetensors"), p("ckpt.safetensors"), 5)
        x = np.random.default_rng(7).normal(0, 1, (a.batch, c, h, w)).astype(np.float32)
        write_safetensors(p("in.safetensors"), {"input": x})
        x.tofile(p("in.f32"))
        run([a.exe, "forward", "--weights", p("ckpt.safetensors"), "--input", p("in.safetensors"),
             "--output", p("ref.safetensors")])
        ref = read_safetensors(p("ref.safetensors"))[0]["logits"][1]
        scale = max(float(np.abs(ref).max()), 1e-3)

        builds = [("gcc", ["-fopenmp"]), ("clang", [])]
        if a.asan:
            builds.append(("gcc", ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]))
        worst = 0.0
        for embedded in (False, True):
            lib = p("lib_embedded" if embedded else "lib")
            run([a.mcgen, "emit", a.model, "--inference", "--cpu", a.cpu, "-o", lib] + a.options
                + (["--weights", p("ckpt.safetensors")] if embedded else []))
            sources = sorted(os.path.join(lib, f) for f in os.listdir(lib) if f.endswith(".c"))
            defs = ["-DMODEL=" + name, "-DUPPER=" + name.upper(), '-DMODEL_HEADER="%s.h"' % name]
            # embedded: in the C, or past its size in NAME.bin, which the loader reads
            weights = "-"
            if embedded and os.path.exists(os.path.join(lib, name + ".bin")):
                weights = os.path.join(lib, name + ".bin")
            elif embedded:
                defs.append("-DEMBEDDED")
            else:
                weights = p("ckpt.safetensors")
            for cc, extra in builds:
                exe = p("drv_%s_%d_%d" % (cc, embedded, len(extra)))
                run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-ffp-contract=fast"] + cpu_flags + extra
                    + defs + ["-I", lib, os.path.join(HERE, "driver.c")] + sources + ["-lm", "-pthread", "-o", exe])
                env = dict(os.environ, OMP_NUM_THREADS="2")
                run([exe, weights, p("in.f32"), str(a.batch), p("out.f32")], env=env)
                out = np.fromfile(p("out.f32"), dtype=np.float32).reshape(3, a.batch, classes)
                for what, got in (("batch", out[0]), ("one by one", out[1]), ("on threads at once", out[2])):
                    err = float(np.abs(got.astype(np.float64) - ref).max()) / scale
                    worst = max(worst, err)
                    print("%s %s %s%s: max error %.2e of the largest logit %.3g"
                          % (name, cc, "embedded" if embedded else "loaded", " " + what, err, scale))
                    if not err <= a.tolerance:
                        sys.exit("check.py: %s: the inference library (%s, %s) differs from EXE forward by %.2e"
                                 % (name, cc, what, err))
            # the API from C++
            with open(p("api.cc"), "w") as f:
                f.write('#include "%s.h"\nint main() { return %s_workspace_bytes(1) > 0 ? 0 : 1; }\n' % (name, name))
            run(["g++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I", lib, p("api.cc")])
        print("%s: inference library within %.1e of EXE forward (worst %.2e)" % (name, a.tolerance, worst))


if __name__ == "__main__":
    main()
