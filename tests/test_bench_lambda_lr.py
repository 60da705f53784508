"""benchmarks/bench_lambda_choice.py --joint-lr: every way of choosing picks (lambda, lr) together
from the same budget, against the best (lambda, lr) in hindsight. A tiny task, a few epochs."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))   # its helper _threads.py
    try:
        spec = importlib.util.spec_from_file_location("bench_lambda_choice", BENCH / "bench_lambda_choice.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_joint_grids_are_lambda_values_times_three_learning_rates(bench):
    fine, coarse = bench.joint_grids(12, 10, 0.03)
    lrs = [0.01, 0.03, 0.09]
    assert len(fine) == 18 * 3 and len(coarse) == 4 * 3   # the lambda-only reference grid x 3; 4 x 3 <= 12
    for grid, n in ((fine, 18), (coarse, 4)):
        assert sorted({round(lr, 12) for _, lr in grid}) == lrs
        assert all(sum(math.isclose(lr, x) for _, lr in grid) == n for x in lrs)
    lams = sorted({g for g, _ in coarse})
    assert lams[0] == pytest.approx(1e-6) and lams[-1] == pytest.approx(0.1)
    steps = [math.log10(b / a) for a, b in zip(lams, lams[1:])]
    assert steps == pytest.approx([5 / 3] * 3)   # log-spaced over the 5 decades
    assert sorted({g for g, _ in fine}) == pytest.approx(bench.grids(10)[0])


def test_one_seed_chooses_lambda_and_lr_within_the_budget(bench, tmp_path, monkeypatch):
    base = 0.02
    d = bench._base({"name": "function", "params": {"f": "sin", "n_samples": 30, "noise": 0.2, "grid": False},
                     "split": [0.4, 0.2, 0.4], "scale": "none"},
                    {"hidden": [3], "activation": "tanh", "output": "linear"},
                    {"epochs": 3, "loss": {"name": "lms"}, "optimizer": {"name": "adam", "lr": base}})
    monkeypatch.setitem(bench.TASKS, "tiny", (d, "cv"))
    row = bench.one_seed("tiny", 0, 6, 2, str(tmp_path), joint=True, ref=3)
    curve = row["hindsight"]["curve"]   # [lambda, lr, test error, val loss] of 4 lambdas x 3 lrs
    assert len(curve) == 12 and {round(c[1] / base, 6) for c in curve} == {round(1 / 3, 6), 1.0, 3.0}
    best = min(curve, key=lambda c: c[2])
    assert (row["hindsight"]["lambda"], row["hindsight"]["lr"], row["hindsight"]["test_error"]) == tuple(best[:3])
    at = {(c[0], c[1]): c for c in curve}
    by_val = min((c for c in curve if c[0] in (1e-6, 0.1)), key=lambda c: c[3])   # the 2 x 3 search grid
    assert (row["val_grid"]["lambda"], row["val_grid"]["lr"]) == tuple(by_val[:2])
    assert row["val_grid"]["test_error"] == by_val[2]
    assert (row["cv_grid"]["lambda"], row["cv_grid"]["lr"]) in at
    assert row["adaptive"]["lr"] == base   # the adaptive rule adapts lambda only
    lrs = set()
    for m in ("tpe", "gp", "nsga2"):
        assert row[m]["trials_complete"] == 6
        assert base / 3 * (1 - 1e-9) <= row[m]["lr"] <= 3 * base * (1 + 1e-9)
        assert 1e-6 * (1 - 1e-9) <= row[m]["lambda"] <= 0.1 * (1 + 1e-9)
        lrs.add(row[m]["lr"])
    assert lrs != {base}   # the searches moved the learning rate
    for m in bench.METHODS:
        assert row[m]["ratio"] == pytest.approx(row[m]["test_error"] / best[2])
    at_base = min(c[2] for c in curve if math.isclose(c[1], base))   # lambda alone, at the base lr
    assert bench.summarise([row])["base_lr_hindsight"]["ratio_mean"] == pytest.approx(at_base / best[2])


def test_joint_lr_refuses_a_budget_below_two_by_three(bench, capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--joint-lr", "--budget", "5", "--tasks", "sin"])
    assert e.value.code == 2
    assert "--budget >= 6" in capsys.readouterr().err
