#!/usr/bin/env python3
"""The graph-built PyTorch twin (tools/torch_graph.py, from `mcgen summary --json`)
against the hand-written zoo (reference_models.py): for every zoo model and conv
type, the same state_dict (names, shapes, order) and, on the same random float64
weights, the same eval logits, train logits (fixed shake blends, no dropout), loss
and every gradient.

    python3 tests/parity/graph_twin.py --mcgen build/mcgen [--models resnet20,...] [--tol 1e-10]

Exit status 0 when every combination agrees, 1 otherwise.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.dont_write_bytecode = True

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import reference_models as R  # noqa: E402
import torch_graph as G  # noqa: E402

# inputs as small as each network takes (mobilenetv2 halves its plane 3 times)
INPUTS = {"resnet20": "3x8x8", "resnet50": "1x8x8", "se_resnet56": "3x8x8",
          "shakenet26_2x96d": "3x8x8", "mobilenetv2": "3x16x16"}
CLASSES = 7


def randomize(model, seed):
    """Every parameter and BN statistic random (var > 0), so no two tensors
    that could be swapped are equal."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.dtype == torch.int64:
                t.fill_(3)
            elif name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g, dtype=t.dtype))
            else:
                t.copy_(0.3 * torch.randn(t.shape, generator=g, dtype=t.dtype))


def err(a, b):
    scale = float(b.abs().max()) if b.numel() else 0.0
    return float((a - b).abs().max()) / max(scale, 1e-300) if b.numel() else 0.0


def outputs(model, x, y, set_shake):
    """eval logits, train logits, loss, {name: grad}."""
    model.eval()
    with torch.no_grad():
        ev = model(x)
    R.train_mode(model, dropout=False)
    set_shake(model)
    model.zero_grad(set_to_none=True)
    tr = model(x)
    loss = F.cross_entropy(tr, y)
    loss.backward()
    return ev, tr.detach(), loss.detach(), {k: p.grad for k, p in model.named_parameters()}


def shake_graph(model):
    for m in model.modules():
        if isinstance(m, G.Shake):
            m.alpha, m.beta = 0.3, 0.8


def check(mcgen, model_name, conv, tol):
    shape = [int(v) for v in INPUTS[model_name].split("x")]
    graph = G.summary(mcgen, os.path.join(REPO, "models", model_name + ".mcn"), conv, INPUTS[model_name], CLASSES)
    twin = G.build(graph).double()
    ref = R.build(model_name, conv, CLASSES, shape[0]).double()
    want = [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    got = [(k, tuple(v.shape)) for k, v in twin.state_dict().items()]
    if got != want:
        bad = next(i for i, (a, b) in enumerate(zip(got + [None] * len(want), want + [None] * len(got))) if a != b)
        return "state_dict differs at entry %d: twin %s, reference %s" % (
            bad, got[bad] if bad < len(got) else None, want[bad] if bad < len(want) else None)
    randomize(ref, 1)
    twin.load_state_dict(ref.state_dict(), strict=True)
    g = torch.Generator().manual_seed(2)
    x = torch.randn([2] + shape, generator=g, dtype=torch.float64)
    y = torch.randint(0, CLASSES, (2,), generator=g)
    a = outputs(ref, x, y, lambda m: R.set_shake(m, 0.3, 0.8))
    b = outputs(twin, x, y, shake_graph)
    errs = {"eval logits": err(b[0], a[0]), "train logits": err(b[1], a[1]), "loss": err(b[2], a[2])}
    gmax = max(float(v.abs().max()) for v in a[3].values() if v is not None)
    for k, v in a[3].items():
        w = b[3][k]
        if (v is None) != (w is None):
            return "grad.%s: %s in the reference, %s in the twin" % (k, v is None and "none", w is None and "none")
        if v is not None:
            errs["grad." + k] = float((w - v).abs().max()) / max(gmax, 1e-300)
    worst = max(errs, key=errs.get)
    if errs[worst] > tol:
        return "%s differs: %.3e" % (worst, errs[worst])
    return None, "%d tensors, worst %s %.1e" % (len(want), worst, errs[worst])


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mcgen", required=True)
    ap.add_argument("--models", default=",".join(R.MODELS))
    ap.add_argument("--tol", type=float, default=1e-10)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    failures = 0
    for model_name in args.models.split(","):
        for conv in R.CONV_TYPES:
            r = check(args.mcgen, model_name, conv, args.tol)
            ok = isinstance(r, tuple)
            print("%-5s %-18s %-13s %s" % ("ok" if ok else "FAIL", model_name, conv, r[1] if ok else r))
            sys.stdout.flush()
            failures += not ok
    print("%s: graph twin vs reference_models.py, %d failure(s)" % ("PASS" if not failures else "FAIL", failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
