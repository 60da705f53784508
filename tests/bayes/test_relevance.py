"""`deepnets relevance RUN`: ARD from a trained run's weights and data, printed and plotted."""

import numpy as np
import pytest

from deepnets.cli import main


def test_relevance_command_ranks_the_relevant_inputs_first(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 6)).astype(np.float32)
    y = (np.sin(1.5 * x[:, 0]) + 0.8 * x[:, 1] * x[:, 2] + 0.5 * x[:, 1] + 0.05 * rng.normal(size=240)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=y[:, None])
    args = ["train", "--out", str(tmp_path), "--no-progress", "--set", "data.name=npz",
            "--set", f"data.params={{path='{tmp_path / 'd.npz'}', task='regression'}}",
            "--set", "data.split=[0.8, 0.0, 0.2]", "--set", "data.stratify=false",
            "--set", "model.hidden=[5]", "--set", "model.output='linear'", "--set", "train.loss.name='lms'",
            "--set", "train.optimizer.name='lbfgs'", "--set", "train.optimizer.lr=1.0", "--set", "train.batch_size=0",
            "--set", "train.epochs=20", "--set", "run.name=r", "--set", "run.plots=false",
            "--set", "train.penalty.name='weight_decay'", "--set", "train.penalty.options={gamma=0.01}"]
    assert main(args) == 0
    capsys.readouterr()
    run = tmp_path / "r"
    assert main(["relevance", str(run), "--rounds", "8", "--inner", "100"]) == 0
    out = capsys.readouterr().out.splitlines()
    ranked = [line.split()[0] for line in out[1:7]]
    assert set(ranked[:3]) == {"x0", "x1", "x2"}, out
    alphas = {line.split()[0]: float(line.split()[1]) for line in out[1:7]}
    assert min(alphas[k] for k in ("x3", "x4", "x5")) >= 10 * max(alphas[k] for k in ("x0", "x1", "x2")), out
    assert out[-2].startswith("beta")
    assert (run / "relevance.png").stat().st_size > 1000
    sens = [float(line.split()[4]) for line in out[1:7]]
    assert sens == sorted(sens, reverse=True) and "sorted by sensitivity" in out[0], out
    assert all(0 <= float(line.split()[3]) <= 5 for line in out[1:7]), out  # γ_j of 5 outgoing weights


def test_relevance_by_gradient_on_the_log_evidence(tmp_path, capsys):
    """--method evidence (gradient on the log evidence) with a Gamma hyper-prior; the rows are ranked
    by the sensitivity, which puts the linear input x1 (z = 0.5 x1 + sin 2x0) above the noise x2."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3)).astype(np.float32)
    y = (np.sin(2 * x[:, 0]) + 0.5 * x[:, 1] + 0.1 * rng.normal(size=300)).astype(np.float32)
    np.savez(tmp_path / "d.npz", x=x, y=y[:, None])
    args = ["train", "--out", str(tmp_path), "--no-progress", "--set", "data.name=npz",
            "--set", f"data.params={{path='{tmp_path / 'd.npz'}', task='regression'}}",
            "--set", "data.split=[0.8, 0.0, 0.2]", "--set", "data.stratify=false",
            "--set", "model.hidden=[4]", "--set", "model.output='linear'", "--set", "train.loss.name='lms'",
            "--set", "train.optimizer.name='lbfgs'", "--set", "train.optimizer.lr=1.0", "--set", "train.batch_size=0",
            "--set", "train.epochs=10", "--set", "run.name=r", "--set", "run.plots=false"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["relevance", str(tmp_path / "r"), "--method", "evidence", "--rounds", "4", "--inner", "50",
                 "--hyper", "1", "0", "2", "0.01"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[1:4]] == ["x0", "x1", "x2"], out
    with pytest.raises(SystemExit) as stop:
        main(["relevance", str(tmp_path / "r"), "--method", "gradient"])
    assert stop.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_relevance_of_a_missing_run_is_a_one_line_error(tmp_path, capsys):
    assert main(["relevance", str(tmp_path / "nope")]) == 2
    assert "not a run folder" in capsys.readouterr().err
