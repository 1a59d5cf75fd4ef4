#!/usr/bin/env python3
"""The mcgen model zoo in PyTorch, written by hand, independently of mcgen.

This is the independent side of the parity check (tests/parity/parity.py): the
C classifiers that mcgen builds are compared against these modules. Only torch,
numpy and the standard library are used.

    build(model_name, conv_type, classes=10, in_channels=3) -> nn.Module

returns a module whose state_dict() has exactly the names, shapes and order of
/work/shared/reference/state_dict_keys/<model>_<conv>.tsv (SPEC 2 and 3).

    python3 tests/parity/reference_models.py --check-keys [--reference DIR]

compares all 20 model x conv combinations with the reference key files and
params.tsv (parameter counts and state_dict sizes at 10/100/1000 classes) and
exits non-zero on any difference.
"""

import argparse
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS = ("resnet20", "resnet50", "se_resnet56", "shakenet26_2x96d", "mobilenetv2")
CONV_TYPES = ("standard", "dsconv", "multiception", "mixconv")

# Multiception kernel lists per CIFAR stage.
STAGE_KERNELS = ([3, 5, 7], [3, 5], [3, 3])


# --------------------------------------------------------------------------
# The convbn slot
# --------------------------------------------------------------------------

class DSConv(nn.Module):
    """depthwise 3x3 (stride s, no bias) -> pointwise 1x1 (bias) -> BN."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, 1, 0, bias=True)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.pointwise(self.depthwise(x)))


class Multiception(nn.Module):
    """Per k in K: depthwise kxk stride 1 pad k//2 no bias; concat kernel-major;
    BN1; pointwise 1x1 with stride s and bias; BN2. No activation inside."""

    def __init__(self, cin, cout, stride, kernels):
        super().__init__()
        self.seps = nn.ModuleList(
            nn.Conv2d(cin, cin, k, 1, k // 2, groups=cin, bias=False) for k in kernels)
        n = cin * len(kernels)
        self.bn1 = nn.BatchNorm2d(n)
        self.pointwise = nn.Conv2d(n, cout, 1, stride, 0, bias=True)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        y = torch.cat([sep(x) for sep in self.seps], dim=1)
        return self.bn2(self.pointwise(self.bn1(y)))


def split3(c):
    """Channel split of MixConv: three groups of c//3, the first takes the remainder."""
    return [c // 3 + c % 3, c // 3, c // 3]


class MixConv(nn.Module):
    """Dense (not depthwise) split conv, kernels (3,5,7) always, no bias, no BN."""

    KERNELS = (3, 5, 7)

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.in_split = split3(cin)
        self.out_split = split3(cout)
        for i, k in enumerate(self.KERNELS):
            self.add_module(str(i), nn.Conv2d(self.in_split[i], self.out_split[i], k,
                                              stride, k // 2, bias=False))

    def forward(self, x):
        xs = torch.split(x, self.in_split, dim=1)
        return torch.cat([conv(xi) for conv, xi in zip(self.children(), xs)], dim=1)


def convbn(conv_type, cin, cout, stride, kernels):
    if conv_type == "standard":
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                             nn.BatchNorm2d(cout))
    if conv_type == "dsconv":
        return DSConv(cin, cout, stride)
    if conv_type == "multiception":
        return Multiception(cin, cout, stride, kernels)
    if conv_type == "mixconv":
        return MixConv(cin, cout, stride)
    raise ValueError("unknown conv type %r (expected one of %s)" % (conv_type, ", ".join(CONV_TYPES)))


class _ClampFn(torch.autograd.Function):
    """clamp(x, 0, hi) whose derivative mask (0 < x < hi, as PyTorch's) is
    inverted where flip is True."""

    @staticmethod
    def forward(ctx, x, hi, flip):
        mask = x > 0
        if hi is not None:
            mask = mask & (x < hi)
        if flip is not None:
            mask = mask ^ flip
        ctx.save_for_backward(mask)
        return x.clamp(0, hi) if hi is not None else x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        mask, = ctx.saved_tensors
        return g * mask, None, None


class _KinkMixin:
    """ReLU / ReLU6 that can (for the parity check) record the elements whose
    input lies within record * max|input| of a kink, and take the derivative
    from the other side at chosen elements (flips: list of index tuples). With
    neither set they are plain F.relu / F.relu6."""

    HI = None

    def _setup(self):
        self.record = None
        self.near = []
        self.scale = 0.0
        self.flips = None

    def forward(self, x):
        if self.record is not None:
            d = x.detach().abs()
            if self.HI is not None:
                d = torch.minimum(d, (x.detach() - self.HI).abs())
            scale = float(x.detach().abs().max()) if x.numel() else 0.0
            self.scale = scale
            idx = (d < self.record * scale).nonzero().tolist()
            self.near = [(tuple(i), float(x.detach()[tuple(i)])) for i in idx]
        if not self.flips:
            return F.relu6(x) if self.HI is not None else F.relu(x)
        flip = torch.zeros(x.shape, dtype=torch.bool)
        for i in self.flips:
            flip[i] = True
        return _ClampFn.apply(x, self.HI, flip)


class ReLU(_KinkMixin, nn.ReLU):
    def __init__(self):
        nn.ReLU.__init__(self)
        self._setup()


class ReLU6(_KinkMixin, nn.ReLU6):
    HI = 6.0

    def __init__(self):
        nn.ReLU6.__init__(self)
        self._setup()


def global_avg_pool(x):
    return x.mean(dim=(2, 3))


# --------------------------------------------------------------------------
# ResNet-20/50 (CIFAR BasicBlock, option-B projections) and SE-ResNet-56
# --------------------------------------------------------------------------

class SELayer(nn.Module):
    def __init__(self, c, reduction=8):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(c, c // reduction, bias=False), ReLU(),
                                nn.Linear(c // reduction, c, bias=False), nn.Sigmoid())

    def forward(self, x):
        s = self.fc(global_avg_pool(x))
        return x * s[:, :, None, None]


class BasicBlock(nn.Module):
    def __init__(self, conv_type, cin, cout, stride, kernels, se=False):
        super().__init__()
        self.conv_bn = convbn(conv_type, cin, cout, stride, kernels)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if se:
            self.se = SELayer(cout, 8)
        else:
            self.se = None
        self.relu1 = ReLU()
        self.relu2 = ReLU()
        if cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                                            nn.BatchNorm2d(cout))
        else:
            self.downsample = None

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.conv_bn(x))))
        if self.se is not None:
            out = self.se(out)
        sc = x if self.downsample is None else self.downsample(x)
        return self.relu2(out + sc)


