"""The small-training-set warning (N < 10·N_W, "expect overfitting") is left out of the shipped
examples that reach their targets: the README's digits demo (a validation split watches it) and
the truth-table tasks (XOR, parity: every example trains, nothing is claimed about new data);
a run with a held-out test part and nothing watching it still gets it, once."""

import os
import warnings

import pytest

from deepnets.experiment import experiment_from_file, run_experiment
from deepnets.train import FewExamplesWarning

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _few_examples_warnings(tmp_path, path, *overrides) -> list[str]:
    exp = experiment_from_file(path, ["train.epochs=1", "run.plots=false", "run.progress=false",
                                      f"run.out={tmp_path}", *overrides])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_experiment(exp)
    return [str(w.message) for w in caught if issubclass(w.category, FewExamplesWarning)]


@pytest.mark.parametrize("name", ["digits.toml", "xor.toml", "parity4.toml", "sin.toml"])
def test_shipped_examples_do_not_warn(tmp_path, name):
    assert _few_examples_warnings(tmp_path, os.path.join(EXAMPLES, name)) == []


def test_an_unwatched_run_with_a_test_part_is_warned_once(tmp_path):
    got = _few_examples_warnings(tmp_path, os.path.join(EXAMPLES, "xor.toml"), "data.name=parity",
                                 "data.params={n_bits=4}", "data.split=[0.75, 0.0, 0.25]", "data.stratify=false",
                                 "train.starts=1")
    assert len(got) == 1 and "expect overfitting" in got[0]
