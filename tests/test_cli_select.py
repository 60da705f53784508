import json
import os

import pytest

from deepnets.cli import main

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")
SMALL = ["--set", "data.params={f='sin', n_samples=120}", "--set", "train.epochs=15"]


def test_select_prints_the_table_and_writes_json_and_plot(tmp_path, capsys):
    out_dir = tmp_path / "sel"
    with pytest.warns(UserWarning, match="examples for"):
        code = main(["select", os.path.join(EXAMPLES, "sin.toml"), "--hidden", "1,3,6", *SMALL, "--out", str(out_dir)])
    assert code == 0
    out = capsys.readouterr().out
    assert "size  weights" in out and "PE" in out and str(out_dir) in out
    table = json.loads((out_dir / "select.json").read_text())
    assert [r["size"] for r in table["rows"]] == [1, 3, 6]
    assert [r["weights"] for r in table["rows"]] == [4, 10, 19]
    N, s2 = table["n_train"], table["sigma2"]
    for r in table["rows"]:
        assert r["pe"] == pytest.approx(r["train_error"] + 2 * r["weights"] * s2 / N)
        assert f"{r['pe']:.5g}" in out
    big = table["rows"][-1]
    assert s2 == pytest.approx(big["train_error"] * N / (N - big["weights"]))  # the largest net's residual variance
    assert (out_dir / "select.png").stat().st_size > 1000


def test_select_with_cross_validation(tmp_path, capsys):
    with pytest.warns(UserWarning):
        code = main(["select", os.path.join(EXAMPLES, "sin.toml"), "--hidden", "2", "--cv", "3", "--sigma2", "0.01",
                     *SMALL, "--out", str(tmp_path)])
    assert code == 0
    table = json.loads((tmp_path / "select.json").read_text())
    assert table["heldout"] == "3-fold CV" and table["sigma2"] == 0.01
    assert "3-fold CV error" in capsys.readouterr().out


@pytest.mark.parametrize("hidden", ["2,x", "0,4", ","])
def test_select_rejects_bad_sizes(tmp_path, capsys, hidden):
    assert main(["select", os.path.join(EXAMPLES, "sin.toml"), "--hidden", hidden, "--out", str(tmp_path)]) == 2
    assert "--hidden takes comma-separated positive integers" in capsys.readouterr().err


def test_select_needs_a_held_out_measure(tmp_path, capsys):
    code = main(["select", os.path.join(EXAMPLES, "sin.toml"), "--hidden", "2", "--set", "data.split=[0.8, 0.0, 0.2]",
                 "--out", str(tmp_path)])
    assert code == 2
    assert "--cv K" in capsys.readouterr().err


def test_select_with_the_632_bootstrap(tmp_path, capsys):
    import warnings

    from deepnets.experiment import build_model, experiment_from_file
    from deepnets.experiment.build import loss_for
    from deepnets.experiment.prepare import prepare, scaled
    from deepnets.experiment.run import fit_arguments
    from deepnets.experiment.targets import TargetUnits
    from deepnets.train.select import bootstrap_632, fit_experiment

    args = [os.path.join(EXAMPLES, "sin.toml"), "--hidden", "2", "--bootstrap", "3", "--sigma2", "0.01", *SMALL]
    assert main(["select", *args, "--out", str(tmp_path)]) == 0
    table = json.loads((tmp_path / "select.json").read_text())
    assert table["heldout"] == ".632 bootstrap (B = 3)"
    # the same estimate from the library's bootstrap on the experiment's training split
    exp = experiment_from_file(args[0], [s for s in SMALL if s != "--set"] + ["model.hidden=[2]"])
    data, parts, scaler, _ = prepare(exp)
    loss = loss_for(exp, data, "linear")
    build = lambda: build_model(exp, 1, 1, "linear")  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the small-training-set warning (given once per process)
        want = bootstrap_632(fit_experiment(build, **fit_arguments(exp, loss)),
                             TargetUnits.fit(parts.train[1]).encode(scaled(scaler, parts.train)), 3,
                             seed=exp.train.seed).error
    assert table["rows"][0]["heldout_error"] == pytest.approx(want, rel=1e-6)
    assert main(["select", *args, "--cv", "3", "--out", str(tmp_path)]) == 2
    assert "--cv K or --bootstrap B, not both" in capsys.readouterr().err


def test_select_learns_standardised_regression_targets_as_train_does(tmp_path, capsys):
    """The same data in other units (targets × 1000) gives the same table, as deepnets train would
    learn the same network: errors in standardised units, the std kept to convert them."""
    import numpy as np
    g = np.random.default_rng(0)
    x = g.uniform(-2, 2, (150, 2))
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] + 0.05 * g.standard_normal(150)
    tables = []
    for scale in (1.0, 1000.0):
        csv = tmp_path / f"d{scale:g}.csv"
        csv.write_text("a,b,t\n" + "\n".join(f"{u:.6f},{v:.6f},{w * scale:.9g}" for (u, v), w in zip(x, y)))
        out = tmp_path / f"sel{scale:g}"
        assert main(["select", "--hidden", "2,4", "--set", "data.name=csv", "--set",
                     f'data.params={{path="{csv.as_posix()}", target="t"}}', "--set", "train.epochs=20",
                     "--set", "model.output=linear", "--out", str(out)]) == 0
        tables.append(json.loads((out / "select.json").read_text()))
    assert "standardised targets" in capsys.readouterr().out
    a, b = tables
    assert b["target_std"][0] == pytest.approx(1000 * a["target_std"][0], rel=1e-6)
    for ra, rb in zip(a["rows"], b["rows"]):
        for k in ("train_error", "heldout_error", "pe"):
            assert rb[k] == pytest.approx(ra[k], rel=1e-3), k