class CifarResNet(nn.Module):
    def __init__(self, conv_type, n, classes, in_channels, se=False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = ReLU()
        cin = 16
        for s, (cout, stride, kernels) in enumerate(zip((16, 32, 64), (1, 2, 2), STAGE_KERNELS)):
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(conv_type, cin, cout, stride if b == 0 else 1, kernels, se))
                cin = cout
            self.add_module("layer%d" % (s + 1), nn.Sequential(*blocks))
        self.fc = nn.Linear(64, classes)
        self._init()

    def _init(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)  # fan_in, gain sqrt(2); biases keep the default
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            # Linear (fc, SE): PyTorch default

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(global_avg_pool(x))


# --------------------------------------------------------------------------
# Shake-Shake 26 2x96d
# --------------------------------------------------------------------------

class ShakeShakeFn(torch.autograd.Function):
    """out = alpha*h1 + (1-alpha)*h2; backward: beta*g, (1-beta)*g.
    alpha, beta: tensors broadcastable to h1 (per sample: [N,1,1,1])."""

    @staticmethod
    def forward(ctx, h1, h2, alpha, beta):
        ctx.save_for_backward(beta)
        return alpha * h1 + (1 - alpha) * h2

    @staticmethod
    def backward(ctx, g):
        beta, = ctx.saved_tensors
        return beta * g, (1 - beta) * g, None, None


class ShakeShake(nn.Module):
    """Train: per-sample alpha, beta ~ U[0,1), or the fixed values self.alpha,
    self.beta when set (parity). Eval: alpha = 0.5."""

    def __init__(self):
        super().__init__()
        self.alpha = None
        self.beta = None

    def forward(self, h1, h2):
        if not self.training:
            return 0.5 * h1 + 0.5 * h2
        n = h1.shape[0]
        shape = (n,) + (1,) * (h1.dim() - 1)
        if self.alpha is None:
            alpha = torch.rand(shape, dtype=h1.dtype, device=h1.device)
        else:
            alpha = torch.full(shape, float(self.alpha), dtype=h1.dtype, device=h1.device)
        if self.beta is None:
            beta = torch.rand(shape, dtype=h1.dtype, device=h1.device)
        else:
            beta = torch.full(shape, float(self.beta), dtype=h1.dtype, device=h1.device)
        return ShakeShakeFn.apply(h1, h2, alpha, beta)


