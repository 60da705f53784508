"""`deepnets train` on a user's CSV series: NARX MLP with a weight-elimination penalty, time split,
forecasts beside the ARX least-squares baseline in summary.json and on the screen."""

import json
import os

import numpy as np
import torch

from deepnets.cli import main
from deepnets.data.series import delay_taps, narma10_series, segment_rows

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def _write_csv(path, T=700):
    y, u = narma10_series(T, generator=torch.Generator().manual_seed(7))
    lines = ["step,u,y"] + [f"{t},{float(u[t])!r},{float(y[t])!r}" for t in range(T)]
    path.write_text("\n".join(lines) + "\n")
    return y.numpy(), u.numpy()


def _toml(tmp_path, csv, extra=""):
    exp = tmp_path / "series.toml"
    exp.write_text(f"""
[data]
name = "series"
params = {{ path = "{csv.as_posix()}", column = "y", lags = 10, inputs = ["u"], input_lags = 10 }}
split = [0.7, 0.1, 0.2]
horizon = 5

[model]
hidden = [12]

[train]
epochs = 60
batch_size = 32
{extra}
[train.optimizer]
name = "adam"
lr = 0.01

[train.penalty]
name = "weight_elimination"
options = {{ gamma = 1e-5, w0 = 1.0 }}

[run]
name = "s"
plots = false
""")
    return exp


def test_train_on_a_csv_series_writes_forecasts_beside_the_arx_baseline(tmp_path, capsys):
    csv = tmp_path / "narma.csv"
    y, u = _write_csv(csv)
    assert main(["train", str(_toml(tmp_path, csv)), "--out", str(tmp_path), "--no-progress",
                 "--set", "run.plots=true"]) == 0
    out = capsys.readouterr().out
    assert "forecast on the test segment" in out and "ARX(10, 10) MSE" in out and "iterated 5-step" in out
    run = tmp_path / "s"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["feature_names"][:2] == ["y[t-1]", "y[t-2]"] and summary["feature_names"][10] == "u[t-1]"
    assert (summary["n_train"], summary["n_val"], summary["n_test"]) == (483, 69, 138)
    rep = summary["forecast"]
    assert rep["baseline"] == "ARX(10, 10)" and rep["horizon"] == 5
    test = rep["segments"]["test"]
    assert test["times"] == [10 + 483 + 69, 700]
    # the baseline is least squares on the training segment of the file, solved here by numpy
    x, t = delay_taps(torch.from_numpy(y), 10, torch.from_numpy(u), 10)
    x, t = x.numpy(), t.numpy()[:, 0]
    (lo, hi), _, (tlo, thi) = segment_rows(len(t), [0.7, 0.1, 0.2])
    A = np.hstack([x, np.ones((len(x), 1))])
    theta, *_ = np.linalg.lstsq(A[lo:hi], t[lo:hi], rcond=None)
    e = A[tlo:thi] @ theta - t[tlo:thi]
    assert abs(test["one_step"]["ar"]["mse"] - np.mean(e ** 2)) < 1e-9 * np.mean(e ** 2) + 1e-15
    assert abs(test["one_step"]["ar"]["nmse"] - np.mean(e ** 2) / np.var(t[tlo:thi])) < 1e-6
    # the targets were standardised on the training segment (numpy's mean and sd of its targets) ...
    target = summary["target"]
    assert target["standardised"] and abs(target["mean"][0] - t[lo:hi].mean()) < 1e-6
    assert abs(target["std"][0] - t[lo:hi].std()) < 1e-6
    # ... so the network's one-step MSE (in the series' units) is the test loss measured on the
    # standardised targets (lms = MSE / 2) times sd², and the test RMSE squared
    m, sd = test["one_step"]["model"], target["std"][0]
    assert abs(m["mse"] - 2 * summary["metrics"]["test"]["loss"] * sd ** 2) < 1e-3 * m["mse"]
    assert abs(m["mse"] - summary["metrics"]["test"]["rmse"] ** 2) < 1e-3 * m["mse"]
    assert np.isfinite(test["iterated"]["model"]["nmse"]) and len(test["iterated"]["nmse_by_step"]["model"]) == 5
    assert (run / "forecast.png").stat().st_size > 1000
    assert len((run / "metrics.jsonl").read_text().splitlines()) == summary["epochs_run"] > 0
    # re-evaluating the saved run rebuilds the same time split
    assert main(["evaluate", str(run)]) == 0
    from deepnets.cli import _num

    out = capsys.readouterr().out
    assert _num(summary['metrics']['test']['loss']) in out  # as the CLI prints it
    # and the forecast table again, recomputed from the folder: the same figures as at training
    from deepnets.cli import _forecast_lines

    assert "\n".join(_forecast_lines(summary["forecast"])) in out
    # predicting from the CSV gives the one-step forecasts (those of the test segment score as the
    # run did) and, with an input column, the one next step past the data
    assert main(["predict", str(run), str(csv), "--out", str(tmp_path / "f.csv")]) == 0
    rows = (tmp_path / "f.csv").read_text().splitlines()
    assert rows[0] == "t,y,forecast" and len(rows) == 1 + 690 + 1 and rows[-1].startswith("700,,")
    f = np.array([float(r.split(",")[2]) for r in rows[1 + tlo:1 + thi]])
    assert abs(np.mean((f - t[tlo:thi]) ** 2) - m["mse"]) < 1e-6 * m["mse"]
    # scoring a new series file: its last 200 steps alone, forecast from its own taps (t >= 10 in it)
    new = tmp_path / "new.csv"
    new.write_text("\n".join(["step,u,y"] + [f"{k},{float(u[k])!r},{float(y[k])!r}" for k in range(500, 700)]) + "\n")
    capsys.readouterr()
    assert main(["evaluate", str(run), "--data", str(new)]) == 0
    out = capsys.readouterr().out
    assert "forecast on the file (t = 10..199)" in out and "iterated 5-step" in out
    from deepnets.experiment.inspect import evaluate_file

    seg = evaluate_file(run, new)["forecast"]["segments"]["file"]
    full = np.array([float(r.split(",")[2]) for r in rows[1 + 500:1 + 690]])   # forecasts of t = 510..699
    assert abs(seg["one_step"]["model"]["mse"] - np.mean((full - y[510:700]) ** 2)) < 1e-6 * seg["one_step"]["model"]["mse"]
    e = A[500:690] @ theta - t[500:690]     # the run's own AR, not refitted on the new file
    assert abs(seg["one_step"]["ar"]["mse"] - np.mean(e ** 2)) < 1e-9 * np.mean(e ** 2)


