"""[tune.space] parsing: ranges and choices, and every mistake a one-line ConfigError before a trial runs."""

import optuna
import pytest

from deepnets.config import experiment_from_dict
from deepnets.errors import ConfigError
from deepnets.experiment.tune_space import parse_space, suggest, with_params


def _exp(space, **tune):
    return experiment_from_dict({"model": {"hidden": [3]}, "tune": {"space": space, **tune}})


def test_ranges_and_choices_take_their_kinds_and_reach_the_experiment():
    params = parse_space(_exp({"train.optimizer.lr": {"low": 1e-4, "high": 0.1, "log": True},
                               "train.epochs": {"low": 5, "high": 50, "step": 5},
                               "train.input_noise": {"low": 0, "high": 1},  # a float key with int bounds
                               "model.hidden": {"choices": [[4], [8, 8]]},
                               "model.activation": {"choices": ["tanh", "relu"]}}))
    kinds = {p.key: p.kind for p in params}
    assert kinds == {"train.optimizer.lr": "float", "train.epochs": "int", "train.input_noise": "float",
                     "model.hidden": "choice", "model.activation": "choice"}
    trial = optuna.trial.FixedTrial({"train.optimizer.lr": 0.01, "train.epochs": 15, "train.input_noise": 0.5,
                                     "model.hidden": "[8, 8]", "model.activation": "relu"})
    values = suggest(trial, params)
    assert values["model.hidden"] == [8, 8]  # a list choice goes through Optuna as JSON text and comes back
    exp = with_params(_exp({"model.seed": {"low": 0, "high": 3}}), values)
    assert (exp.train.optimizer.lr, exp.train.epochs, exp.model.hidden, exp.model.activation, exp.tune) == \
        (0.01, 15, [8, 8], "relu", None)


def test_a_key_inside_a_switched_off_table_switches_it_on():
    exp = with_params(_exp({"x": {"low": 0, "high": 1}}), {"train.penalty.options.gamma": 0.5})
    assert exp.train.penalty is not None and exp.train.penalty.options == {"gamma": 0.5}


@pytest.mark.parametrize("space, words", [
    ({}, "[tune.space] is empty"),
    ({"train.optimizer.lrr": {"low": 0.1, "high": 1.0}}, "did you mean 'train.optimizer.lr'"),
    ({"train.optimizer.lr": {"low": 1.0, "high": 0.1}}, "low must be below high"),
    ({"train.optimizer.lr": {"low": 0.0, "high": 0.1, "log": True}}, "log scale needs low > 0"),
    ({"train.optimizer.lr": {"low": 0.1}}, "needs low and high"),
    ({"train.optimizer.lr": {"low": 0.1, "high": 1.0, "lg": True}}, "unknown lg"),
    ({"train.optimizer.lr": {"low": "a", "high": 1.0}}, "low must be a finite number"),
    ({"train.optimizer.lr": 0.1}, "must be a table"),
    ({"model.hidden": {"choices": []}}, "non-empty list"),
    ({"model.hidden": {"choices": [[4], [4]]}}, "repeat a value"),
    ({"model.hidden": {"choices": ["wide"]}}, "model.hidden must be list"),
    ({"model.activation": {"choices": ["tanh"], "low": 1}}, "choices take no low"),
    ({"tune.trials": {"low": 1, "high": 9}}, "cannot be searched"),
    ({"train.epochs": {"low": 1, "high": 9, "step": 2, "log": True}}, "cannot go with log"),
])
def test_space_mistakes_are_one_line_config_errors(space, words):
    with pytest.raises(ConfigError) as e:
        parse_space(_exp(space))
    assert words in str(e.value) and "\n" not in str(e.value)
