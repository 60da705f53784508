"""Depth against width on n-bit parity: weights of hand-set nets, and what gradient descent finds.

The lecture (Håstad 1987): a circuit with k layers may need exponentially more nodes with k − 1
layers, parity being the example, so a deep net may need far fewer weights than a shallow one.

Hand-set (``deepnets.zoo.parity_net``, each checked here on all 2ⁿ patterns): the depth-2 AND/OR
circuit (one hidden unit per odd pattern, 2ⁿ⁻¹ units), one hidden layer of n ReLU units of the bit
count ((n + 1)² weights), and ⌈log₂ n⌉ tent layers of 2 ReLU units (2n + 6⌈log₂ n⌉ − 1 weights).

Trained (full batch, Adam, cross-entropy on a logistic output, the 2ⁿ patterns as given in
{0, 1}; each architecture from R random starts of the library's MLP initialisation, seeds
0..R−1): one hidden tanh layer of every width h = 1..2n (h(n + 2) + 1 weights), and deep nets
with the hand-set deep net's layer sizes [n, 2, …, 2, 1] (ReLU and tanh) and twice its width.
A start succeeds when the net classifies all 2ⁿ patterns right after the last epoch. The starts
of one architecture train side by side as one batched model (a bmm per layer); Adam's update is
elementwise, so each start follows exactly the path it would alone, and an architecture of
width h < H is the first h units of a width-H net with the rest held at zero.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/parity_depth.py [--bits 4 5 6 7 8 --starts 16]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

from deepnets import MLP
from deepnets.data import load_dataset
from deepnets.zoo import parity_net, parity_weight_count

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def stacked(sizes, activation: str, seeds, width_of=None):
    """Weights (R, M(l−1), M(l)) and biases (R, 1, M(l)) of MLP(sizes, seed=s) for each start s;
    with ``width_of[r]``, start r's net has only that many hidden units (one hidden layer),
    embedded in ``sizes`` with zeros, and a mask (R, 1, H) that keeps the rest at zero."""
    Ws, bs = [], []
    for r, seed in enumerate(seeds):
        own = list(sizes) if width_of is None else [sizes[0], width_of[r], sizes[-1]]
        net = MLP(own, activation=activation, output="logistic", seed=seed)
        for l, layer in enumerate(net.layers):
            W = torch.zeros(sizes[l], sizes[l + 1])
            b = torch.zeros(1, sizes[l + 1])
            W[:own[l], :own[l + 1]] = layer.weight.detach().T
            b[0, :own[l + 1]] = layer.bias.detach()
            if r == 0:
                Ws.append([]), bs.append([])
            Ws[l].append(W), bs[l].append(b)
    Ws = [torch.stack(w).requires_grad_() for w in Ws]
    bs = [torch.stack(b).requires_grad_() for b in bs]
    mask = None
    if width_of is not None:
        mask = (torch.arange(sizes[1]) < torch.tensor(width_of).unsqueeze(1)).float().unsqueeze(1)  # (R, 1, H)
    return Ws, bs, mask


def train_starts(x, y, Ws, bs, activation: str, *, mask=None, epochs: int, lr: float) -> torch.Tensor:
    """Train every start (the leading dimension) by full-batch Adam; True where all patterns come out right."""
    g = ACTIVATIONS[activation]
    X = x.expand(Ws[0].shape[0], *x.shape)                       # (R, N, n)
    target = y.expand(Ws[0].shape[0], -1)                         # (R, N)

    def logits():
        z = X
        for l, (W, b) in enumerate(zip(Ws, bs)):
            z = torch.baddbmm(b, z, W)                            # (R, N, M(l))
            if l < len(Ws) - 1:
                z = g(z) if mask is None or l > 0 else g(z) * mask
        return z[..., 0]                                          # (R, N)

    opt = torch.optim.Adam([*Ws, *bs], lr=lr)
    for _ in range(epochs):
        # the sum over starts of each start's mean cross-entropy: independent gradients
        E = F.binary_cross_entropy_with_logits(logits(), target, reduction="none").mean(1).sum()
        opt.zero_grad(set_to_none=False)
        E.backward()
        opt.step()
    with torch.no_grad():
        return ((logits() > 0).float() == target).all(1)


def run_bits(n: int, starts: int, epochs: int, lr: float) -> dict:
    data = load_dataset("parity", n_bits=n)
    x, y = data.x.float(), data.y.float()
    handset = {}
    for kind in ("dnf", "shallow", "deep"):
        if kind == "dnf" and n > 12:
            continue
        with torch.no_grad():
            exact = bool(torch.equal(parity_net(n, kind)(x)[:, 0], y))
        handset[kind] = {"weights": parity_weight_count(n, kind), "exact": exact}
    seeds = range(starts)
    widths = list(range(1, 2 * n + 1))
    t0 = time.perf_counter()
    width_of = [h for h in widths for _ in seeds]
    Ws, bs, mask = stacked([n, widths[-1], 1], "tanh", [s for _ in widths for s in seeds], width_of)
    ok = train_starts(x, y, Ws, bs, "tanh", mask=mask, epochs=epochs, lr=lr).reshape(len(widths), starts)
    shallow = {h: {"weights": h * (n + 2) + 1, "successes": int(ok[i].sum())} for i, h in enumerate(widths)}
    k = max(1, math.ceil(math.log2(n)))
    deep = {}
    for name, width, act in (("relu_w2", 2, "relu"), ("tanh_w2", 2, "tanh"), ("tanh_w4", 4, "tanh")):
        sizes = [n] + [width] * k + [1]
        Ws, bs, _ = stacked(sizes, act, seeds)
        ok = train_starts(x, y, Ws, bs, act, epochs=epochs, lr=lr)
        deep[name] = {"sizes": sizes, "weights": sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])),
                      "successes": int(ok.sum())}
    return {"n": n, "handset": handset, "shallow": shallow, "deep": deep, "starts": starts,
            "seconds": time.perf_counter() - t0}


def table(rows: list[dict]) -> str:
    out = ["| n | hand-set: AND/OR circuit | hand-set: 1 layer of n ReLU | hand-set: deep 2×⌈log₂ n⌉ ReLU | "
           "trained 1 layer (tanh): narrowest that learnt | at width n | at width 2n | "
           "trained deep, hand-set sizes, ReLU | same, tanh | deep, width 4, tanh |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        n, R, hs, sh = r["n"], r["starts"], r["handset"], r["shallow"]
        cell = [f"{v['weights']} w{'' if v['exact'] else ' (NOT exact)'}" if v else "—"
                for v in (hs.get("dnf"), hs["shallow"], hs["deep"])]
        learnt = [h for h, v in sh.items() if v["successes"] > 0]
        first = (f"h = {learnt[0]}: {sh[learnt[0]]['weights']} w, {sh[learnt[0]]['successes']}/{R}"
                 if learnt else f"none up to h = {2 * n}")
        at = [f"{sh[h]['weights']} w, {sh[h]['successes']}/{R}" for h in (n, 2 * n)]
        deep = [f"{v['weights']} w, {v['successes']}/{R}" for v in r["deep"].values()]
        out.append(f"| {n} | " + " | ".join(cell + [first] + at + deep) + " |")
    return "\n".join(out)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bits", type=int, nargs="+", default=[4, 5, 6, 7, 8])
    p.add_argument("--starts", type=int, default=16, help="random starts per architecture")
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--out", default=RESULTS)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for n in a.bits:
        rows.append(run_bits(n, a.starts, a.epochs, a.lr))
        print(f"n = {n}: {rows[-1]['seconds']:.0f} s", flush=True)
    text = table(rows)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "parity_depth.json"), "w", encoding="utf-8") as fh:
        json.dump({"settings": vars(a), "torch": torch.__version__, "results": rows}, fh, indent=1)
    with open(os.path.join(a.out, "parity_depth.md"), "w", encoding="utf-8") as fh:
        fh.write(f"`python benchmarks/parity_depth.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
                 f" (torch {torch.__version__}, 1 CPU thread; w = weights and biases, k/R = starts that"
                 " learnt all 2ⁿ patterns)\n\n" + text + "\n")
    print(text)


if __name__ == "__main__":
    main()
