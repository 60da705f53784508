"""deepnets tune: pruning, the Pareto front of a multi-objective search, resuming a killed study."""

import json
import os
import signal
import subprocess
import sys
import time

import matplotlib
import optuna
import pytest

from deepnets.cli import main
from deepnets.config import experiment_from_dict
from deepnets.errors import ConfigError
from deepnets.experiment.tune import tune_experiment
from deepnets.experiment.tune_report import pareto_front

S = optuna.trial.TrialState
SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")


def _config(tmp_path, space, **tune):
    return {"data": {"name": "function", "params": {"f": "sin", "n_samples": 60}, "scale": "none"},
            "model": {"hidden": [3], "output": "linear"},
            "train": {"epochs": 8, "batch_size": 0, "loss": {"name": "lms"}, "optimizer": {"lr": 0.05}},
            "run": {"out": str(tmp_path), "progress": False, "plots": False},
            "tune": {"space": space, "retrain": False, "plots": False, "heartbeat": 0, **tune}}


def _load(folder, name):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{folder}/study.db")


def test_the_median_pruner_stops_bad_trials_which_are_recorded_as_pruned(tmp_path):
    space = {"train.optimizer.lr": {"choices": [1e-4, 0.05]}}
    exp = experiment_from_dict(_config(tmp_path, space, trials=5, sampler="random", pruner="median",
                                       startup_trials=1, seed=0))  # lr: 0.05, 1e-4, 0.05, 0.05, 1e-4
    r = tune_experiment(exp, source="p.toml", out=open(os.devnull, "w"))
    trials = _load(r.folder, "p").trials
    pruned = [t for t in trials if t.state == S.PRUNED]
    complete = [t for t in trials if t.state == S.COMPLETE]
    assert pruned and complete and r.n_pruned == len(pruned) and len(trials) == 5
    assert all(t.params["train.optimizer.lr"] == 1e-4 for t in pruned)  # lr 1e-4 barely moves in 8 epochs
    assert all(len(t.intermediate_values) < 8 for t in pruned)  # stopped before its last epoch
    assert all(len(t.intermediate_values) == 8 for t in complete)
    with open(os.path.join(r.folder, "trials.csv")) as f:
        assert sum(",PRUNED," in line for line in f) == len(pruned)


def test_nsga2_returns_a_pareto_front_that_no_trial_dominates(tmp_path):
    space = {"model.hidden": {"choices": [[1], [2], [4], [8]]}, "train.optimizer.lr": {"low": 1e-3, "high": 0.2,
                                                                                        "log": True}}
    exp = experiment_from_dict(_config(tmp_path, space, trials=8, sampler="nsga2",
                                       objectives=["val_loss", "n_weights"], plots=True))
    style = dict(matplotlib.rcParams)
    r = tune_experiment(exp, source="m.toml", out=open(os.devnull, "w"))
    assert dict(matplotlib.rcParams) == style  # Optuna's plots set pyplot's ggplot style; it is put back
    done = [t for t in _load(r.folder, "m").trials if t.state == S.COMPLETE]
    front = {n for n, _, _ in r.best}
    assert front and len(done) == 8
    for t in done:  # brute force: no trial beats a front member in both; every other trial is beaten
        beaten = any(u.values[0] <= t.values[0] and u.values[1] <= t.values[1] and u.values != t.values for u in done)
        assert beaten == (t.number not in front)
    assert sorted(pareto_front([t.values for t in done], ["minimize", "minimize"])) == \
        sorted(i for i, t in enumerate(done) if t.number in front)
    assert os.path.exists(os.path.join(r.folder, "pareto.png"))


def test_cv_reports_each_folds_running_mean_and_scores_the_per_sample_mean(tmp_path):
    cfg = _config(tmp_path, {"train.optimizer.lr": {"low": 1e-3, "high": 0.2, "log": True}}, trials=2,
                  sampler="random", heldout="cv", folds=3, objectives=["cv_error"], pruner="median",
                  startup_trials=5)
    tune_experiment(experiment_from_dict(cfg), source="cv.toml", out=open(os.devnull, "w"))
    for t in _load(tmp_path / "tune-cv", "cv").trials:  # 39 training rows: 3 folds of 13, so the two means agree
        assert sorted(t.intermediate_values) == [0, 1, 2]
        assert t.value == pytest.approx(t.intermediate_values[2], rel=1e-6)  # float32 errors, summed two ways
        assert t.intermediate_values[0] != t.intermediate_values[1]


@pytest.mark.parametrize("sampler", ["tpe", "gp", "cmaes", "nsga2", "random"])
def test_every_sampler_runs_a_study(tmp_path, sampler):
    cfg = _config(tmp_path, {"train.optimizer.lr": {"low": 1e-3, "high": 0.2, "log": True},
                             "train.epochs": {"low": 1, "high": 3}}, trials=2, sampler=sampler)
    r = tune_experiment(experiment_from_dict(cfg), source="s.toml", out=open(os.devnull, "w"))
    trials = _load(r.folder, "s").trials
    assert r.n_complete == 2 and len({t.params["train.optimizer.lr"] for t in trials}) == 2
    assert all(1 <= t.params["train.epochs"] <= 3 and isinstance(t.params["train.epochs"], int) for t in trials)


