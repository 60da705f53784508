"""One `deepnets.fit` training step against its matrix-product floor, part by part.

The step that `fit` builds for an MLP (co-state recursion, the non-finite guard, Adam's fused
kernel) is taken on one batch of 200, and so are its parts alone on the same tensors: the
forward pass, the terminal condition (softmax cross-entropy's δ(L)), the co-state recursion, the
guard, Adam. The floor is the step's matrix products timed alone with the same shapes: L forward
``addmm``, L weight-gradient ``mm`` and L − 1 co-state ``mm`` (digits 64-w-10: 2 + 3; MNIST-1D
40-100-100-10: 3 + 5). Rounds are interleaved (every part once per round, in turn) and the
figures are medians of CPU time per call (``time.process_time``: fairer than wall time on a
shared, loaded machine), with the 1-minute load average printed beside them.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_step.py [--rounds 15] [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import deepnets
from deepnets.backprop import costate_backward, costate_recursion, forward_layers, terminal_condition
from deepnets.train.loop import Loop
from deepnets.train.setup import setup

JOBS = {"digits 64-100-10": [64, 100, 10], "digits 64-256-10": [64, 256, 10],
        "digits 64-1000-10": [64, 1000, 10], "MNIST-1D 40-100-100-10": [40, 100, 100, 10]}
BATCH = 200


def fit_step(sizes, seed=0):
    """The step `fit` runs (as it builds it), a batch, and the parts' inputs."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1000, sizes[0], generator=g)
    y = torch.randint(0, sizes[-1], (1000,), generator=g)
    net = deepnets.MLP(sizes, activation="relu", output="softmax", seed=seed, init="xavier_bias")
    loop = Loop(**setup(net, (x, y), seed=seed, loss="cross_entropy", optimizer="adam", lr=1e-3, layer_lr=None,
                        optimizer_options=None, batch_size=BATCH, shuffle=True, validation=None, metrics=None,
                        callbacks=(), guard=True, input_noise=0.0, penalty=None, epochs=1, device=None,
                        precision="fp32", channels_last=False, compile=False))
    loop.callbacks.on_train_begin({})
    batch = (x[:BATCH], y[:BATCH])
    step = loop.step_fn
    step(batch, 0)  # the first step creates Adam's state
    return step, batch, net


def parts(sizes):
    """name -> a function doing that part once (the whole step first, the floor last)."""
    step, (x, y), net = fit_step(sizes)
    params = [p.detach() for p in net.flat_params()]
    acts, loss = net.activations, step.loss
    zs = forward_layers(x, params, acts)
    E, lam, dL = terminal_condition(loss, zs[-1], y, acts[-1], validate=False)
    grads = [p.grad for p in net.flat_params()]
    L = len(acts)
    ys = [torch.empty(x.shape[0], m) for m in sizes[1:]]
    lams = [torch.empty(x.shape[0], m) for m in sizes[1:-1]]

    def whole():
        step((x, y), 0)

    def forward():
        forward_layers(x, params, acts)

    def terminal():
        terminal_condition(loss, zs[-1], y, acts[-1], validate=False)

    def recursion():
        costate_recursion(lam, zs, params, acts, delta_L=dL, out=grads)

    def gradients():  # forward, terminal and recursion with their Python glue, as the step calls them
        step.buffered.gradients(x, y)

    def unbuffered():  # the same without the step's buffers (deepnets.backprop.costate_backward)
        costate_backward(net, x, y, loss, validate=False, params=step.params, overwrite=True)

    def guard():
        step.after_backward(0, E)

    def adam():
        step.fused()

    def floor():  # the step's matrix products alone, same shapes, written into preallocated outputs
        for l in range(L):
            torch.addmm(params[2 * l + 1], zs[l], params[2 * l].t(), out=ys[l])
        for l in range(L - 1, -1, -1):
            torch.mm(dL.t() if l == L - 1 else zs[l + 1].t(), zs[l], out=grads[2 * l])
            if l > 0:
                torch.mm(dL if l == L - 1 else zs[l + 1], params[2 * l], out=lams[l - 1])

    with torch.no_grad():
        return {"whole step": whole, "gradients": gradients, "gradients unbuffered": unbuffered,
                "forward": forward, "terminal (CE)": terminal,
                "co-state recursion": recursion, "non-finite guard": guard, "Adam (fused)": adam,
                "matmul floor": floor}


def cpu_us(fn, calls: int) -> float:
    t = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - t) / calls * 1e6


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--jobs", nargs="*", default=list(JOBS))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, batch {BATCH}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; CPU µs per call, median of {args.rounds} interleaved rounds")
    for job in args.jobs:
        fns = parts(JOBS[job])
        for fn in fns.values():
            cpu_us(fn, 20)  # warm
        samples = {k: [] for k in fns}
        for _ in range(args.rounds):
            for k, fn in fns.items():
                samples[k].append(cpu_us(fn, args.calls))
        med = {k: statistics.median(v) for k, v in samples.items()}
        floor = med["matmul floor"]
        print(f"\n{job}  (load {os.getloadavg()[0]:.1f})")
        for k, v in med.items():
            lo, hi = min(samples[k]), max(samples[k])
            print(f"  {k:<20} {v:8.1f} µs  [{lo:.1f}-{hi:.1f}]  {v / floor:5.2f}x floor")
        rest = med["whole step"] - sum(med[k] for k in ("forward", "terminal (CE)", "co-state recursion",
                                                        "non-finite guard", "Adam (fused)"))
        print(f"  {'(step overhead)':<20} {rest:8.1f} µs  (whole step minus its parts)")


if __name__ == "__main__":
    main()
