"""ARD by MacKay's re-estimation beside ARD by gradient on the log evidence and on the lecture's
l(α, β), with and without Gamma hyper-priors, on a MacKay-style synthetic problem and on diabetes.

One process, interleaved (every method for seed 0, then every method for seed 1, ...), each run
from the same initial tanh MLP (seed s) with α = 0.01 for every group, ``--rounds`` rounds of
(MAP re-fit by ≤ 200 L-BFGS iterations, then re-estimation or ≤ 50 L-BFGS iterations on θ).

    python benchmarks/bench_ard.py [--seeds 3] [--rounds 12] [--threads 1] [--out benchmarks/results/ard.json]

Problems (inputs and targets standardised on the training part):

- ``synthetic``: z = 0.5 x0 + sin(2 x1) + 0.1 ε with x0..x4 ~ N(0, 1); x2, x3, x4 carry nothing.
  60 training and 1,000 test points (new draws per seed); MLP 5-5-1.
- ``diabetes``: scikit-learn's (442 patients, 10 inputs), 70/30 split by seed; MLP 10-5-1.

Methods (``--hyper`` on α ~ Ga(a, b), β ~ Ga(c, d), the lecture's densities on α and β):

- ``mackay``: :func:`deepnets.bayes.evidence_ard` (no hyper-prior); ``mackay+hp``: with a=c=2, b=d=1e-3.
- ``evidence``, ``evidence+hp``: :func:`deepnets.bayes.gradient_ard`, ``objective="evidence"``.
- ``lecture``, ``lecture+hp``: the same on the slide's l(α, β).

Per run: test RMSE (standardised units) of the weights ARD leaves, wall time, and per input the
relevance 1/α, γ and the sensitivity (RMS ∂f/∂x_j). On ``synthetic`` a measure "separates" when
every relevant input (x0, x1) scores above every noise input; ``agree`` is Spearman's ρ between the
method's ln α over the inputs and mackay's; ``−ln p(z)`` is the Laplace log evidence (no hyper-prior
terms) of the state a method ended in, and "above mackay's" counts the seeds where its evidence is higher.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from deepnets import MLP
from deepnets.bayes import evidence_ard, gradient_ard, input_sensitivity
from deepnets.bayes.ard_objective import ard_objective, linearise
from deepnets.bayes.evidence import ard_groups
from deepnets.errors import DeepnetsError
from _threads import limit_threads

HP = dict(a=2.0, b=1e-3, c=2.0, d=1e-3)  # the lecture's Gamma hyper-priors on α and β
METHODS = {
    "mackay": lambda net, x, z, R: evidence_ard(net, x, z, alpha=0.01, outer=R, inner=200),
    "mackay+hp": lambda net, x, z, R: evidence_ard(net, x, z, alpha=0.01, outer=R, inner=200,
                                                   a=HP["a"] - 1, b=HP["b"], c=HP["c"] - 1, d=HP["d"]),
    "evidence": lambda net, x, z, R: gradient_ard(net, x, z, objective="evidence", alpha=0.01, outer=R, steps=50),
    "evidence+hp": lambda net, x, z, R: gradient_ard(net, x, z, objective="evidence", alpha=0.01, outer=R,
                                                     steps=50, **HP),
    "lecture": lambda net, x, z, R: gradient_ard(net, x, z, objective="lecture", alpha=0.01, outer=R, steps=50),
    "lecture+hp": lambda net, x, z, R: gradient_ard(net, x, z, objective="lecture", alpha=0.01, outer=R,
                                                    steps=50, **HP),
}


def _standardise(xtr, xte, ztr, zte):
    mx, sx, mz, sz = xtr.mean(0), xtr.std(0), ztr.mean(0), ztr.std(0)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))  # noqa: E731
    return t((xtr - mx) / sx), t((xte - mx) / sx), t((ztr - mz) / sz), t((zte - mz) / sz)


def synthetic(seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(1060, 5))
    z = 0.5 * x[:, :1] + np.sin(2 * x[:, 1:2]) + 0.1 * rng.normal(size=(1060, 1))
    return _standardise(x[:60], x[60:], z[:60], z[60:]), [0, 1]


def diabetes(seed: int):
    x, z = load_diabetes(return_X_y=True)
    xtr, xte, ztr, zte = train_test_split(x, z[:, None], test_size=0.3, random_state=seed)
    return _standardise(xtr, xte, ztr, zte), None


PROBLEMS = {"synthetic": (synthetic, 5), "diabetes": (diabetes, 5)}


def run_one(problem: str, method: str, seed: int, rounds: int) -> dict:
    (x, xt, z, zt), relevant = PROBLEMS[problem][0](seed)
    net = MLP([x.shape[1], PROBLEMS[problem][1], 1], activation="tanh", seed=seed, dtype=torch.float64)
    t0 = time.perf_counter()
    try:
        res = METHODS[method](net, x, z, rounds)
    except DeepnetsError as e:
        return {"problem": problem, "method": method, "seed": seed, "failed": str(e), "time_s": time.perf_counter() - t0}
    t = time.perf_counter() - t0
    with torch.no_grad():
        rmse = float(((net(xt) - zt) ** 2).mean().sqrt())
    layout, _, index = ard_groups(net)
    member = torch.empty(layout.numel, dtype=torch.long)
    for i, g in enumerate(index):
        member[g] = i
    with torch.no_grad():  # −ln p(z | α, β) of the state the method ended in (Laplace, no hyper-prior terms)
        nle = float(ard_objective(linearise(net, x, z, layout, member), res.alpha.log(), res.beta.log(),
                                  objective="evidence"))
    row = {"problem": problem, "method": method, "seed": seed, "time_s": t, "test_rmse": rmse,
           "log_alpha": res.alpha[: x.shape[1]].log().tolist(), "relevance": res.input_relevance().tolist(),
           "gamma": res.input_gamma().tolist(), "sensitivity": input_sensitivity(net, x).tolist(),
           "beta": float(res.beta[0]), "neg_log_evidence": nle}
    if relevant is not None:
        noise = [j for j in range(x.shape[1]) if j not in relevant]
        for k in ("relevance", "gamma", "sensitivity"):
            row[f"separates_{k}"] = min(row[k][j] for j in relevant) > max(row[k][j] for j in noise)
    return row


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for problem in PROBLEMS:
        base = {r["seed"]: r for r in rows if r["problem"] == problem and r["method"] == "mackay" and "failed" not in r}
        for method in METHODS:
            rs = [r for r in rows if r["problem"] == problem and r["method"] == method]
            ok = [r for r in rs if "failed" not in r]
            s = {"problem": problem, "method": method, "runs": len(rs), "failed": len(rs) - len(ok)}
            if ok:
                s["test_rmse_median"] = statistics.median(r["test_rmse"] for r in ok)
                s["time_s_median"] = statistics.median(r["time_s"] for r in ok)
                better = [r["neg_log_evidence"] < base[r["seed"]]["neg_log_evidence"] for r in ok if r["seed"] in base]
                s["evidence_higher_than_mackay"] = f"{sum(better)}/{len(better)}"
                s["neg_log_evidence_median"] = statistics.median(r["neg_log_evidence"] for r in ok)
                rho = [spearmanr(r["log_alpha"], base[r["seed"]]["log_alpha"]).statistic for r in ok if r["seed"] in base]
                s["agree_with_mackay_rho_median"] = statistics.median(rho) if rho else None
                for k in ("relevance", "gamma", "sensitivity"):
                    if f"separates_{k}" in ok[0]:
                        s[f"separates_{k}"] = f"{sum(r[f'separates_{k}'] for r in ok)}/{len(ok)}"
            out.append(s)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "ard.json"))
    args = p.parse_args()
    limit_threads(args.threads)
    rows = []
    for seed in range(args.seeds):
        for problem in PROBLEMS:
            for method in METHODS:
                rows.append(run_one(problem, method, seed, args.rounds))
                r = rows[-1]
                print(f"{problem:9s} {method:12s} seed {seed}: " + (f"failed ({r['failed'][:60]}...)" if "failed" in r else
                      f"rmse {r['test_rmse']:.3f}  {r['time_s']:.1f} s  1/alpha {np.round(r['relevance'], 4).tolist()}  "
                      f"sens {np.round(r['sensitivity'], 3).tolist()}"), flush=True)
    table = summary(rows)
    print("\n| problem | method | test RMSE | time (s) | ρ(ln α, mackay) | −ln p(z) | above mackay's | separates 1/α "
          "| γ | sensitivity | failed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in table:
        f = lambda k, fmt: (fmt.format(s[k]) if s.get(k) is not None else "–")  # noqa: E731
        print(f"| {s['problem']} | {s['method']} | {f('test_rmse_median', '{:.3f}')} | {f('time_s_median', '{:.1f}')} | "
              f"{f('agree_with_mackay_rho_median', '{:.2f}')} | {f('neg_log_evidence_median', '{:.1f}')} | "
              f"{s.get('evidence_higher_than_mackay', '–')} | {s.get('separates_relevance', '–')} | "
              f"{s.get('separates_gamma', '–')} | {s.get('separates_sensitivity', '–')} | {s['failed']}/{s['runs']} |")
    meta = {"machine": platform.platform(), "processor": platform.processor(), "python": sys.version.split()[0],
            "torch": torch.__version__, "threads": args.threads, "load_average_at_end": os.getloadavg(),
            "seeds": args.seeds, "rounds": args.rounds, "hyper_priors": HP}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"meta": meta, "summary": table, "runs": rows}, fh, indent=1)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
