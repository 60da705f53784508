"""The CLI runner trains CNNs: cnn1d on MNIST-1D, LeNet-5 on digits as images, zoo kinds, and the
mistakes a TOML can make. Reduced settings here; the full examples are marked slow."""

import json
import os

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.experiment import MODEL_KINDS, evaluate_run, experiment_from_file, predict_run, run_experiment

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _run(tmp_path, example, *overrides):
    exp = experiment_from_file(os.path.join(EXAMPLES, example) if example else None,
                               [*overrides, f"run.out={json.dumps(str(tmp_path))}", "run.progress=false"])
    return run_experiment(exp, source=example or "experiment")


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_every_zoo_name_is_a_model_kind():
    from deepnets.zoo import ZOO

    assert set(ZOO) <= set(MODEL_KINDS) and {"mlp", "xor_step", "cnn1d"} <= set(MODEL_KINDS)


def test_cnn1d_on_mnist1d_beats_the_published_mlp_in_a_few_epochs(tmp_path):
    # reduced: 6 epochs of a 16-32-32 map network; the published MLP reaches 68% (Greydanus 2020)
    r = _run(tmp_path, "mnist1d_cnn.toml", "train.epochs=6", "train.early_stopping=false", "run.plots=false",
             "model.options={channels=[16, 32, 32], kernel_size=5, batch_norm=true, keep=0.7}", "run.name=m1")
    assert r.summary["n_test"] == 1000 and r.summary["output"] == "logits"
    assert r.test["accuracy"] >= 0.75
    # the reloaded run (front + network) reproduces its numbers
    again = evaluate_run(r.path)
    assert again["test"]["accuracy"] == pytest.approx(r.test["accuracy"])
    assert again["test"]["loss"] == pytest.approx(r.test["loss"], rel=1e-6)
    csv = tmp_path / "rows.csv"
    x = torch.zeros(2, 40)
    csv.write_text(",".join(f"t{i}" for i in range(40)) + "\n" + "\n".join(",".join("0" for _ in range(40))
                                                                           for _ in x) + "\n")
    header, rows = predict_run(r.path, csv, proba=True)
    assert header[0] == "prediction" and len(header) == 11
    assert all(sum(row[1:]) == pytest.approx(1.0, abs=1e-5) for row in rows)  # probabilities


def test_lenet5_on_digits_resized_and_padded_to_32x32(tmp_path):
    r = _run(tmp_path, "lenet5_digits.toml", "train.epochs=8", "train.early_stopping=false", "run.name=l1")
    assert (tmp_path / "l1" / "confusion.png").is_file()
    front = r.model.image
    assert front.output_shape == (1, 32, 32) and front.shift == 2
    assert r.summary["n_weights"] == 61706  # the modern LeNet-5 at 10 classes
    assert r.test["accuracy"] >= 0.9
    assert evaluate_run(r.path)["test"]["accuracy"] == pytest.approx(r.test["accuracy"])


def test_same_seed_same_cnn_run_with_shifts_and_dropout(tmp_path):
    args = ("train.epochs=2", "train.early_stopping=false", "run.plots=false", "data.split=[0.3, 0.1, 0.6]")
    a = _run(tmp_path, "lenet5_digits.toml", *args, "run.name=a")
    b = _run(tmp_path, "lenet5_digits.toml", *args, "run.name=b")
    c = _run(tmp_path, "lenet5_digits.toml", *args, "run.name=c", "train.seed=1")
    assert a.history["loss"] == b.history["loss"]
    assert a.history["loss"] != c.history["loss"]  # other shifts, noise and order


def test_published_lenet5_kind_trains_through_the_cli_path(tmp_path):
    r = _run(tmp_path, "lenet5_digits.toml", "model.kind=lenet5", "train.epochs=2", "train.early_stopping=false",
             "run.plots=false", "run.name=l0")
    assert r.summary["n_weights"] == 60000
    assert r.test["accuracy"] > 0.6  # 10% is chance; about 0.9 measured
    assert evaluate_run(r.path)["test"]["accuracy"] == pytest.approx(r.test["accuracy"])


@pytest.mark.parametrize("overrides,message", [
    (["model.kind=resnet7"], "model.kind must be one of"),
    (["model.kind=lenet5_modern"], "reads images: set data.view.shape"),
    (["model.kind=lenet5_modern", "data.view.shape=[1, 8, 9]"], "holds 72 values, the data has 64 features"),
    (["data.view.shape=[1, 8, 8]"], "'mlp' reads flat rows"),
    (["data.view.pad_to=[32, 32]"], "\\[data.view\\] needs shape"),
    (["data.pad_to=[32, 32]"], "data.pad_to is now data.view.pad_to"),
    (["model.kind=cnn1d", "model.output=softmax"], "outputs logits"),
    (["model.kind=cnn1d", "train.loss.name=lms"], "logit outputs trains with train.loss.name = 'cross_entropy'"),
    (["model.kind=cnn1d", "model.options={width=3}"], "model.options for cnn1d"),
    (["model.kind=lenet5", "data.view.shape=[1, 8, 8]", "data.view.pad_to=[30, 30]", "train.epochs=1"], "expects"),
])
def test_mistakes_in_the_experiment_raise_config_errors(tmp_path, overrides, message):
    from deepnets.errors import DeepnetsError

    with pytest.raises(DeepnetsError, match=message):
        _run(tmp_path, None, "run.plots=false", *overrides)


@pytest.mark.slow
def test_full_mnist1d_cnn_example_reaches_94_percent(tmp_path):
    r = _run(tmp_path, "mnist1d_cnn.toml", "run.plots=false")
    assert r.test["accuracy"] >= 0.94


@pytest.mark.slow
def test_full_lenet5_digits_example_reaches_99_percent(tmp_path):
    r = _run(tmp_path, "lenet5_digits.toml", "run.plots=false")
    assert r.test["accuracy"] >= 0.99
