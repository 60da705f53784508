"""The CLI runner trains the recurrent model kinds (gru, lstm, elman) on MNIST-1D as sequences of
40 one-value steps. Reduced settings; examples/mnist1d_gru.toml is the full run
(benchmarks/results/mnist1d_gru.json)."""

import json
import os

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.zoo.seq_classifier import SequenceClassifier
from deepnets.experiment import MODEL_KINDS, evaluate_run, experiment_from_file, run_experiment

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _run(tmp_path, *overrides):
    # 600 sequences (432 train / 48 val / 120 test) keep the generator's time small
    exp = experiment_from_file(os.path.join(EXAMPLES, "mnist1d_gru.toml"),
                               ["data.params={num_samples=600}", *overrides, f"run.out={json.dumps(str(tmp_path))}", "run.progress=false",
                                "run.plots=false", "train.early_stopping=false"])
    return run_experiment(exp, source="mnist1d_gru.toml")


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_recurrent_kinds_are_logit_classifiers():
    assert all(MODEL_KINDS[k][1] == "logits" for k in ("gru", "lstm", "elman"))


def test_gru_kind_trains_through_the_run_path(tmp_path):
    r = _run(tmp_path, "train.epochs=10", "run.name=g")
    net = r.model.net                     # the example's ToImage front (shifts), then the classifier
    assert isinstance(net, SequenceClassifier) and net.kind == "gru" and net.backward_core is not None
    assert r.summary["n_weights"] == 5098 and r.summary["output"] == "logits" and r.summary["n_test"] == 120
    assert r.history["loss"][-1] < r.history["loss"][0]
    assert r.test["accuracy"] >= 0.2      # chance is 0.1 (sd 0.03 on 120); about 0.3 after 10 epochs
    again = evaluate_run(r.path)          # the run folder rebuilds the same network
    assert again["test"]["accuracy"] == pytest.approx(r.test["accuracy"])


def test_lstm_kind_reads_channels_first_sequences_from_the_front(tmp_path):
    r = _run(tmp_path, "model.kind=lstm", "train.epochs=1", "run.name=l",
             "model.options={hidden_size=4, peepholes=false, readout=\"last\"}")
    net = r.model.net                     # ToImage front, then the classifier
    assert isinstance(net, SequenceClassifier) and net.forward_core.peepholes is False
    assert r.summary["n_weights"] == 4 * 4 * 6 + 5 * 10


def test_elman_kind_reads_flat_rows_without_a_front(tmp_path):
    r = _run(tmp_path, "model.kind=elman", "data.view=false", "train.epochs=1", "run.name=e",
             "model.options={hidden_size=3}")
    assert isinstance(r.model, SequenceClassifier) and r.model.kind == "elman"
    assert r.summary["n_weights"] == 3 * (1 + 3 + 1) + 4 * 10


@pytest.mark.parametrize("overrides, message", [
    (["model.options={hidden=6}"], "options for the gru core: .*'hidden'"),
    (["model.options={readout=\"mean\"}"], "unknown readout 'mean'"),
    (["data.view.shape=[1, 5, 8]"], "data.view.shape must be \\[C, L\\]"),
    (["model.output=softmax"], "outputs logits"),
])
def test_recurrent_kind_mistakes(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        _run(tmp_path, "train.epochs=1", *overrides)
