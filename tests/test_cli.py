"""The command line end to end: train (file + --set), evaluate, predict, datasets, and errors
that print one line and exit 2."""

import json
import os
import subprocess
import sys

import pytest
import torch

from deepnets.cli import main

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def _train(tmp_path, *args):
    return main(["train", *args, "--out", str(tmp_path), "--no-progress"])


def test_train_evaluate_predict(tmp_path, capsys):
    assert _train(tmp_path, "--set", "data.name=parity", "--set", "data.params={n_bits=3}",
                  "--set", "data.split=[0.75, 0.0, 0.25]", "--set", "data.stratify=false",
                  "--set", "model.hidden=[6]", "--set", "train.epochs=30", "--set", "train.batch_size=0",
                  "--set", "run.name=p3") == 0
    out = capsys.readouterr().out
    assert "run written to" in out
    run = tmp_path / "p3"
    for f in ("config.toml", "metrics.jsonl", "weights.safetensors", "summary.json", "learning_curve.png",
              "confusion.png"):
        assert (run / f).is_file(), f
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 30 and json.loads(lines[0])["epoch"] == 1
    summary = json.loads((run / "summary.json").read_text())
    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    # evaluation of the reloaded model reproduces the numbers the run recorded
    assert f"{summary['metrics']['test']['loss']:.4f}" in out
    csv = tmp_path / "new.csv"
    csv.write_text("x3,x1,x2\n1,0,0\n1,1,0\n")
    assert main(["predict", str(run), str(csv), "--proba"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "prediction,p_0,p_1" and len(out) == 3


def test_config_toml_round_trips_into_a_new_run(tmp_path, capsys):
    assert _train(tmp_path, os.path.join(EXAMPLES, "xor_steps_1.toml"), "--set", "run.name=a") == 0
    assert _train(tmp_path, str(tmp_path / "a" / "config.toml"), "--set", "run.name=b") == 0
    assert (tmp_path / "a" / "config.toml").read_text() == (tmp_path / "b" / "config.toml").read_text().replace(
        'name = "b"', 'name = "a"')


@pytest.mark.parametrize("args,message", [
    (["--set", "train.epoch=3"], "unknown key 'train.epoch'; did you mean 'train.epochs'?"),
    (["--set", "train.optimizer.lr=fast"], "train.optimizer.lr must be float"),
    (["--set", "train.lr=0.1"], "train.lr is now train.optimizer.lr"),
    (["--set", "train.early_stopping.patince=3"],
     "unknown key 'train.early_stopping.patince'; did you mean 'train.early_stopping.patience'?"),
    (["--set", "data.name=digitz"], "unknown dataset 'digitz'"),
    (["--set", "model.activation=tanhh"], "unknown activation 'tanhh'"),
    (["--set", "trainlr=3"], "--set key must be section.key"),
    (["--set", "train.optimizer.options={nesterovv=true}"], "'adam': got an unexpected keyword argument 'nesterovv'"),
    (["--set", "train.penalty.options={gama=1}"], "unexpected keyword argument 'gama'"),
])
def test_user_errors_print_one_line_and_exit_2(tmp_path, capsys, args, message):
    assert _train(tmp_path, *args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepnets: error: ") and message in err and "\n" not in err
    assert not any(tmp_path.iterdir())  # caught before a run folder is made


def test_missing_files(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.toml")]) == 2
    assert "no such experiment file" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_bad_csv_for_training(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n1,2,0\n3,nan,1\n" + "1,1,0\n" * 20)
    code = _train(tmp_path, "--set", "data.name=csv", "--set", f'data.params={{path="{csv}", target="y"}}')
    assert code == 2
    assert "line 3, column 'b': NaN" in capsys.readouterr().err


def test_datasets_listing(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("xor", "parity", "function", "digits", "mnist1d", "csv", "npz"):
        assert name in out


def test_module_entry_point_and_costates_plot(tmp_path):
    r = subprocess.run([sys.executable, "-m", "deepnets", "train", "--set", "data.name=xor",
                        "--set", "data.split=[1.0, 0.0, 0.0]", "--set", "model.hidden=[3,3,3]",
                        "--set", "model.activation=logistic", "--set", "train.epochs=5", "--costates",
                        "--set", "run.name=c", "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "epoch 5/5" in r.stderr  # the plain-lines progress when not a terminal
    assert (tmp_path / "c" / "costates.png").is_file()
    norms = json.loads((tmp_path / "c" / "summary.json").read_text())["costate_norms"]
    assert len(norms["initial weights"]) == 4


def test_models_listing(capsys):
    assert main(["models", "lenet5", "resnet18"]) == 0
    out = capsys.readouterr().out
    assert "60,000" in out and "11,689,512" in out
    assert main(["models", "resnet19"]) == 2
    assert "unknown model 'resnet19'" in capsys.readouterr().err


def test_sigterm_writes_a_checkpoint_exits_75_and_resume_finishes_bit_for_bit(tmp_path):
    import signal
    import time

    from safetensors.torch import load_file

    args = ["--set", "data.name=parity", "--set", "data.params={n_bits=6}", "--set", "model.hidden=[32]",
            "--set", "train.epochs=120", "--set", "train.batch_size=8", "--set", "train.checkpoint.every_epochs=0",
            "--set", "train.input_noise=0.01", "--out", str(tmp_path), "--no-progress"]
    assert main(["train", *args, "--set", "run.name=full"]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "deepnets", "train", *args, "--set", "run.name=cut"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "cut" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not metrics.exists() or len(metrics.read_text().splitlines()) < 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 75, err
    assert "interrupted at epoch " in err and "(SIGTERM)" in err
    assert f"continue with: deepnets train --resume {(tmp_path / 'cut').resolve()}" in err
    assert not (tmp_path / "cut" / "weights.safetensors").exists()
    assert main(["train", "--resume", str(tmp_path / "cut")]) == 0
    full = load_file(tmp_path / "full" / "weights.safetensors")
    cut = load_file(tmp_path / "cut" / "weights.safetensors")
    assert full.keys() == cut.keys() and all(torch.equal(full[k], cut[k]) for k in full)
    assert (tmp_path / "full" / "metrics.jsonl").read_text() == (tmp_path / "cut" / "metrics.jsonl").read_text()


def test_weights_of_another_architecture_are_refused_naming_keys(tmp_path, capsys):
    assert _train(tmp_path, "--set", "data.name=xor", "--set", "data.split=[1.0, 0.0, 0.0]",
                  "--set", "train.epochs=2", "--set", "run.name=a") == 0
    cfg = tmp_path / "a" / "config.toml"
    cfg.write_text(cfg.read_text().replace("hidden = [100]", "hidden = [7, 5]"))
    assert main(["evaluate", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "layers.2.weight" in err and "mis-shaped" in err


def test_an_mlp_too_big_for_memory_is_refused_before_anything_is_allocated(tmp_path, capsys):
    import resource
    hidden = [100000, 100000]   # 1e10 weights: 149 GiB to train, more than any machine these tests run on
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert _train(tmp_path, "--set", "data.name=digits", "--set", f"model.hidden={hidden}") == 2
    err = capsys.readouterr().err
    n = (64 + 1) * 100000 + (100000 + 1) * 100000 + (100000 + 1) * 10
    assert f"{n:,} weights" in err and "memory" in err and len(err.strip().splitlines()) == 1, err
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000   # KiB: no 40 GB tensor was made
    assert os.listdir(tmp_path) == []
