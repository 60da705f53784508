"""How well does each way of choosing the penalty weight lambda do, against the best lambda in hindsight?

Four small problems, each an MLP trained with weight elimination (Weigend, Rumelhart & Huberman
1991: gamma sum w^2/(w0^2 + w^2), w0 = 1) for a fixed number of full-batch Adam epochs, no early
stopping, so that lambda (gamma) is the only regulariser:

    narma10   NARMA-10 one step ahead from 10 + 10 delay taps, 800 steps, 20-30-1 tanh, 150 epochs
    henon     the Henon map's x with observation noise 0.05, 2 taps, 300 steps, 2-30-1 tanh, 300 epochs
    sin       sin on [-pi, pi], 120 random points (40/20/40%), noise sd 0.2, 1-50-1 tanh, 500 epochs
    digits    the 8x8 digits, 64-100-10 tanh/softmax, cross-entropy, 40 epochs (classification)

Every way of choosing lambda spends the same budget of B trainings (B = 10 by default) and sees
only the training and validation splits; each chosen lambda is then trained on the training split
and scored once on the test split:

    adaptive       AdaptiveLambda (train.penalty.adaptive = true), from lambda = 0, its defaults
                   (delta_lambda 1e-6, cut 0.9, average 0.9, D = 0): one training, no search
    val_grid       B values (0 and B - 1 log-spaced in [1e-6, 1e-1]), the least validation loss
    cv_grid        the same B values scored by CV on the training split: blocked (forward
                   chaining) for the series, k-fold for the others (k = 3), the least CV error
    tpe, gp, nsga2 deepnets tune (Optuna), B trials over log lambda in [1e-6, 1e-1], objective
                   val_loss; TPE and GP draw (B - 2) // 2 trials at random before their model
                   takes over (tune.random_trials), NSGA-II breeds generations of 4

against the best fixed value in hindsight: a grid twice as fine (0 and 2B - 3 values in
[1e-6, 1e-1], the search grid's among them) trained and scored on the test split, which only this
reference sees. The test error is the RMSE (regression, the target's units) or the error rate (digits); the table gives
the mean over seeds (model and shuffling seed s, the data fixed) and mean(chosen / best) per
method. Wall and CPU seconds of each way of choosing are kept.

--joint-lr chooses lambda and Adam's learning rate together, each way of choosing with the same
budget B (12 by default): the grids (validation, CV) are B // 3 lambda values log-spaced in
[1e-6, 1e-1] (1e-6 standing for 0) x the 3 learning rates base/3, base, 3 base around the task's
base lr above; TPE, GP and NSGA-II search train.optimizer.lr on a log scale in [base/3, 3 base] as
well as lambda; the adaptive rule adapts lambda at the base lr (it chooses no lr). The reference:
the best (lambda, lr) in hindsight on the 18 lambda values of the lambda-only reference grid (B = 10)
x the 3 learning rates, scored on the test split. Results into lambda_lr_choice[TAG].json.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_lambda_choice.py [--seeds 3] [--quick]
        [--tasks narma10,sin --tag _a]      (some tasks, into lambda_choice_a.json)
    python benchmarks/bench_lambda_choice.py --joint-lr [--tasks henon,digits --tag _b]
    python benchmarks/bench_lambda_choice.py --table benchmarks/results/lambda_choice*.json
    python benchmarks/bench_lambda_choice.py --table benchmarks/results/lambda_lr_choice_?.json

Writes benchmarks/results/lambda_choice[TAG].json (--quick: lambda_choice_quick.json) after every
seed; --table prints the README's table from such files.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

from _threads import limit_threads
from deepnets.atomic import write_atomic
from deepnets.config import experiment_from_dict
from deepnets.experiment import run_experiment, tune_experiment
from deepnets.experiment.tune_trial import train_trial

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
KEY = "train.penalty.options.gamma"
LR_KEY = "train.optimizer.lr"
LR_FACTORS = (1 / 3, 1.0, 3.0)  # --joint-lr: the learning rates around each task's base lr
LOW, HIGH = 1e-6, 1e-1


def _base(data, model, train) -> dict:
    train = {"batch_size": 0, "penalty": {"name": "weight_elimination", "options": {"gamma": 0.0, "w0": 1.0}},
             "diverge_factor": 0.0, **train}
    return {"data": data, "model": model, "train": train, "run": {"progress": False, "plots": False}}


TASKS = {
    "narma10": (_base({"name": "narma10", "params": {"n": 800, "seed": 0, "lags": 10, "input_lags": 10},
                       "split": [0.65, 0.10, 0.25]},
                      {"hidden": [30], "activation": "tanh"},
                      {"epochs": 150, "optimizer": {"name": "adam", "lr": 0.01}}), "blocked"),
    "henon": (_base({"name": "henon", "params": {"n": 300, "lags": 2, "noise": 0.05}, "split": [0.6, 0.1, 0.3]},
                    {"hidden": [30], "activation": "tanh"},
                    {"epochs": 300, "optimizer": {"name": "adam", "lr": 0.03}}), "blocked"),
    "sin": (_base({"name": "function", "params": {"f": "sin", "n_samples": 120, "noise": 0.2, "grid": False},
                   "split": [0.4, 0.2, 0.4], "scale": "none"},
                  {"hidden": [50], "activation": "tanh", "output": "linear"},
                  {"epochs": 500, "loss": {"name": "lms"}, "optimizer": {"name": "adam", "lr": 0.02}}), "cv"),
    "digits": (_base({"name": "digits", "split": [0.65, 0.10, 0.25], "scale": "standard"},
                     {"hidden": [100], "activation": "tanh", "output": "softmax"},
                     {"epochs": 40, "loss": {"name": "cross_entropy"}, "optimizer": {"name": "adam", "lr": 0.01}}),
               "cv"),
}
METHODS = ("adaptive", "val_grid", "cv_grid", "tpe", "gp", "nsga2")


def grids(budget: int) -> tuple[list[float], list[float]]:
    """(the hindsight grid; the search grid): the search grid is 0 and budget - 1 log-spaced values
    in [LOW, HIGH], the hindsight grid 0 and twice as many steps over the same range (a superset)."""
    steps = 2 * (budget - 2)
    fine = [0.0] + [LOW * (HIGH / LOW) ** (i / steps) for i in range(steps + 1)]
    return fine, [0.0] + fine[1::2]


def joint_grids(budget: int, ref: int, base_lr: float) -> tuple[list[tuple], list[tuple]]:
    """(the hindsight grid; the search grid) of (lambda, lr) points in --joint-lr mode. The hindsight
    grid: grids(ref)'s fine lambda values x the 3 learning rates base/3, base, 3 base; the search grid:
    budget // 3 lambda values log-spaced in [LOW, HIGH] (LOW stands for 0, which it hardly differs
    from) x the same 3 learning rates, 3 (budget // 3) <= budget trainings."""
    lrs = [base_lr * f for f in LR_FACTORS]
    n = budget // 3
    lams = [LOW * (HIGH / LOW) ** (i / (n - 1)) for i in range(n)]
    return [(g, lr) for lr in lrs for g in grids(ref)[0]], [(g, lr) for lr in lrs for g in lams]


def experiment(d: dict, seed: int, out: str, gamma: float | None = None, tune: dict | None = None,
               lr: float | None = None):
    """The task's experiment with model/train seed ``seed``, runs under ``out``, lambda ``gamma``,
    learning rate ``lr`` (None: the task's)."""
    d = json.loads(json.dumps(d))
    d["model"]["seed"] = d["train"]["seed"] = seed
    d["run"]["out"] = out
    if gamma is not None:
        d["train"]["penalty"]["options"]["gamma"] = gamma
    if lr is not None:
        d["train"]["optimizer"]["lr"] = lr
    if tune:
        d["tune"] = tune
    return experiment_from_dict(d)


def test_error(result) -> float:
    """RMSE (regression) or error rate (classification) on the test split of a run."""
    t = result.test
    return 1.0 - t["accuracy"] if "accuracy" in t else t["rmse"]


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def train_scored(d, seed, out, point) -> tuple[float, float, float, float]:
    """(test error, validation loss, wall s, cpu s) of one training at ``point`` = (lambda, lr)."""
    with Clock() as c:
        r = run_experiment(experiment(d, seed, out, point[0], lr=point[1]))
    shutil.rmtree(r.path, ignore_errors=True)
    return test_error(r), r.summary["metrics"]["val"]["loss"], c.wall, c.cpu


def one_seed(name: str, seed: int, budget: int, folds: int, out: str, joint: bool = False, ref: int = 10) -> dict:
    """One seed of every way of choosing on task ``name``: lambda alone at the task's lr, or with
    ``joint`` (lambda, lr) together (the hindsight lambda grid then that of budget ``ref``)."""
    d, cv_scheme = TASKS[name]
    base_lr = d["train"]["optimizer"]["lr"]
    if joint:
        fine, coarse = joint_grids(budget, ref, base_lr)
    else:
        fine, coarse = ([(g, base_lr) for g in grid] for grid in grids(budget))
    row: dict = {"seed": seed}
    runs = {p: train_scored(d, seed, out, p) for p in fine}   # the hindsight grid (test seen)
    best = min(fine, key=lambda p: runs[p][0])
    cut = slice(None) if joint else slice(0, 1)  # the curve's points: (lambda, lr) or lambda
    row["hindsight"] = {"lambda": best[0], "lr": best[1], "test_error": runs[best][0],
                        "wall_s": sum(r[2] for r in runs.values()), "cpu_s": sum(r[3] for r in runs.values()),
                        "curve": [[*p[cut], runs[p][0], runs[p][1]] for p in fine]}

    def keep(method, point, clock, extra=None):
        err = (runs[point] if point in runs else train_scored(d, seed, out, point))[0]
        row[method] = {"lambda": point[0], "lr": point[1], "test_error": err, "ratio": err / runs[best][0],
                       "wall_s": clock.wall, "cpu_s": clock.cpu, **(extra or {})}

    adaptive = json.loads(json.dumps(d))
    adaptive["train"]["penalty"]["adaptive"] = True
    with Clock() as c:  # the adaptive rule: one training, lambda from 0, at the base lr (it chooses no lr)
        r = run_experiment(experiment(adaptive, seed, out, 0.0))
    shutil.rmtree(r.path, ignore_errors=True)
    err = test_error(r)
    row["adaptive"] = {"lambda": r.history["lambda"][-1], "lr": base_lr, "test_error": err,
                       "ratio": err / runs[best][0], "wall_s": c.wall, "cpu_s": c.cpu}

    for p in coarse:  # the validation grid: the same trainings as the hindsight grid's (or new ones)
        if p not in runs:
            runs[p] = train_scored(d, seed, out, p)
    c = Clock()
    c.wall, c.cpu = sum(runs[p][2] for p in coarse), sum(runs[p][3] for p in coarse)
    keep("val_grid", min(coarse, key=lambda p: runs[p][1]), c)

    with Clock() as c:  # CV (blocked for a series) on the training split, the same B points
        cv = {p: train_trial(experiment(d, seed, out, p[0], lr=p[1]), ["cv_error"], heldout=cv_scheme,
                             folds=folds)[0][0] for p in coarse}
    keep("cv_grid", min(coarse, key=lambda p: cv[p]), c, {"scheme": cv_scheme, "folds": folds})

    space = {KEY: {"low": LOW, "high": HIGH, "log": True}}
    if joint:
        space[LR_KEY] = {"low": base_lr * LR_FACTORS[0], "high": base_lr * LR_FACTORS[-1], "log": True}
    for sampler in ("tpe", "gp", "nsga2"):
        with Clock() as c:
            exp = experiment(d, seed, out, None, {
                "space": space, "objectives": ["val_loss"],
                "trials": budget, "sampler": sampler, "population": 4, "random_trials": max(1, (budget - 2) // 2),
                "seed": seed,
                "study": f"{name}-{sampler}-{seed}", "retrain": False, "plots": False, "heartbeat": 0})
            res = tune_experiment(exp, out=io.StringIO())
        shutil.rmtree(res.folder, ignore_errors=True)
        chosen = res.best[0][2]
        keep(sampler, (float(chosen[KEY]), float(chosen.get(LR_KEY, base_lr))), c,
             {"trials_complete": res.n_complete, "trials_failed": res.n_failed})
    return row


def summarise(rows: list[dict]) -> dict:
    """Means over seeds per way of choosing; with --joint-lr also the best lambda at the base lr alone
    (from the hindsight grid's points at that lr) over the best (lambda, lr): what choosing lr gains."""
    out = {"hindsight_test_error": statistics.mean(r["hindsight"]["test_error"] for r in rows)}
    if len(rows[0]["hindsight"]["curve"][0]) == 4:   # [lambda, lr, test error, val loss]
        base = [min(c[2] for c in r["hindsight"]["curve"] if c[1] == r["adaptive"]["lr"]) / r["hindsight"]["test_error"]
                for r in rows]
        out["base_lr_hindsight"] = {"ratio_mean": statistics.mean(base), "ratio_max": max(base)}
    for m in METHODS:
        ratios = [r[m]["ratio"] for r in rows]
        out[m] = {"test_error": statistics.mean(r[m]["test_error"] for r in rows),
                  "ratio_mean": statistics.mean(ratios), "ratio_max": max(ratios),
                  "within_10pct": sum(x <= 1.1 for x in ratios), "seeds": len(ratios),
                  "wall_s": statistics.mean(r[m]["wall_s"] for r in rows),
                  "cpu_s": statistics.mean(r[m]["cpu_s"] for r in rows)}
    return out


def table(results: dict) -> str:
    """Markdown: a row per way of choosing, a column per task; a cell is mean(test error / best in
    hindsight) over seeds, the seeds within 10% of the best, and the mean CPU seconds spent choosing."""
    names = list(results["tasks"])
    unit = {n: "error rate" if n == "digits" else "RMSE" for n in names}
    what = "(lambda, lr)" if results.get("joint_lr") else "lambda"
    lines = [f"| {what} chosen by | " + " | ".join(f"{n} ({unit[n]})" for n in names) + " |",
             "| --- |" + " --- |" * len(names)]
    s = {n: summarise(results["tasks"][n]["seeds"]) for n in names}
    lines.append("| best fixed value in hindsight (test set) | "
                 + " | ".join(f"{s[n]['hindsight_test_error']:.4g}" for n in names) + " |")
    if all("base_lr_hindsight" in s[n] for n in names):
        lines.append("| best lambda in hindsight at the base lr | " + " | ".join(
            f"{s[n]['base_lr_hindsight']['ratio_mean']:.2f}x" for n in names) + " |")
    for m in METHODS:
        lines.append(f"| {m} | " + " | ".join(
            f"{s[n][m]['ratio_mean']:.2f}x, {s[n][m]['within_10pct']}/{s[n][m]['seeds']}, {s[n][m]['cpu_s']:.0f} s"
            for n in names) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=int, default=10, help="trainings each way of choosing may spend")
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--tag", default="", help="suffix of the JSON file (a run of some tasks)")
    p.add_argument("--quick", action="store_true", help="1 seed, budget 4 (6 with --joint-lr), sin and henon only")
    p.add_argument("--joint-lr", action="store_true",
                   help="choose lambda and the learning rate together (into lambda_lr_choice*.json)")
    p.add_argument("--table", nargs="+", metavar="JSON", help="print the table of these results files and stop")
    a = p.parse_args(argv)
    if a.table:
        merged = {"tasks": {}}
        for f in a.table:
            with open(f) as fh:
                r = json.load(fh)
            merged["tasks"].update(r["tasks"])
            merged["joint_lr"] = r.get("joint_lr", False)
        print(table(merged))
        return 0
    budget_given = a.budget
    if a.quick:
        a.seeds, a.budget, a.tasks = 1, 6 if a.joint_lr else 4, "sin,henon"
    elif a.joint_lr and budget_given == p.get_default("budget"):
        a.budget = 12   # a 4 x 3 grid
    limit_threads(1)
    tasks = [t for t in a.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in TASKS]
    least = 6 if a.joint_lr else 3
    if unknown or a.budget < least or a.seeds < 1:
        p.error(f"--tasks from {', '.join(TASKS)}, --budget >= {least}, --seeds >= 1; "
                f"got {a.tasks!r}, {a.budget}, {a.seeds}")
    ref = 4 if a.quick else 10   # --joint-lr: the hindsight lambda grid, that of the lambda-only run
    out = tempfile.mkdtemp(prefix="lambda-choice-")
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, 1 thread",
               "load_at_start": os.getloadavg()[0], "budget": a.budget, "folds": a.folds, "seeds": a.seeds,
               "lambda_range": [LOW, HIGH], "joint_lr": a.joint_lr, "tasks": {}}
    if a.joint_lr:
        results.update(lr_factors=list(LR_FACTORS), hindsight_lambdas=len(grids(ref)[0]),
                       search_lambdas=a.budget // 3)
    os.makedirs(RESULTS, exist_ok=True)
    stem = "lambda_lr_choice" if a.joint_lr else "lambda_choice"
    path = os.path.join(RESULTS, f"{stem}{'_quick' if a.quick else ''}{a.tag}.json")
    t0 = time.perf_counter()
    try:
        for name in tasks:
            rows = []
            for s in range(a.seeds):
                rows.append(one_seed(name, s, a.budget, a.folds, out, a.joint_lr, ref))
                r = rows[-1]
                print(f"{name} seed {s}: best {r['hindsight']['test_error']:.4g} at {r['hindsight']['lambda']:.3g}"
                      f" (lr {r['hindsight']['lr']:.3g}); "
                      + ", ".join(f"{m} {r[m]['ratio']:.2f}x" for m in METHODS), flush=True)
                results["tasks"][name] = {"cv_scheme": TASKS[name][1], "seeds": rows, "summary": summarise(rows)}
                results.update(wall_s=time.perf_counter() - t0, cpu_s=time.process_time(),
                               load_at_end=os.getloadavg()[0])
                write_atomic(path, json.dumps(results, indent=1).encode(), what="results")  # after every seed
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(table(results))
    print(f"{results['wall_s']:.0f} s wall, {results['cpu_s']:.0f} s CPU; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
