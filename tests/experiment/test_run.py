"""run_experiment as a library call: what it leaves behind in the calling process."""

import warnings

import pytest
import torch

import deepnets.experiment.run as run_module
from deepnets.config import experiment_from_dict
from deepnets.errors import ConfigError
from deepnets.experiment import run_experiment


def _xor(tmp_path, **train):
    return experiment_from_dict({"data": {"name": "xor", "split": [1.0, 0.0, 0.0], "scale": "none"},
                                 "model": {"hidden": [2]}, "train": {"epochs": 2, **train},
                                 "run": {"out": str(tmp_path), "progress": False, "plots": False}})


@pytest.fixture
def three_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(before)


def test_the_thread_count_is_set_for_the_run_and_put_back(tmp_path, three_threads, monkeypatch):
    seen, fit = [], run_module.fit

    def spy(*args, **kwargs):  # fit, recording the thread count it trains with
        seen.append(torch.get_num_threads())
        return fit(*args, **kwargs)

    monkeypatch.setattr(run_module, "fit", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 4 examples for 9 weights
        run_experiment(_xor(tmp_path, device={"threads": 2}))
    assert seen == [2]
    assert torch.get_num_threads() == 3


def test_the_thread_count_is_put_back_when_a_run_fails(tmp_path, three_threads):
    exp = _xor(tmp_path, early_stopping={})  # early stopping with no validation split
    with pytest.raises(ConfigError, match="needs a validation split"):
        run_experiment(exp)
    assert torch.get_num_threads() == 3
