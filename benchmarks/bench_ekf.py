"""The extended Kalman update before and after it was made in place, side by side in one run.

``old_update`` below is the update as it stood (P ← ½((P − K H P + diag_embed(q)) + (…)ᵀ) with
an explicit inverse, every step); :func:`deepnets.optim.ekf_update` is the in-place form (one
Cholesky of S, one ``baddbmm_`` into P, Q onto its diagonal, symmetrised every 16 updates). Both
get the same P (p0 I plus a rank-20 term), the same H (m rows) and e, float64, one thread; the
timings are interleaved (old, new, old, new, ...) and the medians printed (and the fastest of
each, the least disturbed on a shared machine). Peak memory is the
rise in the peak resident set (VmHWM, reset just before) while one update runs, each in a
fresh subprocess, in units of one
P-sized matrix (k² doubles per group), not counting P itself.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_ekf.py [--reps 5] [--m 10]

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

#: (label, groups B, weights per group k, measured outputs m or None for --m): the global filter at
#: ~100, 1,000 and 5,000 weights, a decoupled one (50 neurons of 100 weights), and the digits
#: table's global filter (64-16-10: 1,210 weights, batches of 8 samples x 10 outputs)
CASES = [("global", 1, 100, None), ("global", 1, 1000, None), ("global", 1, 5000, None), ("neuron", 50, 100, None),
         ("global", 1, 1210, 80)]


def old_update(H, P, e, R, Q):
    """The update as it was before (reference only): returns (dw, P_new), P untouched."""
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


def problem(B: int, k: int, m: int, seed: int = 0):
    """P = I + XᵀX/20 per group (built in place), H (B, m, k), e (m,), q (B, k)."""
    g = torch.Generator().manual_seed(seed)
    P = torch.eye(k, dtype=torch.float64).repeat(B, 1, 1)
    X = torch.randn(B, 20, k, generator=g, dtype=torch.float64)
    P.baddbmm_(X.transpose(1, 2), X, alpha=1 / 20)
    H = torch.randn(B, m, k, generator=g, dtype=torch.float64)
    e = torch.randn(m, generator=g, dtype=torch.float64)
    return H, P, e, torch.full((B, k), 1e-4, dtype=torch.float64)


def status_mib(field: str) -> float:
    """VmRSS or VmHWM (the peak resident set) of this process from /proc, in MiB."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":")) / 1024


def peak(which: str, B: int, k: int, m: int) -> float:
    """(child) the peak RSS rise of one update, in P-sized matrices."""
    torch.set_num_threads(1)
    H, P, e, q = problem(B, k, m)
    ekf_update([H[:, :1, :8]], [P[:, :8, :8].clone()], e[:1], 1.0, [q[:, :8]])  # warm the kernels
    old_update([H[:, :1, :8]], [P[:, :8, :8].clone()], e[:1], torch.eye(1, dtype=torch.float64), [q[:, :8]])
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # the peak resident set restarts from the current one
    before = status_mib("VmRSS")
    if which == "old":
        old_update([H], [P], e, torch.eye(m, dtype=torch.float64), [q])
    else:
        ekf_update([H], [P], e, 1.0, [q])
    rise = status_mib("VmHWM") - before
    return max(rise, 0.0) / (B * k * k * 8 / 2 ** 20)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--m", type=int, default=10, help="measured outputs per update")
    parser.add_argument("--peak", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:
        print(peak(args.peak[0], *map(int, args.peak[1:])))
        return
    torch.set_num_threads(1)
    rows = []
    for label, B, k, m in [(lbl, B, k, m or args.m) for lbl, B, k, m in CASES]:
        H, P, e, q = problem(B, k, m)
        R = torch.eye(m, dtype=torch.float64)
        P_new = P.clone()
        dw = ekf_update([H], [P_new], e, 1.0, [q])[0]
        dw_old, (P_old,) = old_update([H], [P], e, R, [q])
        diff = max(float((dw - dw_old[0]).abs().max()), float((P_new - P_old).abs().max()))
        times = {"old": [], "new": []}
        for _ in range(args.reps):
            t0 = time.perf_counter()
            old_update([H], [P], e, R, [q])
            times["old"].append(time.perf_counter() - t0)
            Pc = P.clone()
            t0 = time.perf_counter()
            ekf_update([H], [Pc], e, 1.0, [q])
            times["new"].append(time.perf_counter() - t0)
            del Pc
        peaks = {w: float(subprocess.run([sys.executable, __file__, "--peak", w, str(B), str(k), str(m)],
                                         capture_output=True, text=True, check=True).stdout)
                 for w in ("old", "new")}
        old_ms, new_ms = (1e3 * statistics.median(times[w]) for w in ("old", "new"))
        old_min, new_min = (1e3 * min(times[w]) for w in ("old", "new"))
        row = dict(decoupling=label, groups=B, weights=B * k, m=m, old_ms=old_ms, new_ms=new_ms,
                   old_min_ms=old_min, new_min_ms=new_min,
                   speedup=old_ms / new_ms, old_peak_P=peaks["old"], new_peak_P=peaks["new"], max_abs_diff=diff)
        rows.append(row)
        print(f"{label:7s} {B * k:5d} weights ({B} x {k}), m={m}: old {old_ms:8.2f} ms  new {new_ms:7.2f} ms  "
              f"x{old_ms / new_ms:5.1f}  (fastest: {old_min:.2f} / {new_min:.2f} ms)   peak extra old {peaks['old']:.2f} P, new {peaks['new']:.2f} P   "
              f"max |diff| {diff:.1e}", flush=True)
    glob = {r["weights"]: r for r in rows if r["decoupling"] == "global" and r["m"] == args.m}
    for w in ("old", "new"):
        print(f"{w}: growth 1,000 -> 5,000 weights x{glob[5000][w + '_ms'] / glob[1000][w + '_ms']:.1f} by the "
              f"medians, x{glob[5000][w + '_min_ms'] / glob[1000][w + '_min_ms']:.1f} by the fastest (the arithmetic: x25)")
    out = os.path.join(os.path.dirname(__file__), "results", f"ekf_update_m{args.m}.json")
    with open(out, "w") as fh:
        json.dump({"machine": "2-core shared CPU, 1 thread", "torch": torch.__version__, "float": "float64",
                   "reps": args.reps, "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
