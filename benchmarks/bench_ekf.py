"""The extended Kalman update as it was twice before and as it is, side by side in one run.

Three updates of the same covariance over the same sequence of measurements:

* ``old``: P ← ½((P − K H P + diag_embed(q)) + (…)ᵀ) with an explicit inverse, P rebuilt every
  update (``old_update`` below, reference only);
* ``inplace``: one Cholesky of S, one ``baddbmm_`` downdate of the whole of P, Q onto its
  diagonal, the whole of P symmetrised every 16 updates (``inplace_update`` below, the update as
  it stood until the banded one replaced it);
* ``new``: :func:`deepnets.optim.ekf_update` -- P kept as its upper triangle in bands of rows and
  each downdate deferred to the next update's pass over P (diagonal blocks symmetrised every 16).

Each gets the same P (I plus a rank-20 term), the same H (m rows) and e, float64, one thread, and
runs ``--steps`` consecutive updates (16: one symmetrisation each) after one untimed update; the
time per update is the sequence's divided by its length, both wall-clock and the CPU time of this
thread (``time.thread_time``: on a shared machine a long update is time-sliced, the CPU time is
not). Repetitions are interleaved (old, inplace, new, old, ...); medians and the fastest are kept.
Peak memory is the rise in the peak resident set (VmHWM, reset just before) while one update runs
(after one untimed update), each in a fresh subprocess, in P-sized matrices (k² doubles per
group), not counting P itself.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_ekf.py [--reps 3] [--m 10] [--steps 16]

Writes benchmarks/results/ekf_update_m{M}.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

from deepnets.optim import ekf_update
from deepnets.optim.kalman_update import covariance, symmetrise_

#: (label, groups B, weights per group k, measured outputs m or None for --m): the global filter at
#: ~100, 1,000 and 5,000 weights, a decoupled one (50 neurons of 100 weights), and the digits
#: table's global filter (64-16-10: 1,210 weights, batches of 8 samples x 10 outputs)
CASES = [("global", 1, 100, None), ("global", 1, 1000, None), ("global", 1, 5000, None), ("neuron", 50, 100, None),
         ("global", 1, 1210, 80)]
WHICH = ("old", "inplace", "new")


def old_update(H, P, e, R, Q):
    """The first update (reference only): returns (dw, P_new), P untouched."""
    HP = [torch.bmm(h, p) for h, p in zip(H, P)]
    S = R.clone()
    for h, hp in zip(H, HP):
        S = S + torch.einsum("bmk,bnk->mn", hp, h)
    A = torch.linalg.inv(S)
    A = 0.5 * (A + A.T)
    dw, P_new = [], []
    for hp, p, q in zip(HP, P, Q):
        K = torch.einsum("bmk,mn->bkn", hp, A)
        dw.append(torch.einsum("bkm,m->bk", K, e))
        p = p - torch.bmm(K, hp) + torch.diag_embed(q)
        P_new.append(0.5 * (p + p.transpose(1, 2)))
    return dw, P_new


def inplace_update(H, P, e, r, q):
    """The second update (reference only): P ← P − Gᵀ G + diag q in place on the whole of P."""
    m = e.numel()
    HP = [torch.bmm(h, p) for h, p in zip(H, P)]
    S = torch.zeros(m, m, dtype=e.dtype)
    for h, hp in zip(H, HP):
        B, _, k = h.shape
        S.addmm_(hp.transpose(0, 1).reshape(m, B * k), h.transpose(0, 1).reshape(m, B * k).T)
    S.diagonal().add_(r)
    L = torch.linalg.cholesky(S)
    v = torch.linalg.solve_triangular(L, e.unsqueeze(1), upper=False)
    dw = []
    for i, (hp, p) in enumerate(zip(HP, P)):
        B, _, k = hp.shape
        G = torch.linalg.solve_triangular(L, hp.transpose(0, 1).reshape(m, B * k), upper=False)
        G = G.reshape(m, B, k).transpose(0, 1)
        dw.append(torch.einsum("bmk,m->bk", G, v[:, 0]))
        p.baddbmm_(G.transpose(1, 2), G, alpha=-1.0)
        p.diagonal(dim1=1, dim2=2).add_(q[i])
    return dw


class Filter:
    """One of the three updates with its covariance state, run over the measurement sequence."""

    def __init__(self, which, P, q):
        self.which, self.P, self.q, self.U, self.n = which, P.clone(), q, None, 0

    def update(self, H, e):
        self.n += 1
        if self.which == "old":
            dw, (self.P,) = old_update([H], [self.P], e, torch.eye(e.numel(), dtype=e.dtype), [self.q])
        elif self.which == "inplace":
            dw = inplace_update([H], [self.P], e, 1.0, [self.q])
            if self.n % 16 == 0:
                symmetrise_(self.P)
        else:
            dw, self.U = ekf_update([H], [self.P], e, 1.0, [self.q], self.U)
        return dw[0]

    def covariance(self):
        return covariance(self.P, self.U[0]) if self.which == "new" else self.P


def problem(B: int, k: int, m: int, steps: int, seed: int = 0):
    """P = I + XᵀX/20 per group (built in place), ``steps`` pairs H (B, m, k), e (m,); q (B, k)."""
    g = torch.Generator().manual_seed(seed)
    P = torch.eye(k, dtype=torch.float64).repeat(B, 1, 1)
    X = torch.randn(B, 20, k, generator=g, dtype=torch.float64)
    P.baddbmm_(X.transpose(1, 2), X, alpha=1 / 20)
    seq = [(torch.randn(B, m, k, generator=g, dtype=torch.float64), torch.randn(m, generator=g, dtype=torch.float64))
           for _ in range(steps)]
    return P, seq, torch.full((B, k), 1e-4, dtype=torch.float64)


def status_mib(field: str) -> float:
    """VmRSS or VmHWM (the peak resident set) of this process from /proc, in MiB."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":")) / 1024


