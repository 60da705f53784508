"""Blocked (forward-chaining) cross-validation: folds that never train on the future."""

import json
import math
import os
import warnings

import pytest
import torch

from deepnets.cli import main
from deepnets.errors import ConfigError
from deepnets.train import blocked_indices, cross_validate

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.mark.parametrize("n, k", [(7, 3), (10, 2), (23, 4), (5, 4), (100, 9), (2, 1)])
def test_every_training_index_precedes_every_validation_index(n, k):
    folds = blocked_indices(n, k)
    assert len(folds) == k
    # the documented sizes: k + 1 blocks, the first n mod (k+1) of ceil(n/(k+1)), the rest floor(n/(k+1))
    sizes = [math.ceil(n / (k + 1)) if b < n % (k + 1) else n // (k + 1) for b in range(k + 1)]
    for j, (train, val) in enumerate(folds, start=1):
        assert int(train.max()) < int(val.min())  # no fold trains on the future
        assert train.tolist() == list(range(sum(sizes[:j])))  # all the past, in order
        assert val.tolist() == list(range(sum(sizes[:j]), sum(sizes[:j + 1])))  # the next block
    assert sorted(torch.cat([v for _, v in folds]).tolist()) == list(range(sizes[0], n))  # B_0 never tested


@pytest.mark.parametrize("n, k", [(5, 0), (5, 5), (1, 1), (5, 2.0), (5, True)])
def test_bad_fold_counts_are_config_errors(n, k):
    with pytest.raises(ConfigError, match=r"blocked cross-validation needs 1 <= k <= N - 1"):
        blocked_indices(n, k)


def test_blocked_cv_of_the_mean_predictor_by_hand():
    """z = 0..6, k = 3: blocks [0,1] [2,3] [4,5] [6]; the means 0.5, 1.5, 2.5 of the past predict
    2,3 / 4,5 / 6: errors 1.5², 2.5² / 2.5², 3.5² / 3.5², mean 39.25 / 5 = 7.85."""
    seen = []

    def mean_predictor(train, test):
        seen.append((train[0][:, 0].tolist(), test[0][:, 0].tolist()))
        return (test[1] - train[1].mean()) ** 2

    t = torch.arange(7, dtype=torch.float64)
    res = cross_validate(mean_predictor, (t[:, None], t.clone()), k=3, scheme="blocked")
    assert res.error == pytest.approx(7.85)
    assert res.fold_errors == pytest.approx([(2.25 + 6.25) / 2, (6.25 + 12.25) / 2, 12.25])
    assert torch.isnan(res.per_sample[:2]).all() and res.per_sample[2:].tolist() == [2.25, 6.25, 6.25, 12.25, 12.25]
    assert all(max(tr) < min(te) for tr, te in seen)


def test_an_unknown_scheme_is_a_config_error():
    with pytest.raises(ConfigError, match=r"scheme must be one of \['kfold', 'blocked'\], got 'rolling'"):
        cross_validate(lambda tr, te: te[1], (torch.zeros(6, 1), torch.zeros(6)), k=2, scheme="rolling")


HENON = [os.path.join(EXAMPLES, "henon.toml"), "--set", "data.params={n=160, lags=2}", "--set", "train.epochs=2",
         "--set", "data.split=[0.7, 0.0, 0.3]"]


def test_select_blocked_is_the_librarys_blocked_cv_on_the_training_segment(tmp_path, capsys):
    from deepnets.experiment import build_model, experiment_from_file
    from deepnets.experiment.build import loss_for
    from deepnets.experiment.prepare import prepare, scaled
    from deepnets.experiment.run import fit_arguments
    from deepnets.experiment.targets import TargetUnits
    from deepnets.train.select import fit_experiment

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small-training-set warning
        assert main(["select", *HENON, "--hidden", "3", "--cv", "3", "--blocked", "--sigma2", "0.01",
                     "--out", str(tmp_path)]) == 0
        assert "3-fold blocked CV error" in capsys.readouterr().out
        table = json.loads((tmp_path / "select.json").read_text())
        assert table["heldout"] == "3-fold blocked CV"
        exp = experiment_from_file(HENON[0], [s for s in HENON[1:] if s != "--set"] + ["model.hidden=[3]"])
        data, parts, scaler, _ = prepare(exp)
        loss = loss_for(exp, data, "linear")
        args = {k: v for k, v in fit_arguments(exp, loss).items() if k not in ("device", "precision",
                                                                                 "channels_last", "compile")}
        train = TargetUnits.fit(parts.train[1]).encode(scaled(scaler, parts.train))  # standardised, as train learns
        want = cross_validate(fit_experiment(lambda: build_model(exp, 2, 1, "linear"), **args),
                              train, 3, seed=exp.train.seed, scheme="blocked").error
    assert table["rows"][0]["heldout_error"] == pytest.approx(want, rel=1e-6)


def test_select_blocked_needs_cv_and_a_series(tmp_path, capsys):
    assert main(["select", *HENON, "--hidden", "3", "--blocked", "--out", str(tmp_path)]) == 2
    assert "--blocked is blocked cross-validation of a time series: it needs --cv K" in capsys.readouterr().err
    sin = [os.path.join(EXAMPLES, "sin.toml"), "--set", "data.params={f='sin', n_samples=60}"]
    assert main(["select", *sin, "--hidden", "3", "--cv", "3", "--blocked", "--out", str(tmp_path)]) == 2
    assert "--blocked needs rows in time order: dataset" in capsys.readouterr().err
    assert main(["select", *HENON, "--hidden", "3", "--cv", "3", "--out", str(tmp_path)]) == 2
    assert "add --blocked to --cv K" in capsys.readouterr().err
