#!/usr/bin/env python3
"""A PyTorch twin of any mcgen model, built from `mcgen summary --json`.

    graph = torch_graph.summary(MCGEN, "models/bench/deep8.mcn", conv=None, input="1x28x28", classes=None)
    net = torch_graph.build(graph)            # a torch.nn.Module, PyTorch's default init
    net.load_state_dict(checkpoint, strict=True)

The network is interpreted, layer by layer in mcgen's execution order, with
PyTorch's semantics. Its state_dict has the names and shapes
of mcgen's checkpoints: a layer with tensors sits at its dotted name in a tree
of modules, placed in mcgen's tensor order; layers without tensors sit in the
list `#ops`. Unused layers (ShakeNet's dead shortcuts) are built, never run.

OPS maps an op name to a function (layer, input shapes) -> module, called
with the layer's inputs in order; a new op is one entry. `build(graph, ops=)`
replaces entries (parity.py swaps in ReLUs that note their kinks).

    python3 tools/torch_graph.py MCGEN MODEL.mcn [--conv T] [--input CxHxW] [--classes N]

prints the twin's state_dict (name, shape), one line each, for a look.
"""

import json
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def summary(mcgen, model, conv=None, input=None, classes=None):
    """The graph of MODEL as `mcgen summary --json` gives it (a dict)."""
    cmd = [mcgen, "summary", model, "--json"]
    if conv:
        cmd += ["--conv", conv]
    if input:
        cmd += ["--input", input if isinstance(input, str) else "x".join(map(str, input))]
    if classes:
        cmd += ["--classes", str(classes)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed (exit %d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
    return json.loads(r.stdout)


# --------------------------------------------------------------------------
# The layers that PyTorch has no module for
# --------------------------------------------------------------------------

class Depthwise(nn.Module):
    """Every kernel of a list on every channel (stride s, pad k/2), outputs
    concatenated kernel-major: channel j*C + c is kernel j on channel c.
    Children "0", "1", ...: tensors <name>.<j>.weight (Multiception's seps)."""

    def __init__(self, c, kernels, stride, bias):
        super().__init__()
        for j, k in enumerate(kernels):
            self.add_module(str(j), nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=bias))

    def forward(self, x):
        return torch.cat([conv(x) for conv in self.children()], dim=1)


def split3(c):
    """MixConv's channel split: three groups of c//3, the first takes the remainder."""
    return [c // 3 + c % 3, c // 3, c // 3]


class MixConv(nn.Module):
    """Dense convs k = 3, 5, 7 (stride s, pad k/2, no bias) on a three-way split of
    the input and output channels, concatenated."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.split = split3(cin)
        for i, (ci, co) in enumerate(zip(self.split, split3(cout))):
            k = 3 + 2 * i
            self.add_module(str(i), nn.Conv2d(ci, co, k, stride, k // 2, bias=False))

    def forward(self, x):
        xs = torch.split(x, self.split, dim=1)
        return torch.cat([conv(xi) for conv, xi in zip(self.children(), xs)], dim=1)


class Linear(nn.Linear):
    """On the flattened input; the output stays 4-D (N, out, 1, 1) as mcgen's."""

    def forward(self, x):
        return super().forward(x.flatten(1))[:, :, None, None]


class AvgPool(nn.Module):
    """Global mean over H x W without k, else windows k x k at the stride."""

    def __init__(self, k, stride):
        super().__init__()
        self.k, self.stride = k, stride

    def forward(self, x):
        if not self.k:
            return x.mean(dim=(2, 3), keepdim=True)
        return F.avg_pool2d(x, self.k, self.stride)


class Subsample(nn.Module):
    """Rows and columns offset, offset + s, ...; past the edge reads 0."""

    def __init__(self, stride, offset):
        super().__init__()
        self.stride, self.offset = stride, offset

    def forward(self, x):
        o, s = self.offset, self.stride
        if o:
            x = F.pad(x, (-o, o, -o, o))
        return x[:, :, ::s, ::s]


class Add(nn.Module):
    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class Scale(nn.Module):
    """x * s per channel, s of shape (N, C, 1, 1)."""

    def forward(self, x, s):
        return x * s


class Shake(nn.Module):
    """Shake-shake: per sample a, b ~ U[0,1) in training (or the fixed alpha,
    beta when set), 0.5 in eval. Forward a*x + (1-a)*y, backward b*g and
    (1-b)*g: the b-blend carries the gradient, a detached difference moves
    the value to the a-blend."""

    def __init__(self):
        super().__init__()
        self.alpha = self.beta = None

    def forward(self, x, y):
        if not self.training:
            return 0.5 * x + 0.5 * y
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)

        def draw(v):
            if v is None:
                return torch.rand(shape, dtype=x.dtype, device=x.device)
            return torch.full(shape, float(v), dtype=x.dtype, device=x.device)
        a, b = draw(self.alpha), draw(self.beta)
        return b * x + (1 - b) * y + ((a - b) * (x - y)).detach()


# --------------------------------------------------------------------------
# The table: op -> (layer, input shapes [C, H, W]) -> module
# --------------------------------------------------------------------------

def _depthwise(l, ins):
    c = ins[0][0]
    if l["indexed"]:
        return Depthwise(c, l["kernels"], l["stride"], l["bias"])
    k = l["kernels"][0]
    return nn.Conv2d(c, c, k, l["stride"], k // 2, groups=c, bias=l["bias"])


OPS = {
    "conv": lambda l, ins: nn.Conv2d(ins[0][0], l["out"], l["k"], l["stride"], l["pad"], groups=l["groups"],
                                     bias=l["bias"]),
    "depthwise": _depthwise,
    "mixconv": lambda l, ins: MixConv(ins[0][0], l["out"], l["stride"]),
    "batchnorm": lambda l, ins: nn.BatchNorm2d(ins[0][0], eps=l["eps"], momentum=l["momentum"]),
    "relu": lambda l, ins: nn.ReLU(),
    "relu6": lambda l, ins: nn.ReLU6(),
    "sigmoid": lambda l, ins: nn.Sigmoid(),
    "silu": lambda l, ins: nn.SiLU(),
    "hardswish": lambda l, ins: nn.Hardswish(),
    "hardsigmoid": lambda l, ins: nn.Hardsigmoid(),
    "maxpool": lambda l, ins: nn.MaxPool2d(l["k"], l["stride"], l["pad"]),
    "identity": lambda l, ins: nn.Identity(),
    "add": lambda l, ins: Add(),
    "concat": lambda l, ins: Concat(),
    "scale": lambda l, ins: Scale(),
    "avgpool": lambda l, ins: AvgPool(l["k"], l["stride"]),
    "subsample": lambda l, ins: Subsample(l["stride"], l["offset"]),
    "linear": lambda l, ins: Linear(ins[0][0] * ins[0][1] * ins[0][2], l["out"], bias=l["bias"]),
    "dropout": lambda l, ins: nn.Dropout(l["p"]),
    "shake": lambda l, ins: Shake(),
}


# --------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------

STATELESS = "#ops"  # '#' is in no name a .mcn file can give


class GraphNet(nn.Module):
    def __init__(self, graph, ops=None):
        super().__init__()
        table = dict(OPS, **(ops or {}))
        shapes = {"input": graph["input"]}
        shapes.update((l["name"], l["shape"]) for l in graph["layers"])
        order = {t["name"]: i for i, t in enumerate(graph["tensors"])}
        built, owners = {}, []
        self.add_module(STATELESS, nn.ModuleList())
        for l in graph["layers"]:
            if l["op"] not in table:
                raise ValueError("layer %s: op %r has no PyTorch twin in tools/torch_graph.py" % (l["name"], l["op"]))
            built[l["name"]] = table[l["op"]](l, [shapes[i] for i in l["inputs"]])
            if l["tensors"]:
                owners.append(l)
            else:
                getattr(self, STATELESS).append(built[l["name"]])
        # mcgen's tensor order is its checkpoints' order; PyTorch's state_dict
        # walks the module tree, so place the modules in that order
        for l in sorted(owners, key=lambda l: order[l["tensors"][0]["name"]]):
            self._place(l["name"], built[l["name"]])
        self._check_tensors(owners)
        # the live layers: (name, module, inputs, names no layer reads after this one)
        live = [l for l in graph["layers"] if not l["unused"]]
        last = {}
        for i, l in enumerate(live):
            for src in l["inputs"]:
                last[src] = i
        self._steps = [(l["name"], built[l["name"]], l["inputs"],
                        [s for s in set(l["inputs"]) if last[s] == i and s != graph["output"]])
                       for i, l in enumerate(live)]
        self._output = graph["output"]
        self.graph = graph  # for tools that look at the layers (parity's BN regimes)

    def _place(self, name, module):
        """Registers module at its dotted name, making plain containers for the
        parts above it (a container already there hands its children over)."""
        parent, parts = self, name.split(".")
        for p in parts[:-1]:
            if p not in parent._modules:
                parent.add_module(p, nn.Module())
            parent = parent._modules[p]
        old = parent._modules.get(parts[-1])
        if old is not None:
            for k, child in old.named_children():
                module.add_module(k, child)
            del parent._modules[parts[-1]]
        parent.add_module(parts[-1], module)

    def _check_tensors(self, owners):
        """Every module's tensors are its layer's, with mcgen's shapes."""
        sd = self.state_dict()
        want = {t["name"]: tuple(t["shape"]) for l in owners for t in l["tensors"]}
        got = {k: tuple(v.shape) for k, v in sd.items()}
        if got != want:
            diff = sorted(set(got.items()) ^ set(want.items()))
            raise ValueError("the PyTorch twin's state_dict differs from mcgen's tensors: %s" % diff[:6])

    def forward(self, x):
        vals = {"input": x}
        for name, module, inputs, done in self._steps:
            vals[name] = module(*[vals[i] for i in inputs])
            for s in done:  # free what nothing reads any more, as a written-out forward would
                del vals[s]
        return vals[self._output].flatten(1)


def build(graph, ops=None):
    """The torch.nn.Module of a `mcgen summary --json` graph; ops replaces entries of OPS."""
    return GraphNet(graph, ops)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mcgen")
    ap.add_argument("model")
    ap.add_argument("--conv")
    ap.add_argument("--input")
    ap.add_argument("--classes", type=int)
    a = ap.parse_args(argv)
    net = build(summary(a.mcgen, a.model, a.conv, a.input, a.classes))
    for k, v in net.state_dict().items():
        print("%s\t%s" % (k, "x".join(map(str, v.shape)) or "scalar"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
