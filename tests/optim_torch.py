#!/usr/bin/python3
"""optim_torch.py OPTIM_CHECK: the runtime's SGD (Nesterov) and AdamW against
torch.optim.SGD(nesterov=True) and torch.optim.AdamW, three steps on the
same parameters and gradients as tests/optim_check.c (the parameter that
is never updated must stay as it was). Exit 77 without torch."""
import math, subprocess, sys

try:
    import torch
except ImportError:
    print("SKIP: no torch")
    sys.exit(77)

exe = sys.argv[1]
for name in ("sgd", "adamw"):
    out = subprocess.run([exe, name], check=True, capture_output=True, text=True).stdout.split("\n")
    ours = [[float(x) for x in line.split()] for line in out if line]
    p = torch.tensor([math.sin(1.0 + k) for k in range(7)], dtype=torch.float32, requires_grad=True)
    frozen = [math.sin(1.0 + k) for k in range(7, 10)]
    if name == "sgd":
        opt = torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=2e-4)
    else:
        opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=1e-2)  # PyTorch's betas and eps
    for step in range(3):
        g = [math.cos(0.7 * k + step) * (1.0 if k % 3 else 1e-3) for k in range(7)]
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        want = p.detach().tolist()
        got = ours[step]
        err = max(abs(a - b) for a, b in zip(got[:7], want))
        if err > 1e-6 or any(abs(a - b) > 1e-7 for a, b in zip(got[7:], frozen)):
            print(f"FAIL: {name} step {step + 1}: ours {got}\n  torch {want} + {frozen} (max difference {err:.3g})")
            sys.exit(1)
        print(f"{name} step {step + 1}: max |ours - torch| = {err:.3g}")
print("ok")
