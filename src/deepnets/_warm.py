"""Compile the Numba kernels of the everyday training paths ahead of their first use.

Numba compiles a kernel at its first call and keeps it in its cache on disk
(:mod:`deepnets._numba`); the one-call co-state step takes ~5 s to compile for each terminal
condition and dtype. ``make install`` runs ``python -m deepnets._warm``, which makes those first
calls on tiny nets (two epochs of a few samples: the one-call step for softmax, logistic and
identity outputs in float32 and float64, with a weight penalty; the fused step with torch's GEMMs
on a wider net; Adam's kernel; the LSTM's inference loop), so that a first ``deepnets train`` and
a first ``make test`` load compiled kernels instead of compiling them, as a package with C
extensions compiles them when it is installed. It trains nothing that is kept and writes nothing
but Numba's cache; under ``DEEPNETS_NO_NUMBA=1`` it does nothing.
"""

from __future__ import annotations

import time
import warnings

import torch

from . import _numba


def _fits() -> None:
    from . import MLP, fit
    from .nn.recurrent import LSTM
    from .regularizers import WeightElimination
    from .train.costate_whole import MAX_WIDTH

    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(12, 4, generator=g, dtype=dtype)
        targets = {"softmax": (torch.randint(0, 3, (12,), generator=g), "cross_entropy", 3),
                   "logistic": ((torch.rand(12, 1, generator=g) > 0.5).to(dtype), "cross_entropy", 1),
                   "linear": (torch.randn(12, 2, generator=g, dtype=dtype), "lms", 2)}
        for out, (y, loss, n_out) in targets.items():
            # wider than MAX_WIDTH: the step with torch's GEMMs and its fused kernels
            for width, penalty in ((5, None), (5, WeightElimination(1e-3)), (MAX_WIDTH + 1, None)):
                net = MLP([4, width, n_out], activation="relu", output=out, seed=0, dtype=dtype)
                fit(net, (x, y), loss=loss, optimizer="adam", epochs=2, batch_size=6, penalty=penalty, seed=0)
        lstm = LSTM(3, 4).to(dtype)
        with torch.no_grad():
            lstm(torch.randn(5, 2, 3, generator=g, dtype=dtype))


def main() -> int:
    """Compile (or load) the kernels; print how long it took."""
    if not _numba.available():
        print("deepnets: Numba is off (DEEPNETS_NO_NUMBA): nothing to compile")
        return 0
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (few examples for the weights: these nets train nothing)
        _fits()
    print(f"deepnets: Numba kernels compiled or loaded in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover - `python -m deepnets._warm`
    raise SystemExit(main())
