"""Batch, layer and weight normalization: closed forms, torch where the forms coincide, gradchecks."""

import numpy as np
import pytest
import torch

from deepnets.errors import ConfigError, DataError
from deepnets.nn.norm import (BatchNorm, LayerNorm, WeightNormLinear, batch_norm,
                              batch_norm_backward, layer_norm, weight_norm)

f64 = dict(dtype=torch.float64)


def _numpy_batch_norm(u, gamma, beta, eps):
    """The lecture's formulas written out in NumPy over axis 0 (and H, W for maps)."""
    axes = (0,) if u.ndim == 2 else (0, 2, 3)
    B = u.size // u.shape[1]
    shape = (1, -1) + (1,) * (u.ndim - 2)
    m = u.mean(axis=axes).reshape(shape)
    s = ((u - m) ** 2).sum(axis=axes).reshape(shape) / (B - 1)
    return gamma.reshape(shape) * (u - m) / np.sqrt(s + eps) + beta.reshape(shape)


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 6, 7), (2, 3, 1, 1)])
def test_batch_norm_is_the_lecture_formula(shape):
    g = torch.Generator().manual_seed(0)
    u = torch.randn(shape, generator=g, **f64) * 3 + 1
    gamma, beta = torch.rand(shape[1], generator=g, **f64) + 0.5, torch.randn(shape[1], generator=g, **f64)
    y = batch_norm(u, gamma, beta, eps=1e-3)
    np.testing.assert_allclose(y.numpy(), _numpy_batch_norm(u.numpy(), gamma.numpy(), beta.numpy(), 1e-3),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 6, 7)])
def test_biased_form_matches_torch_and_running_stats_match_torch(shape):
    # torch normalises with 1/|B|; unbiased=False is that form exactly. Both keep the unbiased
    # variance in the running average, so evaluation agrees whichever form trained.
    u = torch.randn(shape, **f64)
    torch_bn = torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d
    ours, ref = BatchNorm(shape[1], unbiased=False).double(), torch_bn(shape[1]).double()
    with torch.no_grad():
        ours.weight.uniform_(0.5, 1.5)
        ours.bias.normal_()
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
    for _ in range(3):
        torch.testing.assert_close(ours(u), ref(u))
        u = u * 1.5 + 0.3
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours(u), ref(u))
    lecture = BatchNorm(shape[1]).double()
    lecture(u)
    lecture_ref = torch_bn(shape[1]).double()
    lecture_ref(u)
    torch.testing.assert_close(lecture.running_var, lecture_ref.running_var)


def test_unbiased_and_biased_differ_by_sqrt_B_minus_1_over_B():
    u = torch.randn(6, 4, **f64)
    ratio = batch_norm(u, None, None, eps=0.0) / batch_norm(u, None, None, eps=0.0, unbiased=False)
    torch.testing.assert_close(ratio, torch.full_like(u, (5 / 6) ** 0.5))


def test_unbiased_variance_of_normalised_batch_is_one():
    u = torch.randn(10, 3, 4, 4, **f64) * 7 - 2
    u_hat = batch_norm(u, None, None, eps=0.0)
    torch.testing.assert_close(u_hat.mean(dim=(0, 2, 3)), torch.zeros(3, **f64))
    torch.testing.assert_close(u_hat.var(dim=(0, 2, 3), unbiased=True), torch.ones(3, **f64))


def test_running_averages_are_used_at_test_time():
    bn = BatchNorm(2, momentum=0.5).double()
    u = torch.tensor([[0.0, 10.0], [2.0, 14.0], [4.0, 12.0]], **f64)
    bn(u)
    # m = (2, 12), s = (4, 4): running = 0.5*init + 0.5*batch
    torch.testing.assert_close(bn.running_mean, torch.tensor([1.0, 6.0], **f64))
    torch.testing.assert_close(bn.running_var, torch.tensor([2.5, 2.5], **f64))
    bn.eval()
    x = torch.tensor([[1.0, 6.0]], **f64)
    torch.testing.assert_close(bn(x), torch.zeros(1, 2, **f64))  # (x - mean) = 0
    y = bn(torch.tensor([[1.0 + 2.5 ** 0.5, 6.0]], **f64))
    assert abs(y[0, 0].item() - 1.0) < 1e-5  # one running standard deviation away (eps = 1e-5)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 2)])
@pytest.mark.parametrize("unbiased", [True, False])
def test_batch_norm_gradcheck_and_closed_form_backward(shape, unbiased):
    g = torch.Generator().manual_seed(1)
    u = torch.randn(shape, generator=g, **f64, requires_grad=True)
    gamma = (torch.rand(shape[1], generator=g, **f64) + 0.5).requires_grad_()
    beta = torch.randn(shape[1], generator=g, **f64, requires_grad=True)
    f = lambda u, gamma, beta: batch_norm(u, gamma, beta, eps=1e-3, unbiased=unbiased)
    assert torch.autograd.gradcheck(f, (u, gamma, beta))
    assert torch.autograd.gradgradcheck(f, (u, gamma, beta))
    dy = torch.randn(shape, generator=g, **f64)
    auto = torch.autograd.grad(f(u, gamma, beta), (u, gamma, beta), dy)
    closed = batch_norm_backward(dy, u.detach(), gamma.detach(), eps=1e-3, unbiased=unbiased)
    for a, c in zip(auto, closed):
        torch.testing.assert_close(c, a)