def test_a_series_is_searched_by_blocked_cv_and_refused_by_kfold_cv(tmp_path):
    cfg = _config(tmp_path, {"train.optimizer.lr": {"low": 1e-3, "high": 0.2, "log": True}}, trials=1,
                  heldout="blocked", folds=3, objectives=["cv_error"], pruner="median", startup_trials=5)
    cfg["data"] = {"name": "henon", "params": {"n": 120, "lags": 2}, "split": [0.6, 0.1, 0.3]}
    tune_experiment(experiment_from_dict(cfg), source="b.toml", out=open(os.devnull, "w"))
    (t,) = _load(tmp_path / "tune-b", "b").trials
    assert sorted(t.intermediate_values) == [0, 1, 2]  # one report per forward-chaining fold
    cfg["tune"]["heldout"], cfg["tune"]["study"] = "cv", "k"
    with pytest.raises(ConfigError, match="mixing past and future rows"):
        tune_experiment(experiment_from_dict(cfg), source="b.toml")
    assert not (tmp_path / "tune-k").exists()


def test_running_again_continues_the_study_counting_the_trials_already_done(tmp_path):
    cfg = _config(tmp_path, {"train.optimizer.lr": {"low": 1e-3, "high": 0.2, "log": True}}, trials=2,
                  sampler="random")
    lines = []

    class Out:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    cfg["tune"]["retrain"] = True
    r = tune_experiment(experiment_from_dict(cfg), source="c.toml", out=Out())
    first = [t.params for t in _load(tmp_path / "tune-c", "c").trials]
    lr = first[r.best[0][0]]["train.optimizer.lr"]
    with open(os.path.join(r.best_run, "config.toml")) as f:  # the best trial as a normal run folder
        assert f"lr = {lr!r}" in f.read() and os.path.exists(os.path.join(r.best_run, "summary.json"))
    with open(os.path.join(r.best_run, "summary.json")) as f:  # retrained as the trial was: the same score
        assert json.load(f)["metrics"]["val"]["loss"] == pytest.approx(r.best[0][1][0], rel=1e-6)
    cfg["tune"]["trials"] = 3
    r = tune_experiment(experiment_from_dict(cfg), source="c.toml", out=Out())
    trials = _load(tmp_path / "tune-c", "c").trials
    assert r.n_complete == 3 and [t.params for t in trials[:2]] == first  # one more trial, the first two kept
    assert "2 trials finished" in "".join(lines)
    assert sum(text.startswith("trial ") for text in lines) == 3
    assert sorted(os.listdir(tmp_path / "tune-c")).count(os.path.basename(r.best_run)) == 1  # kept or new, once


@pytest.mark.slow  # a separate process (~10 s of CPU to import torch) killed mid-trial
def test_a_study_killed_with_sigkill_resumes_and_retries_the_killed_trial(tmp_path):
    cfg = _config(tmp_path, {"train.optimizer.lr": {"low": 1e-3, "high": 0.2, "log": True}},
                  trials=100, heartbeat=1, sampler="random")
    cfg["train"]["epochs"] = 150  # long enough trials that the kill lands inside one
    path = tmp_path / "k.toml"
    from deepnets.config import dumps_toml
    path.write_text(dumps_toml(cfg))
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deepnets.cli", "tune", str(path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folder = tmp_path / "tune-k"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(0.3)
            if not (folder / "study.db").exists():
                continue
            try:
                states = [t.state for t in _load(folder, "k").trials]
            except KeyError:  # the study is not created yet
                continue
            if states.count(S.COMPLETE) >= 2 and states[-1] == S.RUNNING:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = _load(folder, "k").trials
    done = sum(t.state == S.COMPLETE for t in before)
    killed = [t for t in before if t.state == S.RUNNING]
    assert done >= 2 and len(killed) == 1
    time.sleep(2.5)  # the killed trial's heartbeat is now older than the grace period (2 s)
    cfg["tune"]["trials"], cfg["train"]["epochs"] = done + 2, 8
    r = tune_experiment(experiment_from_dict(cfg), source=str(path), out=open(os.devnull, "w"))
    after = _load(folder, "k").trials
    assert r.n_complete == done + 2
    assert after[killed[0].number].state == S.FAIL  # failed by its silent heartbeat ...
    retried = [t for t in after if t.system_attrs.get("failed_trial") == killed[0].number]
    assert len(retried) == 1 and retried[0].params == killed[0].params  # ... and its parameters tried again


@pytest.mark.parametrize("tune, words", [
    ({"sampler": "bayes"}, "tune.sampler must be one of"),
    ({"pruner": "median", "objectives": ["val_loss", "n_weights"]}, "pruning needs a single objective"),
    ({"sampler": "cmaes", "objectives": ["val_loss", "n_weights"]}, "optimises one objective"),
    ({"objectives": ["cv_error"]}, "tune.objectives with heldout = 'validation'"),
    ({"trials": 0}, "tune.trials must be >= 1"),
    ({"study": "../elsewhere"}, "names the folder tune-NAME inside run.out"),
    ({"study": "m", "_starts": 3}, "a tune trial trains one start"),
    ({"objectives": ["val_accuracy"]}, "sin is a regression task: val_accuracy is for classification"),
    ({"heldout": "cv", "objectives": ["cv_error", "val_loss"]}, "takes distinct names among cv_error, n_weights"),
])
def test_tune_settings_mistakes_are_config_errors_before_a_study_exists(tmp_path, tune, words):
    tune = dict(tune)
    starts = tune.pop("_starts", 1)
    cfg = _config(tmp_path, {"train.optimizer.lr": {"low": 0.01, "high": 0.1}}, **tune)
    cfg["train"]["starts"] = starts
    exp = experiment_from_dict(cfg)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        tune_experiment(exp, source="e.toml")
    assert not os.listdir(tmp_path)


def test_the_cli_prints_one_line_and_exits_2_on_a_space_mistake(tmp_path, capsys):
    path = tmp_path / "e.toml"
    path.write_text('[tune.space]\n"train.optimizer.lrr" = {low = 0.1, high = 1.0}\n')
    assert main(["tune", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "did you mean 'train.optimizer.lr'" in err
