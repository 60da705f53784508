"""Costs against closed forms, their terminal co-states against autograd, and shape errors."""

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.losses import CrossEntropy, LMS, Lp, code_targets, get_loss


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


def test_cross_entropy_closed_forms():
    p = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    y = torch.tensor([0, 2])
    expected = -(torch.log(torch.tensor(0.7)) + torch.log(torch.tensor(0.8))) / 2
    assert float(CrossEntropy()(p, y)) == pytest.approx(float(expected))
    q = torch.tensor([[0.9], [0.2]])
    t = torch.tensor([1, 0])
    expected = -(torch.log(torch.tensor(0.9)) + torch.log(torch.tensor(0.8))) / 2
    assert float(CrossEntropy()(q, t)) == pytest.approx(float(expected))


@pytest.mark.parametrize("loss", [LMS(), Lp(1.3), CrossEntropy(), LMS(coding="pm1")])
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


@pytest.mark.parametrize("loss", [LMS(), Lp(1.5), CrossEntropy()])
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
        CrossEntropy().terminal(torch.full((2, 3), 1 / 3), torch.tensor([0, 5]), type("S", (), {"name": "softmax"})())


def test_bad_specs():
    with pytest.raises(ConfigError, match="did you mean 'lms'"):
        get_loss("lmss")
    with pytest.raises(ConfigError, match="1 <= R <= 2"):
        Lp(2.5)
    with pytest.raises(ConfigError, match="coding"):
        LMS(coding="binary")
