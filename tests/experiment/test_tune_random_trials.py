"""tune.random_trials: how many trials TPE and the GP draw at random before their model guides the search."""

import os

import optuna
import pytest

from deepnets.config import experiment_from_dict
from deepnets.errors import ConfigError
from deepnets.experiment.tune import tune_experiment


def _lrs(tmp_path, name, **tune):
    cfg = {"data": {"name": "function", "params": {"f": "sin", "n_samples": 40}, "scale": "none"},
           "model": {"hidden": [2], "output": "linear"},
           "train": {"epochs": 2, "batch_size": 0, "loss": {"name": "lms"}},
           "run": {"out": str(tmp_path), "progress": False, "plots": False},
           "tune": {"space": {"train.optimizer.lr": {"low": 1e-3, "high": 0.2, "log": True}}, "trials": 4,
                    "seed": 3, "study": name, "retrain": False, "plots": False, "heartbeat": 0, **tune}}
    tune_experiment(experiment_from_dict(cfg), out=open(os.devnull, "w"))
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path}/tune-{name}/study.db")
    return [t.params["train.optimizer.lr"] for t in sorted(study.trials, key=lambda t: t.number)]


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_the_model_takes_over_after_random_trials(tmp_path, sampler):
    """The first random_trials trials are the random sampler's (same seed), the later ones are not;
    with Optuna's default of 10, a 4-trial TPE or GP study is a random search."""
    drawn = _lrs(tmp_path, "random", sampler="random")
    guided = _lrs(tmp_path, "guided", sampler=sampler, random_trials=2)
    assert guided[:2] == drawn[:2]
    assert guided[2] != drawn[2] and guided[3] != drawn[3]
    assert _lrs(tmp_path, "default", sampler=sampler) == drawn


def test_random_trials_below_one_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="tune.random_trials must be >= 1, got 0"):
        _lrs(tmp_path, "bad", sampler="tpe", random_trials=0)