def test_batch_norm_refuses_a_batch_of_one_and_wrong_shapes():
    with pytest.raises(DataError, match=r"\|B\| - 1"):
        BatchNorm(3)(torch.randn(1, 3))
    with pytest.raises(DataError, match=r"\(N, 3, ...\)"):
        BatchNorm(3)(torch.randn(4, 5))
    with pytest.raises(DataError):
        batch_norm(torch.randn(4), None, None)
    with pytest.raises(ConfigError):
        BatchNorm(0)
    with pytest.raises(ConfigError):
        BatchNorm(3, momentum=0.0)
    with pytest.raises(ConfigError):
        batch_norm(torch.randn(4, 3), None, None, training=False)
    bn = BatchNorm(3).eval()
    assert bn(torch.randn(1, 3)).shape == (1, 3)  # one sample is fine at test time


@pytest.mark.parametrize("shape,norm", [((4, 6), (6,)), ((2, 3, 4, 5), (3, 4, 5)), ((2, 5, 7), (7,))])
def test_layer_norm_matches_torch_and_gradchecks(shape, norm):
    g = torch.Generator().manual_seed(2)
    u = torch.randn(shape, generator=g, **f64, requires_grad=True)
    gamma = torch.randn(norm, generator=g, **f64, requires_grad=True)
    beta = torch.randn(norm, generator=g, **f64, requires_grad=True)
    torch.testing.assert_close(layer_norm(u, norm, gamma, beta, eps=1e-4),
                               torch.nn.functional.layer_norm(u, norm, gamma, beta, eps=1e-4))
    assert torch.autograd.gradcheck(lambda u, a, b: layer_norm(u, norm, a, b, eps=1e-4),
                                    (u, gamma, beta))
    # every sample has its own mean 0 and (biased) variance 1
    y = LayerNorm(norm, eps=0.0).double()(u)
    dims = tuple(range(len(shape) - len(norm), len(shape)))
    torch.testing.assert_close(y.mean(dim=dims), torch.zeros(shape[:len(shape) - len(norm)], **f64))
    torch.testing.assert_close(y.var(dim=dims, unbiased=False),
                               torch.ones(shape[:len(shape) - len(norm)], **f64))


def test_layer_norm_is_per_sample_and_the_same_in_train_and_eval():
    ln = LayerNorm(4)
    x = torch.randn(3, 4)
    y = ln(x)
    torch.testing.assert_close(ln(x[1:2]), y[1:2])  # independent of the other samples
    ln.eval()
    torch.testing.assert_close(ln(x), y)
    with pytest.raises(DataError, match=r"\(4,\)"):
        ln(torch.randn(3, 5))
    with pytest.raises(ConfigError):
        LayerNorm(0)


def test_weight_norm_direction_and_length():
    V = torch.randn(5, 3, **f64)
    g = torch.rand(5, **f64) + 0.1
    W = weight_norm(V, g)
    torch.testing.assert_close(W.norm(dim=1), g)  # ||W_j|| = g_j
    torch.testing.assert_close(weight_norm(7 * V, g), W)  # invariant to the scale of V
    Vc = torch.randn(4, 2, 3, 3, **f64)
    torch.testing.assert_close(weight_norm(Vc, torch.ones(4, **f64)).flatten(1).norm(dim=1),
                               torch.ones(4, **f64))


def test_weight_norm_linear_matches_torch_parametrization_and_gradchecks():
    torch.manual_seed(0)
    ours = WeightNormLinear(6, 4).double()
    torch.testing.assert_close(ours.weight, ours.V)  # g = ||V|| at construction
    with torch.no_grad():
        ours.g.uniform_(0.5, 2.0)
    ref = torch.nn.Linear(6, 4).double()
    with torch.no_grad():
        ref.weight.copy_(ours.V)
        ref.bias.copy_(ours.bias)
    ref = torch.nn.utils.parametrizations.weight_norm(ref, dim=0)
    with torch.no_grad():
        ref.parametrizations.weight.original0.copy_(ours.g.view(4, 1))  # g
    x = torch.randn(7, 6, **f64)
    torch.testing.assert_close(ours(x), ref(x))
    ours(x).square().sum().backward()
    ref(x).square().sum().backward()
    torch.testing.assert_close(ours.V.grad, ref.parametrizations.weight.original1.grad)
    torch.testing.assert_close(ours.g.grad, ref.parametrizations.weight.original0.grad.view(4))
    V = ours.V.detach().clone().requires_grad_()
    g = ours.g.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda V, g: torch.nn.functional.linear(x, weight_norm(V, g)), (V, g))
    assert sum(p.numel() for p in ours.parameters()) == 6 * 4 + 4 + 4
    with pytest.raises(ConfigError):
        WeightNormLinear(0, 3)