def peak(which: str, B: int, k: int, m: int) -> float:
    """(child) the peak RSS rise of one update, in P-sized matrices (the new one given a deferred
    downdate, as in its steady state)."""
    torch.set_num_threads(1)
    small = Filter(which, torch.eye(8, dtype=torch.float64)[None], torch.zeros(1, 8, dtype=torch.float64))
    small.update(torch.ones(1, 1, 8, dtype=torch.float64), torch.ones(1, dtype=torch.float64))  # warm the kernels
    P, seq, q = problem(B, k, m, 2)
    f = Filter(which, P, q)
    del P
    if which == "new":
        f.U = [torch.zeros(B, k, m, dtype=torch.float64)]
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # the peak resident set restarts from the current one
    before = status_mib("VmRSS")
    f.update(*seq[1])
    rise = status_mib("VmHWM") - before
    return max(rise, 0.0) / (B * k * k * 8 / 2 ** 20)


def time_case(B, k, m, steps, reps):
    """Per update, ms: {which: {"wall": [...], "cpu": [...]}}, and the largest difference from the
    old update's weight changes and final covariance."""
    P, seq, q = problem(B, k, m, steps + 1)
    times = {w: {"wall": [], "cpu": []} for w in WHICH}
    diff = 0.0
    for rep in range(reps):
        dws, covs = {}, {}
        for which in WHICH:
            f = Filter(which, P, q)
            f.update(*seq[0])  # untimed: the new update's first pass has no deferred downdate
            got = []
            t0, c0 = time.perf_counter(), time.thread_time()
            for H, e in seq[1:]:
                got.append(f.update(H, e))
            times[which]["wall"].append(1e3 * (time.perf_counter() - t0) / steps)
            times[which]["cpu"].append(1e3 * (time.thread_time() - c0) / steps)
            if rep == 0:
                dws[which], covs[which] = got, f.covariance()
            del f
        if rep == 0:
            for which in ("inplace", "new"):
                diff = max([diff, float((covs[which] - covs["old"]).abs().max())] +
                           [float((a - b).abs().max()) for a, b in zip(dws[which], dws["old"])])
            del dws, covs
    return times, diff


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--m", type=int, default=10, help="measured outputs per update")
    parser.add_argument("--steps", type=int, default=16, help="timed updates in a row")
    parser.add_argument("--peak", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:
        print(peak(args.peak[0], *map(int, args.peak[1:])))
        return
    torch.set_num_threads(1)
    load = [os.getloadavg()[0]]
    rows = []
    for label, B, k, m in [(lbl, B, k, m or args.m) for lbl, B, k, m in CASES]:
        times, diff = time_case(B, k, m, args.steps, args.reps)
        peaks = {w: float(subprocess.run([sys.executable, __file__, "--peak", w, str(B), str(k), str(m)],
                                         capture_output=True, text=True, check=True).stdout) for w in WHICH}
        load.append(os.getloadavg()[0])
        row = dict(decoupling=label, groups=B, weights=B * k, m=m, max_abs_diff=diff)
        for w in WHICH:
            for kind in ("wall", "cpu"):
                row[f"{w}_{kind}_ms"] = statistics.median(times[w][kind])
                row[f"{w}_{kind}_min_ms"] = min(times[w][kind])
            row[f"{w}_peak_P"] = peaks[w]
        rows.append(row)
        print(f"{label:7s} {B * k:5d} weights ({B} x {k}), m={m}: per update, CPU ms (wall ms) "
              + "  ".join(f"{w} {row[w + '_cpu_ms']:.2f} ({row[w + '_wall_ms']:.2f})" for w in WHICH)
              + f"   new faster x{row['old_cpu_ms'] / row['new_cpu_ms']:.1f} than old, "
              f"x{row['inplace_cpu_ms'] / row['new_cpu_ms']:.1f} than inplace;   peak extra "
              + ", ".join(f"{w} {peaks[w]:.2f} P" for w in WHICH) + f";   max |diff| {diff:.1e}", flush=True)
    glob = {r["weights"]: r for r in rows if r["decoupling"] == "global" and r["m"] == args.m}
    growth = {}
    for w in WHICH:
        growth[w] = {kind: glob[5000][f"{w}_{kind}_ms"] / glob[1000][f"{w}_{kind}_ms"] for kind in ("cpu", "wall")}
        print(f"{w}: growth 1,000 -> 5,000 weights x{growth[w]['cpu']:.1f} in CPU time, x{growth[w]['wall']:.1f} "
              f"wall-clock (medians; the arithmetic: x25)")
    print(f"load average (1 min) through the run: {min(load):.1f} to {max(load):.1f}")
    out = os.path.join(os.path.dirname(__file__), "results", f"ekf_update_m{args.m}.json")
    with open(out, "w") as fh:
        json.dump({"machine": "2-core shared CPU (AMD EPYC, 32 MB L3), 1 thread", "torch": torch.__version__,
                   "float": "float64", "reps": args.reps, "steps": args.steps,
                   "load_average_1min": [round(x, 2) for x in load], "growth_1000_to_5000": growth,
                   "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
