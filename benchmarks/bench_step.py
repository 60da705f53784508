"""One `deepnets.fit` training step against its matrix-product floor, part by part.

The step that `fit` builds for an MLP (the co-state recursion as one Numba call where
``deepnets.train.costate_whole`` takes the net, the non-finite guard, Adam's fused kernel) is
taken on one batch of 200, beside the same step with torch's GEMMs and a Numba pass between
them (``costate_fused``: what nets wider than ``costate_whole.MAX_WIDTH`` take, and every net
before the one-call kernel) and beside the torch path (``DEEPNETS_NO_NUMBA=1``). Its parts are
timed alone on the same tensors: the gradients as the step calls them (the kernel with its Python
glue), the one-call kernel itself, the guard, Adam. The floor is the step's matrix products timed
alone with the same shapes, in the forms the step computes them, through torch (MKL): L forward
``addmm``, L weight-gradient ``mm`` and L − 1 co-state ``mm`` (digits 64-w-10: 2 + 3; MNIST-1D
40-100-100-10: 3 + 5), feature-major as the fused step keeps its layers: ŷ(l)ᵀ = W(l) ẑ(l−1)ᵀ +
b(l), (M(l), N); beside it the same products as the kernel runs them (``np.dot`` in one Numba
call: SciPy's OpenBLAS). Rounds are interleaved (every part once per round, in turn); the figures
are medians [min-max] of CPU time per call (``time.process_time``: fairer than wall time on a
shared, loaded machine) and each part's ratio to the floor is the median of its per-round ratios
(a busy neighbour slows a round's parts alike), with the 1-minute load average printed beside
them. The kernels are compiled (or loaded) before any timing.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_step.py [--rounds 21] [--calls 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import deepnets
from deepnets.train import costate_whole
from deepnets.train.loop import Loop
from deepnets.train.setup import setup

JOBS = {"digits 64-100-10": [64, 100, 10], "digits 64-256-10": [64, 256, 10],
        "digits 64-1000-10": [64, 1000, 10], "MNIST-1D 40-100-100-10": [40, 100, 100, 10]}
BATCH = 200


def fit_step(sizes, seed=0, numba: bool = True, whole: bool = True):
    """The step `fit` runs (as it builds it), a batch, and the parts' inputs; ``numba=False``
    builds it with DEEPNETS_NO_NUMBA=1 (the torch path, as before the fused kernels; so is the
    other where the environment sets it); ``whole=False``: the fused step with torch's GEMMs."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1000, sizes[0], generator=g)
    y = torch.randint(0, sizes[-1], (1000,), generator=g)
    net = deepnets.MLP(sizes, activation="relu", output="softmax", seed=seed, init="xavier_bias")
    was, width = os.environ.get("DEEPNETS_NO_NUMBA"), costate_whole.MAX_WIDTH
    if not numba:
        os.environ["DEEPNETS_NO_NUMBA"] = "1"
    if not whole:
        costate_whole.MAX_WIDTH = 0
    try:
        loop = Loop(**setup(net, (x, y), seed=seed, loss="cross_entropy", optimizer="adam", lr=1e-3, layer_lr=None,
                            optimizer_options=None, batch_size=BATCH, shuffle=True, validation=None, metrics=None,
                            callbacks=(), guard=True, input_noise=0.0, penalty=None, epochs=1, device=None,
                            precision="fp32", channels_last=False, compile=False))
        loop.callbacks.on_train_begin({})
        batch = (x[:BATCH], y[:BATCH])
        step = loop.step_fn
        step(batch, 0)  # the first step creates Adam's state and the plan (and compiles or loads the kernels)
    finally:
        costate_whole.MAX_WIDTH = width
        if was is None:
            os.environ.pop("DEEPNETS_NO_NUMBA", None)
        else:
            os.environ["DEEPNETS_NO_NUMBA"] = was
    return step, batch, net


def _openblas_products():
    """The step's GEMMs as the kernel runs them, ``np.dot`` in one Numba call (SciPy's OpenBLAS)."""
    import numba
    import numpy as np

    @numba.njit
    def products(x, Ws, Wg, zs, lams):
        L = len(Ws)
        np.dot(Ws[0], x.T, zs[0])
        for l in range(1, L):
            np.dot(Ws[l], zs[l - 1], zs[l])
        for l in range(L - 1, 0, -1):
            np.dot(lams[l], zs[l - 1].T, Wg[l])
            np.dot(Ws[l].T, lams[l], lams[l - 1])
        np.dot(lams[0], x, Wg[0])
    return products


