"""AdaptiveLambda (Weigend et al.'s rule for lambda) as fit's penalty, from a TOML file, and resumed."""

import json

import pytest
import torch

from deepnets import MLP, fit
from deepnets.config import experiment_from_dict
from deepnets.errors import ConfigError
from deepnets.experiment import run_experiment
from deepnets.experiment.run import fit_arguments
from deepnets.regularizers import AdaptiveLambda, WeightDecay, WeightElimination, weight_elimination_penalty
from deepnets.train.callbacks import Checkpointer
from deepnets.train.checkpoint import CheckpointManager


def _data(n=40):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    return x, torch.sin(x[:, :1]) + 0.3 * torch.randn(n, 1, generator=g, dtype=torch.float64)


def test_the_callback_watches_the_loss_less_the_epochs_mean_penalty():
    """Epochs fed by hand: E_n = loss − Σ_b P_b N_b / Σ_b N_b, then the three branches."""
    rule = AdaptiveLambda(WeightDecay(gamma=1e-3), target_error=0.5, delta_lambda=1e-4, cut=0.9, average=0.5)
    rule.on_train_begin()

    def epoch(loss, penalties):  # penalties: (P_b, N_b) of the epoch's batches
        rule.on_epoch_begin(0)
        for P, n in penalties:
            rule._last = torch.tensor(P)
            rule.on_batch_end(0, {"size": n})
        logs = {"loss": loss}
        rule.on_epoch_end(0, logs)
        return logs["lambda"]

    # E_1 = 2.1 - (0.1*3 + 0.1*1)/4 = 2.0: the first epoch sets A_1 = 2.0 and changes nothing
    assert epoch(2.1, [(0.1, 3), (0.1, 1)]) == pytest.approx(1e-3)
    # E_2 = 1.3 - (0.2*2 + 0.5*2)/4 = 0.95 < E_1: increment to 1.1e-3 (A_2 = 1.475)
    assert epoch(1.3, [(0.2, 2), (0.5, 2)]) == pytest.approx(1.1e-3)
    # E_3 = 1.0 >= E_2, < A_3 = 1.2375, >= D: decrement to 1.0e-3
    assert epoch(1.25, [(0.25, 4)]) == pytest.approx(1.0e-3)
    # E_4 = 1.2 >= E_3, < A_4 = 0.5*1.2375 + 0.5*1.2 = 1.21875, >= D: decrement to 0.9e-3
    assert epoch(1.2, []) == pytest.approx(0.9e-3)
    # E_5 = 1.5 >= E_4, >= A_5 = 1.359375, >= D: cut to 0.81e-3
    assert epoch(1.5, []) == pytest.approx(0.81e-3)
    # E_6 = 0.45 < D: increment to 0.91e-3 (the error fell too)
    assert epoch(0.45, []) == pytest.approx(0.91e-3)
    rule.on_train_begin()  # a new fit starts again from the first lambda
    assert rule.lam == 1e-3 and rule.previous is None


def test_fit_changes_lambda_by_the_training_error_without_the_penalty():
    """Full-batch SGD: each epoch is one step, its data error ½ mean Σ (ẑ − z)² at the weights before
    the step, recomputed here from weights recorded by another callback; the rule replayed on it
    gives the lambdas fit logged, and the penalty trained with is the one that ended the run."""
    from deepnets.train import Callback

    class Weights(Callback):
        def __init__(self):
            self.seen = []

        def on_epoch_begin(self, epoch, logs=None):
            self.seen.append({k: v.clone() for k, v in self.loop.model.state_dict().items()})

    x, y = _data()
    penalty = WeightElimination(gamma=0.02, w0=1.0)
    rule = AdaptiveLambda(penalty, delta_lambda=5e-3, cut=0.5, average=0.5)
    net, spy = MLP([3, 6, 1], activation="tanh", seed=0).double(), Weights()
    h = fit(net, (x, y), penalty=rule, optimizer="sgd", lr=0.3, epochs=12, batch_size=None, callbacks=[spy],
            guard=False)
    probe = MLP([3, 6, 1], activation="tanh", seed=0).double()
    errors = []
    for state in spy.seen:
        probe.load_state_dict(state)
        with torch.no_grad():
            errors.append(float(0.5 * (probe(x) - y).pow(2).sum(1).mean()))
            P = 0.02 * sum(weight_elimination_penalty(p, 1.0) for n, p in probe.named_parameters() if p.dim() >= 2)
        if len(errors) == 1:  # the logged loss is the data error plus the penalty at lambda_1
            assert h.history["loss"][0] == pytest.approx(errors[0] + float(P), rel=1e-9)
    replay = AdaptiveLambda(WeightElimination(gamma=0.02), delta_lambda=5e-3, cut=0.5, average=0.5)
    expected = [0.02] + [replay.update(e, e0) for e0, e in zip(errors, errors[1:])]
    assert h.history["lambda"] == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert len(set(expected)) > 3  # the run went through the rule's branches, not one constant
    assert penalty.gamma == pytest.approx(expected[-1])


