"""Costs against closed forms and torch's own, their terminal co-states against autograd, shape
errors, and the one vocabulary: what a model outputs, the same gradients for an MLP and its
nn.Sequential twin, a zoo CNN trained by fit's "cross_entropy", and the errors that ask."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import deepnets
from deepnets import MLP, zoo
from deepnets.backprop import costate_backward
from deepnets.errors import ConfigError
from deepnets.losses import (ALIASES, LOSSES, CrossEntropy, LMS, Lp, code_targets, get_loss, infer_likelihood,
                             likelihood_model, loss_name, output_kind)
from deepnets.nn.mlp import supports_costate
from deepnets.train.callbacks import LRScheduler
from twins import mlp_and_twin


def test_lms_closed_form():
    pred = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    z = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    # E_n = ½ Σ_i (z − ẑ)²: ½(1 + 4) = 2.5 and ½(1 + 4) = 2.5; mean 2.5
    assert float(LMS()(pred, z)) == pytest.approx(2.5)


def test_lp_reduces_to_lms_at_R2_and_lad_at_R1():
    g = torch.Generator().manual_seed(0)
    pred, z = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    assert float(Lp(2.0)(pred, z)) == pytest.approx(float(LMS()(pred, z)))
    assert float(Lp(1.0)(pred, z)) == pytest.approx(float((pred - z).abs().sum(1).mean()))


def test_cross_entropy_of_probabilities_closed_forms():
    ce = CrossEntropy(outputs="probabilities")
    p = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    y = torch.tensor([0, 2])
    expected = -(torch.log(torch.tensor(0.7)) + torch.log(torch.tensor(0.8))) / 2
    assert float(ce(p, y)) == pytest.approx(float(expected))
    q = torch.tensor([[0.9], [0.2]])
    t = torch.tensor([1, 0])
    expected = -(torch.log(torch.tensor(0.9)) + torch.log(torch.tensor(0.8))) / 2
    assert float(ce(q, t)) == pytest.approx(float(expected))


def test_cross_entropy_of_logits_is_torchs():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(6, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (6,), generator=g)
    soft = torch.softmax(torch.randn(6, 4, generator=g, dtype=torch.float64), 1)
    for ce in (CrossEntropy(), CrossEntropy(outputs="logits"), get_loss("cross_entropy")):
        torch.testing.assert_close(ce(a, y), F.cross_entropy(a, y))
        torch.testing.assert_close(ce(a, soft), F.cross_entropy(a, soft))  # target probabilities
    a1 = torch.randn(6, 1, generator=g, dtype=torch.float64)
    t = torch.randint(0, 2, (6,), generator=g)
    ref = F.binary_cross_entropy_with_logits(a1[:, 0], t.double())
    torch.testing.assert_close(CrossEntropy()(a1, t), ref)
    torch.testing.assert_close(CrossEntropy()(a1, t.double().unsqueeze(1)), ref)
    # the same deviance, on logits or on the probabilities they give
    torch.testing.assert_close(CrossEntropy(outputs="probabilities")(torch.softmax(a, 1), y), F.cross_entropy(a, y))


@pytest.mark.parametrize("loss", [LMS(), Lp(1.3), CrossEntropy(outputs="probabilities"), CrossEntropy(),
                                  LMS(coding="pm1")])
@pytest.mark.parametrize("n_out", [1, 4])
def test_terminal_costate_equals_autograd(loss, n_out):
    g = torch.Generator().manual_seed(3)
    pred = torch.rand(6, n_out, generator=g, dtype=torch.float64) * 0.8 + 0.1
    if n_out > 1:
        pred = pred / pred.sum(1, keepdim=True)
    y = torch.randint(0, max(n_out, 2), (6,), generator=g)
    E, lam, delta = loss.terminal(pred, y)  # no output unit given: the plain λ(L)
    assert delta is None
    p = pred.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(loss(p, y), p)
    torch.testing.assert_close(lam, ref)
    torch.testing.assert_close(E, loss(pred, y))


def test_pm1_coding():
    assert code_targets(torch.tensor([2, 0]), 3, "pm1").tolist() == [[-1, -1, 1], [1, -1, -1]]
    assert code_targets(torch.tensor([1, 0]), 1, "pm1").tolist() == [[1], [-1]]
    assert code_targets(torch.tensor([1, 0]), 1).tolist() == [[1], [0]]


@pytest.mark.parametrize("loss", [LMS(), Lp(1.5), CrossEntropy(), CrossEntropy(outputs="probabilities")])
def test_shape_mismatch_is_an_error_batch_size_one_included(loss):
    with pytest.raises(ConfigError, match="does not match"):
        loss(torch.zeros(1, 1), torch.zeros(1))
    with pytest.raises(ConfigError, match="does not match"):
        loss(torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ConfigError, match="does not match"):
        loss(torch.zeros(4, 2), torch.zeros(4, 1))
    with pytest.raises(ConfigError):
        loss(torch.zeros(4, 3), torch.zeros(3, dtype=torch.int64))


def test_label_out_of_range():
    with pytest.raises(ConfigError, match="class labels must lie in"):
        LMS()(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ConfigError, match="class labels must lie in"):
        CrossEntropy(outputs="probabilities").terminal(torch.full((2, 3), 1 / 3), torch.tensor([0, 5]),
                                                       type("S", (), {"name": "softmax"})())
    with pytest.raises(ConfigError, match="class labels must lie in"):
        CrossEntropy()(torch.zeros(2, 3), torch.tensor([0, 3]))


def test_bad_specs():
    with pytest.raises(ConfigError, match="did you mean 'lms'"):
        get_loss("lmss")
    with pytest.raises(ConfigError, match="1 <= R <= 2"):
        Lp(2.5)
    with pytest.raises(ConfigError, match="coding"):
        LMS(coding="binary")
    with pytest.raises(ConfigError, match="outputs must be one of"):
        CrossEntropy(outputs="scores")


# ---------------------------------------------------------------------------------------------
# one vocabulary: names, aliases, what a model outputs


def test_aliases_resolve_in_one_table_to_one_meaning():
    assert set(LOSSES) == {"lms", "lp", "cross_entropy"}
    assert {a: loss_name(a) for a in ALIASES} == {"mse": "lms", "regression": "lms", "bce": "cross_entropy",
                                                  "binary": "cross_entropy", "multiclass": "cross_entropy"}
    assert isinstance(get_loss("mse"), LMS) and isinstance(get_loss("regression"), LMS)
    assert loss_name("bce", 1) == loss_name("multiclass", 3) == "cross_entropy"
    # an old name used with the other number of outputs is an error, not a second meaning
    with pytest.raises(ConfigError, match="'bce' is 'cross_entropy' on one output, got 3"):
        loss_name("bce", 3)
    with pytest.raises(ConfigError, match="'multiclass' is 'cross_entropy' on several outputs, got 1"):
        get_loss("multiclass", model=MLP([2, 1], output="logistic"))


@pytest.mark.parametrize("model,kind,likelihood", [
    (MLP([3, 4, 5], output="softmax"), "probabilities", "cross_entropy"),
    (MLP([3, 4, 1], output="logistic"), "probabilities", "cross_entropy"),
    (MLP([3, 4, 5]), "logits", "lms"),  # a linear output gives scores
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 5)), "logits", "lms"),
    (zoo.build("lenet5_modern"), "logits", "lms"),
    (deepnets.zoo.sequence_classifier("lstm", 5, 3, 1), "logits", "lms"),
])
def test_what_a_model_outputs_is_decided_once(model, kind, likelihood):
    assert output_kind(model) == kind
    assert infer_likelihood(model) == likelihood
    ce = get_loss("cross_entropy", model=model)
    assert isinstance(ce, CrossEntropy) and ce.outputs == kind
    assert get_loss(CrossEntropy(), model=model).outputs == kind  # an undecided instance is resolved too
    assert get_loss(ce, model=model) is ce
    f = likelihood_model(model, "cross_entropy")
    assert (f is model) == (kind == "logits")
    assert likelihood_model(model, "lms") is model


def test_the_logit_view_shares_the_mlps_weights_and_names():
    net = MLP([3, 4, 2], output="softmax", seed=0, dtype=torch.float64)
    f = likelihood_model(net, "cross_entropy")
    x = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(torch.softmax(f(x), 1), net(x))
    assert [n for n, _ in f.named_parameters()] == [n for n, _ in net.named_parameters()]
    assert all(a is b for a, b in zip(f.parameters(), net.parameters()))


# ---------------------------------------------------------------------------------------------
# the same network as a deepnets MLP and as an nn.Sequential: one meaning, the same numbers


def _twins(n_out: int, seed: int = 0):
    return mlp_and_twin(4, 6, n_out, seed=seed)


def _targets(n_out, kind, g, n=24):
    labels = torch.randint(0, max(n_out, 2), (n,), generator=g)
    if kind == "labels":
        return labels
    if n_out == 1:
        return torch.rand(n, 1, generator=g, dtype=torch.float64)  # Bernoulli probabilities
    return torch.softmax(2 * torch.randn(n, n_out, generator=g, dtype=torch.float64), 1)


@pytest.mark.filterwarnings("ignore::deepnets.train.FewExamplesWarning")
@pytest.mark.parametrize("n_out", [3, 1])
@pytest.mark.parametrize("kind", ["labels", "probabilities"])
def test_mlp_and_its_sequential_twin_get_the_same_cross_entropy_gradients(n_out, kind):
    g = torch.Generator().manual_seed(5)
    net, seq = _twins(n_out)
    x = torch.randn(24, 4, generator=g, dtype=torch.float64)
    z = _targets(n_out, kind, g)
    ce_net, ce_seq = get_loss("cross_entropy", model=net), get_loss("cross_entropy", model=seq)
    assert (ce_net.outputs, ce_seq.outputs) == ("probabilities", "logits")
    # the co-state step of the MLP (δ(L) = ẑ − z, no autograd) against autograd on the twin
    assert supports_costate(net)
    E = costate_backward(net, x, z, ce_net)
    E_ref = ce_seq(seq(x), z)
    g_ref = torch.autograd.grad(E_ref, list(seq.parameters()))
    torch.testing.assert_close(E, E_ref.detach(), rtol=0, atol=1e-12)
    for p, gr in zip(net.parameters(), g_ref):
        torch.testing.assert_close(p.grad, gr, rtol=0, atol=1e-10)
    # and one full-batch SGD step of fit, by name: the same weights after it
    net.zero_grad()
    for model in (net, seq):
        deepnets.fit(model, (x, z), loss="cross_entropy", optimizer="sgd", lr=0.5, epochs=1, batch_size=None,
                     shuffle=False, guard=False)
    for a, b in zip(net.parameters(), seq.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    e_net = deepnets.evaluate(net, x, z, loss="cross_entropy")["loss"]
    assert e_net == pytest.approx(deepnets.evaluate(seq, x, z, loss="cross_entropy")["loss"], rel=1e-12)


@pytest.mark.filterwarnings("ignore::deepnets.train.FewExamplesWarning")
def test_a_zoo_cnn_trains_on_the_digits_with_fits_cross_entropy():
    """The issue's case: lenet5_modern outputs logits; "cross_entropy" trained it to chance (10%)
    when the name meant probabilities. Digits resized to 28x28 and padded to 32x32 as in
    examples/lenet5_digits.toml; 10 epochs of Adam, one thread, a few seconds."""
    from deepnets.data import load_dataset, split
    from deepnets.nn.image import to_image

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        s = split(load_dataset("digits"), (0.75, 0.0, 0.25), seed=0)
        img = lambda x: to_image(x / 16.0, (1, 8, 8), resize_to=(28, 28), pad_to=(32, 32))  # (N, 1, 32, 32)
        torch.manual_seed(0)
        net = zoo.build("lenet5_modern")
        epochs = 10
        deepnets.fit(net, (img(s.train[0]), s.train[1]), loss="cross_entropy", optimizer="adam", lr=3e-3,
                     epochs=epochs, batch_size=32, seed=0,
                     callbacks=[LRScheduler(lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs))])
        res = deepnets.evaluate(net, img(s.test[0]), s.test[1], loss="cross_entropy", metrics=["accuracy"])
    finally:
        torch.set_num_threads(threads)
    assert res["accuracy"] >= 0.97
    assert res["loss"] > 0  # a deviance of logits (the clamped log of logits went negative)


# ---------------------------------------------------------------------------------------------
# where the vocabulary cannot tell, it asks


@pytest.mark.parametrize("last,match", [
    (nn.Softmax(dim=1), "ends in Softmax: its outputs are probabilities.*Remove the final Softmax"),
    (nn.Sigmoid(), "ends in Sigmoid: its outputs are probabilities.*outputs='probabilities'"),
    (nn.LogSoftmax(dim=1), "ends in LogSoftmax: its outputs are log-probabilities.*NLLLoss"),
])
def test_a_module_ending_in_a_probability_layer_is_asked_about(last, match):
    seq = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Sequential(nn.Linear(3, 2), last))
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    with pytest.raises(ConfigError, match=match):
        deepnets.fit(seq, (x, y), loss="cross_entropy", epochs=1)
    with pytest.raises(ConfigError, match=match):
        deepnets.evaluate(seq, x, y, loss="cross_entropy")
    with pytest.raises(ConfigError, match="no likelihood follows"):
        infer_likelihood(seq)
    # the user's word settles it
    assert get_loss(CrossEntropy(outputs="probabilities"), model=seq).outputs == "probabilities"
    assert isinstance(get_loss("lms", model=seq), LMS)


@pytest.mark.parametrize("output,n_out", [("tanh", 3), ("logistic:2", 1), ("logistic", 3), ("relu", 2)])
def test_an_mlp_output_that_is_neither_scores_nor_probabilities_is_asked_about(output, n_out):
    net = MLP([4, 5, n_out], output=output, seed=0)
    with pytest.raises(ConfigError, match="'cross_entropy' cannot tell what a .* output on"):
        deepnets.fit(net, (torch.randn(8, 4), torch.randint(0, 2, (8,))), loss="cross_entropy", epochs=1)
    with pytest.raises(ConfigError, match="cannot tell"):
        likelihood_model(net, "cross_entropy")
    with pytest.raises(ConfigError, match="no likelihood follows from"):
        infer_likelihood(net)


def test_a_contradicting_word_or_a_wrapped_probability_mlp_is_an_error():
    net = MLP([4, 5, 3], output="softmax", seed=0)
    with pytest.raises(ConfigError, match=r"CrossEntropy\(outputs='logits'\) on a model whose Softmax\(\) output "
                                          r"gives probabilities"):
        get_loss(CrossEntropy(outputs="logits"), model=net)
    with pytest.raises(ConfigError, match="ends in a deepnets MLP with a Softmax"):
        get_loss("cross_entropy", model=nn.Sequential(nn.Identity(), net))
    # an MLP with a linear output inside a Sequential gives scores: nothing to ask
    assert get_loss("cross_entropy", model=nn.Sequential(nn.Identity(), MLP([4, 3]))).outputs == "logits"