def parts(sizes):
    """name -> a function doing that part once (the whole step first, the floors last)."""
    step, (x, y), net = fit_step(sizes)
    fused_step, _, _ = fit_step(sizes, whole=False)
    torch_step, _, _ = fit_step(sizes, numba=False)
    params = [p.detach() for p in net.flat_params()]
    buffered = step.buffered
    if buffered.fused is None:
        raise SystemExit("bench_step times the fused step beside the torch path: run it without DEEPNETS_NO_NUMBA")
    whole = buffered.whole_plan(x)
    L = len(net.activations)
    grads = [p.grad for p in net.flat_params()]
    ys = [torch.empty(m, x.shape[0]) for m in sizes[1:]]
    lams = [torch.empty(m, x.shape[0]) for m in sizes[1:-1]]
    E = torch.tensor(1.0)
    fns = {"whole step": lambda: step((x, y), 0),
           "step, torch GEMMs": lambda: fused_step((x, y), 0),
           "step, torch path": lambda: torch_step((x, y), 0),
           "gradients": lambda: buffered.gradients(x, y)}  # the kernel (or the fused step) with its Python glue
    if whole is not None:
        fns["one-call kernel"] = lambda: whole.run(x, y)
    fns["non-finite guard"] = lambda: step.after_backward(0, E)
    fns["Adam (fused)"] = step.fused

    def floor():  # the step's matrix products alone, in the step's forms, into preallocated outputs
        for l in range(L):  # (M(l), N) = W(l) ẑ(l−1)ᵀ + b(l)
            torch.addmm(params[2 * l + 1].unsqueeze(1), params[2 * l], ys[l - 1] if l else x.t(), out=ys[l])
        for l in range(L - 1, -1, -1):  # (M(l), M(l−1)) = δᵀ ẑ(l−1), then (M(l−1), N) = W(l)ᵀ δᵀ
            torch.mm(ys[l], ys[l - 1].t() if l else x, out=grads[2 * l])
            if l > 0:
                torch.mm(params[2 * l].t(), ys[l], out=lams[l - 1])

    fns["matmul floor"] = floor
    if whole is not None:
        products, xa = _openblas_products(), x.numpy()
        Ws, _ = whole.param_views()
        fns["matmul floor, OpenBLAS"] = lambda: products(xa, Ws, whole.Wg, whole.zs, whole.lams)
    with torch.no_grad():
        return fns


def cpu_us(fn, calls: int) -> float:
    t = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - t) / calls * 1e6


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--jobs", nargs="*", default=list(JOBS))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, batch {BATCH}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; CPU µs per call, median [min-max] of {args.rounds} "
          f"interleaved rounds; ratios to the floor are medians of the per-round ratios")
    for job in args.jobs:
        fns = parts(JOBS[job])
        for fn in fns.values():
            cpu_us(fn, 20)  # warm
        samples = {k: [] for k in fns}
        for _ in range(args.rounds):
            for k, fn in fns.items():
                samples[k].append(cpu_us(fn, args.calls))
        floor = samples["matmul floor"]
        print(f"\n{job}  (load {os.getloadavg()[0]:.1f})")
        for k, v in samples.items():
            r = [a / b for a, b in zip(v, floor)]
            print(f"  {k:<26} {statistics.median(v):8.1f} µs  [{min(v):.1f}-{max(v):.1f}]  "
                  f"{statistics.median(r):5.2f}x floor [{min(r):.2f}-{max(r):.2f}]")
        med = {k: statistics.median(v) for k, v in samples.items()}
        rest = med["whole step"] - med["gradients"] - med["non-finite guard"] - med["Adam (fused)"]
        if "one-call kernel" in med:
            glue = med["gradients"] - med["one-call kernel"]
            passes = med["one-call kernel"] - med["matmul floor, OpenBLAS"]
            print(f"  {'(kernel beyond its GEMMs)':<26} {passes:8.1f} µs  (one-call kernel minus its products in OpenBLAS)")
            print(f"  {'(the kernel call glue)':<26} {glue:8.1f} µs  (gradients minus the one-call kernel)")
        else:
            print(f"  (wider than costate_whole.MAX_WIDTH = {costate_whole.MAX_WIDTH}: the step is the fused one, torch's GEMMs)")
        print(f"  {'(step overhead)':<26} {rest:8.1f} µs  (whole step minus gradients, guard and Adam)")


if __name__ == "__main__":
    main()