class ShakeShortcut(nn.Module):
    """h = ReLU(x); path1 = 1x1 conv on h[s*i, s*j]; path2 = 1x1 conv on
    h[s*i+1, s*j+1] (0 out of range); concat; BN."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        self.relu = ReLU()
        self.conv1 = nn.Conv2d(cin, cout // 2, 1, 1, 0, bias=False)
        self.conv2 = nn.Conv2d(cin, cout // 2, 1, 1, 0, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        h = self.relu(x)
        s = self.stride
        p1 = h[:, :, ::s, ::s]
        p2 = F.pad(h, (-1, 1, -1, 1))[:, :, ::s, ::s]
        return self.bn(torch.cat([self.conv1(p1), self.conv2(p2)], dim=1))


class ShakeBlock(nn.Module):
    def __init__(self, conv_type, cin, cout, stride, kernels):
        super().__init__()
        self.equal_io = cin == cout
        # The reference builds a shortcut in every block, also where it is never used.
        self.shortcut = ShakeShortcut(cin, cout, stride)
        self.branch1 = self._branch(conv_type, cin, cout, stride, kernels)
        self.branch2 = self._branch(conv_type, cin, cout, stride, kernels)
        self.shake = ShakeShake()

    @staticmethod
    def _branch(conv_type, cin, cout, stride, kernels):
        return nn.Sequential(ReLU(), convbn(conv_type, cin, cout, stride, kernels), ReLU(),
                             nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = self.shake(self.branch1(x), self.branch2(x))
        h0 = x if self.equal_io else self.shortcut(x)
        return h + h0


class ShakeResNet(nn.Module):
    def __init__(self, conv_type, classes, in_channels, depth=26, width=96):
        super().__init__()
        n = (depth - 2) // 6
        chs = [16, width, 2 * width, 4 * width]
        self.c_in = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=True)
        for s in range(3):
            blocks = []
            for b in range(n):
                cin = chs[s] if b == 0 else chs[s + 1]
                stride = (1, 2, 2)[s] if b == 0 else 1
                blocks.append(ShakeBlock(conv_type, cin, chs[s + 1], stride, STAGE_KERNELS[s]))
            self.add_module("layer%d" % (s + 1), nn.Sequential(*blocks))
        self.relu = ReLU()
        self.fc_out = nn.Linear(chs[3], classes)
        self._init()

    def _init(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                k = m.kernel_size[0] * m.kernel_size[1]
                m.weight.data.normal_(0, math.sqrt(2.0 / (k * m.out_channels)))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.bias.data.zero_()

    def forward(self, x):
        h = self.c_in(x)
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.fc_out(global_avg_pool(self.relu(h)))


# --------------------------------------------------------------------------
# MobileNetV2 (stride-1 stem)
# --------------------------------------------------------------------------

def conv_bn_relu6(cin, cout, k, stride=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), ReLU6())


class InvertedResidual(nn.Module):
    def __init__(self, conv_type, cin, cout, stride, t, kernels):
        super().__init__()
        hidden = int(round(cin * t))
        self.residual = stride == 1 and cin == cout
        layers = []
        if kernels:
            # the slot: [expand] + convbn + ReLU + BN
            if t != 1:
                layers.append(conv_bn_relu6(cin, hidden, 1))
            layers += [convbn(conv_type, hidden, cout, stride, kernels), ReLU(),
                       nn.BatchNorm2d(cout)]
        else:
            layers += [conv_bn_relu6(cin, hidden, 1),
                       conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
                       nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
                       nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    # (t, c, n, s, kernels); only rows with kernels use the slot
    SETTINGS = ((1, 16, 1, 1, [3, 5, 7]), (6, 24, 2, 2, [3, 5]), (6, 32, 3, 2, []),
                (6, 64, 4, 2, []), (6, 96, 3, 1, []), (6, 160, 3, 2, []), (6, 320, 1, 1, []))

    def __init__(self, conv_type, classes, in_channels, dropout=0.2):
        super().__init__()
        feats = [conv_bn_relu6(in_channels, 32, 3, 1)]
        cin = 32
        for t, c, n, s, kernels in self.SETTINGS:
            for i in range(n):
                feats.append(InvertedResidual(conv_type, cin, c, s if i == 0 else 1, t, kernels))
                cin = c
        feats.append(conv_bn_relu6(cin, 1280, 1))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, classes))
        self._init()

    def _init(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(global_avg_pool(self.features(x)))


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------

def build(model_name, conv_type, classes=10, in_channels=3):
    if conv_type not in CONV_TYPES:
        raise ValueError("unknown conv type %r (expected one of %s)" % (conv_type, ", ".join(CONV_TYPES)))
    if model_name == "resnet20":
        return CifarResNet(conv_type, 3, classes, in_channels)
    if model_name == "resnet50":
        return CifarResNet(conv_type, 8, classes, in_channels)
    if model_name == "se_resnet56":
        return CifarResNet(conv_type, 9, classes, in_channels, se=True)
    if model_name == "shakenet26_2x96d":
        return ShakeResNet(conv_type, classes, in_channels)
    if model_name == "mobilenetv2":
        return MobileNetV2(conv_type, classes, in_channels)
    raise ValueError("unknown model %r (expected one of %s)" % (model_name, ", ".join(MODELS)))


def train_mode(model, dropout=True):
    """model.train(), optionally with dropout off."""
    model.train()
    if not dropout:
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.eval()
    return model


def set_shake(model, alpha=None, beta=None):
    """Fix the shake-shake alpha (forward) and beta (backward) for every sample
    (None: draw them per sample)."""
    for m in model.modules():
        if isinstance(m, ShakeShake):
            m.alpha = alpha
            m.beta = beta
    return model


def has_shake(model):
    return any(isinstance(m, ShakeShake) for m in model.modules())


# --------------------------------------------------------------------------
# --check-keys
# --------------------------------------------------------------------------

def default_reference_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.environ.get("MCGEN_REFERENCE"), "/work/shared/reference",
                 os.path.join(here, "..", "..", "..", "shared", "reference")):
        if cand and os.path.isdir(cand):
            return cand
    return "/work/shared/reference"


def shape_str(t):
    return "x".join(str(d) for d in t.shape) if t.dim() > 0 else "scalar"


def state_dict_rows(model):
    params = {id(p) for p in model.parameters()}
    named_params = dict(model.named_parameters())
    rows = []
    for name, t in model.state_dict(keep_vars=True).items():
        kind = "param" if name in named_params and id(named_params[name]) in params else "buffer"
        rows.append((name, shape_str(t), kind))
    return rows


def check_keys(ref_dir, verbose=False):
    failures = 0
    keys_dir = os.path.join(ref_dir, "state_dict_keys")
    for model_name in MODELS:
        for conv in CONV_TYPES:
            path = os.path.join(keys_dir, "%s_%s.tsv" % (model_name, conv))
            with open(path) as f:
                ref = [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]
            got = state_dict_rows(build(model_name, conv, 10, 3))
            if got == ref:
                print("ok    %-18s %-13s %4d tensors" % (model_name, conv, len(got)))
                continue
            failures += 1
            print("FAIL  %-18s %-13s ours %d tensors, reference %d" % (model_name, conv, len(got), len(ref)))
            shown = 0
            for i in range(max(len(got), len(ref))):
                g = got[i] if i < len(got) else None
                r = ref[i] if i < len(ref) else None
                if g != r:
                    print("      line %d: ours %s, reference %s" % (i + 1, g, r))
                    shown += 1
                    if shown >= 5 and not verbose:
                        print("      ...")
                        break
    # parameter counts and state_dict sizes at every class count in params.tsv
    with open(os.path.join(ref_dir, "params.tsv")) as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip() and not l.startswith("#")]
    header, rows = lines[0], lines[1:]
    col = {h: i for i, h in enumerate(header)}
    bad = 0
    for r in rows:
        m = build(r[col["model"]], r[col["conv"]], int(r[col["classes"]]), 3)
        n = sum(p.numel() for p in m.parameters())
        nt = len(m.state_dict())
        if n != int(r[col["params"]]) or nt != int(r[col["state_dict_tensors"]]):
            bad += 1
            print("FAIL  params %s %s %s: ours %d params / %d tensors, reference %s / %s"
                  % (r[0], r[1], r[2], n, nt, r[col["params"]], r[col["state_dict_tensors"]]))
    print("%s  params.tsv: %d rows, %d differ" % ("ok  " if bad == 0 else "FAIL", len(rows), bad))
    failures += bad
    # the paper's headline parameter counts (10 classes)
    headline = {
        "resnet20": (272474, 166858, 189434, 269848),
        "resnet50": (758554, 443498, 509434, 752188),
        "se_resnet56": (867866, 510922, 585530, 860752),
        "shakenet26_2x96d": (26777546, 16035818, 17565354, 27065290),
        "mobilenetv2": (2283994, 2236330, 2252634, 2284886),
    }
    bad = 0
    for model_name, counts in headline.items():
        for conv, want in zip(CONV_TYPES, counts):
            n = sum(p.numel() for p in build(model_name, conv).parameters())
            if n != want:
                bad += 1
                print("FAIL  SPEC 3 headline %s %s: ours %d, SPEC %d" % (model_name, conv, n, want))
    print("%s  SPEC 3 headline counts: 20, %d differ" % ("ok  " if bad == 0 else "FAIL", bad))
    failures += bad
    print("%s: %d failure(s)" % ("PASS" if failures == 0 else "FAIL", failures))
    return failures


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-keys", action="store_true",
                    help="compare every model x conv type with the reference state_dict keys and params.tsv")
    ap.add_argument("--reference", default=None, help="the reference folder (default: /work/shared/reference)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if not args.check_keys:
        ap.print_help()
        return 0
    ref = args.reference or default_reference_dir()
    if not os.path.isdir(os.path.join(ref, "state_dict_keys")):
        print("error: no state_dict_keys/ under %s (use --reference DIR)" % ref, file=sys.stderr)
        return 2
    return 1 if check_keys(ref, args.verbose) else 0


if __name__ == "__main__":
    sys.exit(main())