def test_series_config_errors_name_the_key(tmp_path, capsys):
    csv = tmp_path / "narma.csv"
    _write_csv(csv, T=200)
    exp = _toml(tmp_path, csv)
    base = ["train", str(exp), "--out", str(tmp_path), "--no-progress"]
    assert main([*base, "--set", "data.horizn=3"]) == 2
    assert "unknown key 'data.horizn'; did you mean 'data.horizon'?" in capsys.readouterr().err
    assert main([*base, "--set", "data.horizon=100"]) == 2
    assert "data.horizon = 100 is longer than the last time segment" in capsys.readouterr().err
    assert main([*base, "--set", 'data.params={path="' + csv.as_posix() + '", column="v"}']) == 2
    assert "missing column(s) ['v']" in capsys.readouterr().err
    assert main(["select", str(exp), "--hidden", "2,4", "--cv", "3", "--out", str(tmp_path / "sel")]) == 2
    assert "mixes past and future rows" in capsys.readouterr().err


def test_a_bad_value_in_the_series_stops_the_run_naming_line_and_column(tmp_path, capsys):
    csv = tmp_path / "narma.csv"
    _write_csv(csv, T=60)
    lines = csv.read_text().splitlines()
    lines[31] = lines[31].rsplit(",", 1)[0] + ",inf"
    csv.write_text("\n".join(lines) + "\n")
    assert main(["train", str(_toml(tmp_path, csv)), "--out", str(tmp_path), "--no-progress"]) == 2
    assert "line 32, column 'y': infinite value" in capsys.readouterr().err


def test_narma10_example_beats_the_arx_baseline_clearly(tmp_path, capsys):
    # the example with 40 epochs instead of 300 (measured: NMSE 0.011 one-step, 0.026 iterated
    # 10-step, against 0.091 and 0.129 for ARX(10, 10))
    code = main(["train", os.path.join(EXAMPLES, "narma10.toml"), "--out", str(tmp_path), "--no-progress",
                 "--set", "train.epochs=40", "--set", "run.plots=false", "--set", "run.name=n"])
    assert code == 0
    test = json.loads((tmp_path / "n" / "summary.json").read_text())["forecast"]["segments"]["test"]
    for kind in ("one_step", "iterated"):
        assert test[kind]["model"]["nmse"] < test[kind]["ar"]["nmse"] / 3, kind


def test_predict_forecasts_a_pure_series_past_its_end(tmp_path, capsys):
    from deepnets.data.series import henon_series
    from deepnets.experiment import load_run

    x = henon_series(300)
    csv = tmp_path / "h.csv"
    csv.write_text("x\n" + "".join(f"{float(v)!r}\n" for v in x))
    args = ["train", "--out", str(tmp_path), "--no-progress", "--set", "data.name=series",
            "--set", f'data.params={{path="{csv.as_posix()}", column="x", lags=2}}', "--set", "data.horizon=3",
            "--set", "data.split=[0.8, 0.2]", "--set", "model.hidden=[8]", "--set", "train.optimizer.name=lbfgs",
            "--set", "train.optimizer.lr=1.0", "--set", "train.batch_size=0", "--set", "train.epochs=15",
            "--set", "run.name=h", "--set", "run.plots=false"]
    assert main(args) == 0
    assert "AR(2) MSE" in capsys.readouterr().out
    assert main(["predict", str(tmp_path / "h"), str(csv)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "t,x,forecast" and len(rows) == 1 + 298 + 3
    assert [r.split(",")[0] for r in rows[-3:]] == ["300", "301", "302"]
    # the forecasts past the end: the model fed its own outputs, computed here step by step
    _, summary, model, scaler = load_run(tmp_path / "h")
    mean, sd = summary["target"]["mean"][0], summary["target"]["std"][0]  # the network learnt (x − mean) / sd
    taps = [float(x[-1]), float(x[-2])]
    for r in rows[-3:]:
        with torch.no_grad():
            nxt = float(model(scaler(torch.tensor([taps], dtype=torch.float32)))[0, 0]) * sd + mean
        assert abs(float(r.split(",")[2]) - nxt) < 1e-6
        taps = [nxt, taps[0]]