def _train(callbacks=(), resume=None):
    x, y = _data(50)
    rule = AdaptiveLambda(WeightElimination(gamma=0.01), delta_lambda=2e-3, cut=0.7)
    if resume is not None:
        callbacks = [*callbacks, Checkpointer(resume["path"].parent.parent, every_epochs=0, resume=resume)]
    net = MLP([3, 8, 1], activation="tanh", seed=1).double()
    h = fit(net, (x, y), penalty=rule, optimizer="adam", lr=0.02, epochs=6, batch_size=8, seed=4,
            callbacks=list(callbacks))
    return net, h, rule


@pytest.mark.parametrize("kill_step", [10, 28])  # mid-epoch 2; after the last batch of epoch 4
def test_a_resumed_adaptive_run_is_bit_for_bit_the_uninterrupted_one(tmp_path, kill_step):
    full, full_h, full_rule = _train()
    _train([Checkpointer(tmp_path / "run", every_steps=kill_step, every_epochs=0, keep=10, background=False)])
    mgr = CheckpointManager(tmp_path / "run")
    ckpt = mgr.load(mgr.list()[0].name)
    assert ckpt["step"] == kill_step
    net, h, rule = _train(resume=ckpt)
    for k, v in full.state_dict().items():
        assert torch.equal(v, net.state_dict()[k]), k
    assert h.history["lambda"] == full_h.history["lambda"] and h.history["loss"] == full_h.history["loss"]
    assert len(set(full_h.history["lambda"])) > 2 and rule.lam == full_rule.lam


def _exp(tmp_path, **penalty):
    return experiment_from_dict({
        "data": {"name": "xor", "split": [1.0, 0.0, 0.0], "scale": "none"},
        "model": {"hidden": [3]}, "train": {"epochs": 4, "batch_size": 0, "penalty": penalty},
        "run": {"out": str(tmp_path), "progress": False, "plots": False}})


def test_toml_keys_reach_the_rule_and_the_run_logs_lambda(tmp_path):
    exp = _exp(tmp_path, name="weight_elimination", options={"gamma": 0.01, "w0": 0.5}, adaptive=True,
               target_error=0.05, delta_lambda=1e-3, cut=0.8, average=0.7)
    rule = fit_arguments(exp, "lms")["penalty"]
    assert isinstance(rule, AdaptiveLambda) and isinstance(rule.penalty, WeightElimination)
    assert (rule.target_error, rule.delta_lambda, rule.cut, rule.average, rule.lam, rule.penalty.w0) == \
        (0.05, 1e-3, 0.8, 0.7, 0.01, 0.5)
    result = run_experiment(exp)
    lines = [json.loads(s) for s in open(f"{result.path}/metrics.jsonl") if s.strip()]
    lams = [r["lambda"] for r in lines if "lambda" in r]
    assert len(lams) == 4 and lams[0] == 0.01 and lams != [0.01] * 4


def test_the_published_settings_are_the_defaults(tmp_path):
    rule = fit_arguments(_exp(tmp_path, name="weight_elimination", adaptive=True), "lms")["penalty"]
    assert (rule.delta_lambda, rule.cut, rule.average, rule.target_error) == (1e-6, 0.9, 0.9, 0.0)
    assert isinstance(fit_arguments(_exp(tmp_path, name="weight_elimination"), "lms")["penalty"], WeightElimination)


@pytest.mark.parametrize("penalty, message", [
    ({"adaptive": True, "cut": 1.5}, r"train.penalty \(adaptive\): cut must lie in \(0, 1\), got 1.5"),
    ({"adaptive": True, "average": 1.0}, r"average must lie in \[0, 1\), got 1.0"),
    ({"adaptive": True, "delta_lambda": -1e-3}, r"delta_lambda must be >= 0.0, got -0.001"),
    ({"adaptive": True, "target_error": -1.0}, r"target_error \(D\) must be >= 0.0"),
    ({"adaptive": True, "options": {"gamma": [0.1, 0.2]}}, "one float gamma, got gamma=\\[0.1, 0.2\\]"),
    ({"delta_lambda": 1e-3}, "train.penalty.delta_lambda is set but train.penalty.adaptive is false"),
])
def test_bad_adaptive_settings_are_config_errors(tmp_path, penalty, message):
    with pytest.raises(ConfigError, match=message):
        fit_arguments(_exp(tmp_path, **penalty), "lms")


def test_a_toml_value_of_the_wrong_type_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="train.penalty.adaptive must be bool, got str 'yes'"):
        _exp(tmp_path, adaptive="yes")
