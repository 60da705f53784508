"""``deepnets predict RUN FILE --interval LEVEL``: for a network with no hidden layer the Laplace
predictive is Bayesian linear regression, whose predictive variance 1/β + φᵀ(βΦᵀΦ + diag α)⁻¹φ
is checked in closed form; for classification the moderated probabilities lie between the
trained net's and 1/2 (probit moderation shrinks towards 1/2) with the same decision."""

import csv
import io

import numpy as np
import pytest
from scipy.stats import norm

from deepnets.cli import main
from deepnets.experiment import load_run
from deepnets.experiment import interval
from deepnets.experiment.interval import predict_interval
from deepnets.experiment.prepare import prepare


def _rows(text):
    return list(csv.reader(io.StringIO(text)))


def test_regression_interval_is_bayesian_linear_regression_for_a_linear_net(tmp_path, capsys, monkeypatch):
    assert main(["train", "--set", "data.name=function", "--set", "data.params={f='sin', n_samples=50}",
                 "--set", "data.scale='none'", "--set", "model.hidden=[]", "--set", "model.output='linear'",
                 "--set", "train.epochs=30", "--set", "train.optimizer.name='lbfgs'", "--set", "train.optimizer.lr=1.0",
                 "--set", "train.batch_size=0", "--set", "run.plots=false", "--set", "run.name=lin",
                 "--set", "data.scale_target=false", "--out", str(tmp_path), "--no-progress"]) == 0
    run = tmp_path / "lin"
    new = tmp_path / "new.csv"
    new.write_text("x1\n-1.0\n0.5\n4.0\n")
    capsys.readouterr()
    assert main(["predict", str(run), str(new), "--interval", "0.9"]) == 0
    out = _rows(capsys.readouterr().out)
    assert out[0] == ["z", "z_low", "z_high", "z_sd"]
    got = np.array(out[1:], dtype=float)
    _, _, info = predict_interval(run, new, 0.9)
    alpha, beta = info["alpha"].numpy(), float(info["beta"][0])
    exp, _, _, _ = load_run(run)
    x = prepare(exp)[1].train[0].double().numpy()
    Phi = np.hstack([x, np.ones((len(x), 1))])  # the layout's order: weight, then bias
    A = beta * Phi.T @ Phi + np.diag(alpha)
    phi = np.array([[-1.0, 1], [0.5, 1], [4.0, 1]])
    var = 1 / beta + np.einsum("ni,ij,nj->n", phi, np.linalg.inv(A), phi)
    np.testing.assert_allclose(got[:, 3], np.sqrt(var), rtol=1e-4, atol=1e-6)
    z = norm.ppf(0.95)
    np.testing.assert_allclose(got[:, 2] - got[:, 0], z * got[:, 3], rtol=1e-4, atol=2e-6)
    np.testing.assert_allclose(got[:, 0] - got[:, 1], z * got[:, 3], rtol=1e-4, atol=2e-6)
    assert got[2, 3] > got[1, 3]  # farther from the data, wider
    # beyond FULL_MAX_WEIGHTS: Kronecker-factored (exact for one linear layer), α = n/‖w‖², β = N/Σ residual²
    monkeypatch.setattr(interval, "FULL_MAX_WEIGHTS", 0)
    header, rows, info = predict_interval(run, new, 0.9)
    _, _, model, _ = load_run(run)
    w = np.concatenate([p.detach().double().numpy().reshape(-1) for p in model.parameters()])
    z_train = prepare(exp)[1].train[1].double().numpy()
    beta = len(x) / ((Phi @ w[:, None] - z_train) ** 2).sum()
    assert info["approx"] == "kron" and float(info["beta"][0]) == pytest.approx(beta, rel=1e-5)
    A = beta * Phi.T @ Phi + 2 / (w ** 2).sum() * np.eye(2)
    var = 1 / beta + np.einsum("ni,ij,nj->n", phi, np.linalg.inv(A), phi)
    np.testing.assert_allclose(np.array(rows, dtype=float)[:, 3], np.sqrt(var), rtol=1e-4, atol=1e-6)


def test_standardised_targets_come_back_in_their_units(tmp_path, capsys):
    assert main(["train", "--set", "data.name=function", "--set", "data.params={f='sin', n_samples=50}",
                 "--set", "model.hidden=[4]", "--set", "train.epochs=20", "--set", "train.optimizer.name='lbfgs'",
                 "--set", "train.optimizer.lr=1.0", "--set", "train.batch_size=0", "--set", "run.plots=false",
                 "--set", "run.name=std", "--out", str(tmp_path), "--no-progress"]) == 0
    new = tmp_path / "new.csv"
    new.write_text("x1\n-1.0\n0.5\n")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "std"), str(new)]) == 0
    plain = np.array(_rows(capsys.readouterr().out)[1:], dtype=float)
    header, rows, info = predict_interval(tmp_path / "std", new, 0.95)
    assert info["units"].scaler is not None  # the net learnt standardised targets
    got = np.array(rows, dtype=float)
    np.testing.assert_allclose(got[:, 0], plain[:, 0], atol=2e-6)  # the mean is deepnets predict's, in units
    sd_z = info["units"].scaler.std.item()
    assert (got[:, 3] > 0).all() and (got[:, 3] >= sd_z / np.sqrt(float(info["beta"][0])) - 1e-6).all()


def test_classification_gives_moderated_probabilities(tmp_path, capsys):
    assert main(["train", "--set", "data.name=parity", "--set", "data.params={n_bits=3}",
                 "--set", "data.split=[1.0, 0.0, 0.0]", "--set", "model.hidden=[4]", "--set", "train.epochs=60",
                 "--set", "train.batch_size=0", "--set", "run.plots=false", "--set", "run.name=c",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    new = tmp_path / "new.csv"
    new.write_text("x1,x2,x3\n0,0,0\n1,0,1\n1,1,1\n")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "c"), str(new), "--proba"]) == 0
    plain_rows = _rows(capsys.readouterr().out)
    plain = np.array(plain_rows[1:], dtype=float)
    assert main(["predict", str(tmp_path / "c"), str(new), "--interval", "0.95"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows[0] == plain_rows[0] == ["prediction", "p_0", "p_1"]
    mod = np.array(rows[1:], dtype=float)
    np.testing.assert_allclose(mod[:, 1:].sum(1), 1.0, atol=1e-5)
    assert (np.abs(mod[:, -1] - 0.5) <= np.abs(plain[:, -1] - 0.5) + 1e-6).all()
    assert (mod[:, 0] == plain[:, 0]).all()


def test_a_level_outside_0_1_is_one_line(tmp_path, capsys):
    assert main(["predict", str(tmp_path), str(tmp_path / "x.csv"), "--interval", "95"]) == 2
    assert "in (0, 1), got 95" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0", "1"])
def test_the_ends_are_refused(tmp_path, bad):
    with pytest.raises(Exception, match="in \\(0, 1\\)"):
        predict_interval(tmp_path, tmp_path / "x.csv", float(bad))
