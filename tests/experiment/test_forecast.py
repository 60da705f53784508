"""The forecast report of a series run: a perfect model scores 0 where the AR baseline does not,
the baseline is the least-squares fit on the training segment, and the horizon is checked."""

import pytest
import torch

from deepnets.config import experiment_from_dict
from deepnets.data.series import delay_taps, henon, narma10, segment_rows
from deepnets.errors import ConfigError
from deepnets.zoo.linear_ar import least_squares_ar
from deepnets.experiment.forecast import forecast_report, split_series


class Narma10(torch.nn.Module):
    """The true NARMA-10 map on delay taps [y_{t-1..t-10}, u_{t-1..t-10}]: a perfect forecaster."""

    def forward(self, x):
        yt, ut = x[:, :10], x[:, 10:]
        return (0.3 * yt[:, 0] + 0.05 * yt[:, 0] * yt.sum(1) + 1.5 * ut[:, 9] * ut[:, 0] + 0.1).unsqueeze(1)


def test_a_perfect_model_scores_zero_and_the_baseline_is_least_squares_on_train():
    d = narma10(600, seed=0)
    fr = (0.6, 0.2, 0.2)
    rep = forecast_report(Narma10().double(), d, fr, horizon=5)
    assert rep["baseline"] == "ARX(10, 10)" and rep["horizon"] == 5 and "variance" in rep["normaliser"]
    test = rep["segments"]["test"]
    lo, hi = segment_rows(len(d), fr)[2]
    assert test["times"] == [d.first + lo, d.first + hi]
    for part in (test["one_step"], test["iterated"]):
        assert part["model"]["nmse"] < 1e-10 and 0.02 < part["ar"]["nmse"] < 1.0
    assert test["iterated"]["origins"] == (hi - lo) - 4
    assert len(test["iterated"]["nmse_by_step"]["ar"]) == 5
    by_step = test["iterated"]["nmse_by_step"]
    assert by_step["ar"][-1] == test["iterated"]["ar"]["nmse"] and max(by_step["model"]) < 1e-10
    lo, hi = segment_rows(len(d), fr)[0]
    x, t = delay_taps(d.series, 10, d.exog, 10)
    w, c = least_squares_ar(x[lo:hi], t[lo:hi])
    torch.testing.assert_close(torch.tensor(rep["ar"]["weights"], dtype=torch.float64), w)
    assert abs(rep["ar"]["intercept"] - float(c)) < 1e-12


class Persistence(torch.nn.Module):
    """y_hat_t = y_{t-1}: iterated, every step repeats the last observation."""

    def forward(self, x):
        return x[:, :1]


def test_iterated_errors_of_a_persistence_forecast_have_a_closed_form():
    d = henon(300)
    h = 4
    rep = forecast_report(Persistence(), d, (0.5, 0.5), horizon=h)
    assert rep["baseline"] == "AR(2)" and set(rep["segments"]) == {"train", "val"}
    seg = rep["segments"]["val"]
    t_lo, t_hi = seg["times"]
    y = d.series
    t0 = torch.arange(t_lo, t_hi - h + 1)
    e = y[t0 + h - 1] - y[t0 - 1]                                 # h-step persistence error
    assert abs(seg["iterated"]["model"]["mse"] - float((e ** 2).mean())) < 1e-12
    target = y[t0 + h - 1]
    assert abs(seg["iterated"]["model"]["nmse"] - float((e ** 2).sum() / ((target - target.mean()) ** 2).sum())) < 1e-12
    one = y[t_lo:t_hi] - y[t_lo - 1:t_hi - 1]
    assert abs(seg["one_step"]["model"]["mse"] - float((one ** 2).mean())) < 1e-12
    # horizon 1: the iterated forecast is the one-step forecast
    rep1 = forecast_report(Persistence(), d, (0.5, 0.5), horizon=1)["segments"]["val"]
    assert rep1["iterated"]["model"] == rep1["one_step"]["model"] and rep1["iterated"]["ar"] == rep1["one_step"]["ar"]


def test_split_series_checks_the_horizon_before_training():
    d = narma10(300, seed=0)
    exp = experiment_from_dict({"data": {"name": "narma10", "split": [0.9, 0.07, 0.03], "horizon": 20}})
    with pytest.raises(ConfigError, match="data.horizon = 20 is longer than the last time segment"):
        split_series(exp, d)
    exp.data.horizon = 0
    with pytest.raises(ConfigError, match="data.horizon"):
        split_series(exp, d)
