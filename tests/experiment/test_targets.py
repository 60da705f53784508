"""A regression target standardised for training and scored in its own units: RMSE, R² and the
mean predictor's RMSE against numpy and scikit-learn, from standardised and from raw outputs."""

import numpy as np
import pytest
import torch
from sklearn.metrics import r2_score

from deepnets.data import TargetScaler
from deepnets.experiment.targets import TargetUnits


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    y_train = 50 + 20 * torch.randn(40, 2, generator=g, dtype=torch.float64)   # (N, k) in "data units"
    y = 50 + 20 * torch.randn(30, 2, generator=g, dtype=torch.float64)
    pred = y + 5 * torch.randn(30, 2, generator=g, dtype=torch.float64)           # a network's outputs, data units
    return y_train, y, pred


@pytest.mark.parametrize("standardise", [True, False])
def test_scores_in_the_targets_units_match_numpy_and_sklearn(standardise):
    y_train, y, pred = _data()
    units = TargetUnits.fit(y_train.float(), standardise)
    rmse, r2, mean_rmse = units.metrics()
    # what the network sees: standardised targets and outputs, or the raw ones
    z = units.encode((None, y.float()))[1]
    zp = pred.float() if units.scaler is None else units.scaler.encode(pred.float())
    yn, pn, mn = y.numpy(), pred.numpy(), y_train.numpy().mean(0)
    assert rmse(zp, z) == pytest.approx(np.sqrt(np.mean((pn - yn) ** 2)), rel=1e-5)
    assert r2(zp, z) == pytest.approx(r2_score(yn, pn), rel=1e-5)
    assert mean_rmse(zp, z) == pytest.approx(np.sqrt(np.mean((yn - mn) ** 2)), rel=1e-5)


def test_the_predictor_answers_in_the_targets_units():
    y_train, _, _ = _data()
    units = TargetUnits.fit(y_train.float())
    net = torch.nn.Identity()                                 # outputs z: the predictor gives z·sd + mean
    z = torch.tensor([[0.0, 1.0], [-2.0, 0.5]])
    sd, mean = y_train.numpy().std(0), y_train.numpy().mean(0)
    assert np.allclose(units.predictor(net)(z).numpy(), z.numpy() * sd + mean, rtol=1e-5)
    # the summary round-trips to the same units
    again = TargetUnits.from_summary({"target": units.to_summary()})
    assert torch.allclose(again.predictor(net)(z), units.predictor(net)(z))
    assert TargetUnits.from_summary({"target": None}) is None


def test_a_constant_target_column_keeps_sd_one():
    s = TargetScaler.fit(torch.tensor([[3.0, 1.0], [3.0, 2.0]]))
    assert s.std.tolist() == [1.0, 0.5] and s.encode(torch.tensor([[3.0, 2.0]])).tolist() == [[0.0, 1.0]]


def test_a_run_folder_from_before_scale_target_resumes_on_raw_targets(tmp_path):
    from deepnets.experiment.folder import read_experiment

    (tmp_path / "config.toml").write_text('[data]\nname = "function"\n[train]\nepochs = 3\n')
    assert read_experiment(tmp_path).data.scale_target is False       # trained before targets were scaled
    (tmp_path / "config.toml").write_text('[data]\nname = "function"\nscale_target = true\n')
    assert read_experiment(tmp_path).data.scale_target is True
