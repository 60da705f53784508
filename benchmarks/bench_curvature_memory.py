"""Peak memory of the outer-product curvature against the number of samples N (issue #15, point 3).

At ~5,000 weights (a 49-100-1 tanh MLP, LMS, 5,101 weights) each computation runs in a fresh child
process and reports its peak resident memory (``ru_maxrss``: tracemalloc does not see torch's
allocations) above what it held before it started (torch imported, data and model built):

- ``obs``: one Q of OBS (``obs_prune`` removing 5 weights, ``recompute_every=None``);
- ``laplace``: the full Laplace posterior (``Laplace(...).fit``);
- ``ard``: one round of MacKay's re-estimation (``evidence_ard(outer=1, train=False)``).

Each runs at N = 1,000 and 10,000 summed in chunks (the default: a Jacobian chunk of 2²² numbers),
and at the ``--whole-sizes`` also as one chunk of all N samples (``chunk_size=N``: what the code
did before, the whole (N, C, P) Jacobian and its rows alive at once), side by side. Seconds are
printed beside the memory: chunking must not cost time.

    python benchmarks/bench_curvature_memory.py [--what obs,laplace,ard] [--sizes 1000,10000]
        [--whole-sizes 1000] [--out FILE]
    python benchmarks/bench_curvature_memory.py --timing 2000 [--reps 3] --out FILE   (time only)

Measured here (2-core shared CPU, results/curvature_memory.json): peak above the start at N = 1k
→ 10k, chunked: OBS +514 → +533 MiB, Laplace +512 → +530 MiB, ARD +515 → +659 MiB; the whole batch
at N = 10k (results/curvature_memory_laplace_10k.json): Laplace +1,106 MiB, against +654 MiB chunked
in the same run. The chunked peak at 10k varies from run to run (+530 … +659 MiB) with glibc's heap,
not with the arrays: the chunk temporaries are just under glibc's dynamic mmap threshold (32 MiB),
land on the heap and fragment it; with the threshold fixed (``MALLOC_MMAP_THRESHOLD_=1048576``) ARD
at N = 10k peaks at +503 MiB. Timings on this shared machine are noisy (the same child took 26 s
and 145 s on different runs); ``--timing 2000`` interleaves the two in one process: chunked 7.29 s,
whole 7.36 s, ratio 0.99 (medians of 3, results/curvature_time.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

COMPUTATIONS = ("obs", "laplace", "ard")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def child(what: str, N: int, chunk: int | None) -> dict:
    """Run one computation in this (fresh) process; its peak memory above the start, in MiB."""
    import torch
    from torch import nn

    from deepnets.bayes import Laplace, evidence_ard
    from deepnets.prune import obs_prune

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, 49, generator=g, dtype=torch.float64)
    z = torch.tanh(x[:, :3].sum(1, keepdim=True)) + 0.1 * torch.randn(N, 1, generator=g, dtype=torch.float64)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(49, 100), nn.Tanh(), nn.Linear(100, 1)).double()
    P = sum(p.numel() for p in net.parameters())
    before = _rss_mib()
    t0 = time.perf_counter()
    if what == "obs":
        obs_prune(net, x, z, sparsity=5 / P, recompute_every=None, chunk_size=chunk)
    elif what == "laplace":
        Laplace(net, "lms", alpha=1.0, beta=1.0, chunk_size=chunk).fit(x)
    else:
        evidence_ard(net, x, z, outer=1, train=False, chunk_size=chunk)
    seconds = time.perf_counter() - t0
    return {"what": what, "N": N, "chunked": chunk is None, "weights": P,
            "peak_mib": _rss_mib() - before, "seconds": seconds}


def timing(N: int, reps: int) -> dict:
    """Seconds of the full Laplace fit, chunked (default) and whole (chunk_size=N), interleaved A B A B."""
    import statistics

    import torch
    from torch import nn

    from deepnets.bayes import Laplace

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, 49, generator=g, dtype=torch.float64)
    net = nn.Sequential(nn.Linear(49, 100), nn.Tanh(), nn.Linear(100, 1)).double()
    Laplace(net, "lms", chunk_size=None).fit(x[:50])  # warm-up
    got = {"chunked": [], "whole": []}
    for _ in range(reps):
        for name, chunk in (("chunked", None), ("whole", N)):
            t0 = time.perf_counter()
            Laplace(net, "lms", alpha=1.0, chunk_size=chunk).fit(x)
            got[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in got.items()}
    print(f"Laplace fit, N={N}, 5,101 weights, medians of {reps}: chunked {med['chunked']:.2f} s, "
          f"whole {med['whole']:.2f} s, chunked/whole {med['chunked'] / med['whole']:.2f}")
    return {"N": N, "reps": reps, "seconds": got, "median": med}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--what", default=",".join(COMPUTATIONS), help="which computations (comma-separated)")
    ap.add_argument("--whole-sizes", default="1000", help="the N at which the unchunked run is also measured")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "curvature_memory.json"))
    ap.add_argument("--timing", type=int, metavar="N", help="only time chunked against whole (Laplace, N samples)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("WHAT", "N", "CHUNK"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        what, N, chunk = args.child
        print(json.dumps(child(what, int(N), None if chunk == "auto" else int(chunk))))
        return
    if args.timing:
        out = timing(args.timing, args.reps)
        with open(args.out, "w") as f:
            json.dump({"machine": "2-core shared CPU, 1 thread", "timing": out}, f, indent=1)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    whole = [int(s) for s in args.whole_sizes.split(",") if s]
    todo = [w for w in args.what.split(",") if w]
    if set(todo) - set(COMPUTATIONS):
        raise SystemExit(f"--what takes {', '.join(COMPUTATIONS)}; got {args.what}")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rows = []
    for what in todo:
        for N in sizes:
            for chunk in ("auto", str(N))[:2 if N in whole else 1]:  # chunked, then whole, side by side
                out = subprocess.run([sys.executable, __file__, "--child", what, str(N), chunk], env=env,
                                     capture_output=True, text=True, check=True).stdout
                rows.append(json.loads(out.strip().splitlines()[-1]))
                r = rows[-1]
                print(f"{what:8s} N={N:6d} {'chunked' if r['chunked'] else 'whole  '} "
                      f"peak +{r['peak_mib']:7.0f} MiB  {r['seconds']:6.1f} s", flush=True)
    lo, hi = min(sizes), max(sizes)
    for what in todo:
        got = {(r["N"], r["chunked"]): r for r in rows if r["what"] == what}
        line = f"{what}: chunked peak x{got[hi, True]['peak_mib'] / got[lo, True]['peak_mib']:.2f} from N={lo} to N={hi}"
        for N in whole:
            line += (f"; at N={N} whole/chunked peak x{got[N, False]['peak_mib'] / got[N, True]['peak_mib']:.2f},"
                     f" time x{got[N, False]['seconds'] / got[N, True]['seconds']:.2f}")
        print(line)
    with open(args.out, "w") as f:
        json.dump({"machine": "2-core shared CPU, 1 thread", "rows": rows}, f, indent=1)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
