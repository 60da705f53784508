"""Curvature summed a chunk of samples at a time gives the numbers of the whole-batch computation."""

import pytest
import torch
from torch import nn

from deepnets import MLP
from deepnets.bayes import Laplace
from deepnets.bayes.evidence import evidence_ard
from deepnets.curvature import (accumulate_gauss_newton, gauss_newton, jacobian_chunks,
                                per_sample_jacobian)
from deepnets.curvature.jacobian import default_chunk_size
from deepnets.errors import ConfigError, DataError


def _net(n_out, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, n_out)).to(dtype)


def test_chunks_concatenate_to_the_whole_jacobian():
    net = _net(3)
    x = torch.randn(23, 4, dtype=torch.float64)
    J, _ = per_sample_jacobian(net, x)
    for size in (1, 5, 23, 100):
        parts = list(jacobian_chunks(net, x, chunk_size=size))
        assert [r.start for r, *_ in parts] == list(range(0, 23, min(size, 23)))
        torch.testing.assert_close(torch.cat([p[1] for p in parts]), J, rtol=0, atol=1e-14)
        torch.testing.assert_close(torch.cat([p[2] for p in parts]), net(x).detach(), rtol=0, atol=1e-14)
    assert default_chunk_size(10, 5000) == 2 ** 22 // 50000 and default_chunk_size(10, 10 ** 9) == 1
    with pytest.raises(DataError, match="chunk_size must be >= 1, got 0"):
        next(jacobian_chunks(net, x, chunk_size=0))
    with pytest.raises(ConfigError, match="chunk_size must be >= 1, got 0"):
        Laplace(net, "lms", chunk_size=0)


@pytest.mark.parametrize("loss,n_out", [("lms", 2), ("cross_entropy", 3), ("cross_entropy", 1)])
@pytest.mark.parametrize("size", [3, None])
def test_accumulated_gauss_newton_equals_the_whole_batch_matrix(loss, n_out, size):
    net = _net(n_out)
    x = torch.randn(40, 4, dtype=torch.float64)
    beta = torch.tensor([2.0, 0.5], dtype=torch.float64) if loss == "lms" else 1.0
    J, _ = per_sample_jacobian(net, x)
    want = gauss_newton(J, loss, outputs=net(x).detach(), beta=beta)  # the unchunked computation
    Q, layout = accumulate_gauss_newton(net, x, loss, beta=beta, chunk_size=size)
    assert layout.numel == J.shape[2]
    torch.testing.assert_close(Q, want, rtol=0, atol=1e-10)
    d, _ = accumulate_gauss_newton(net, x, loss, beta=beta, chunk_size=size, diagonal=True)
    torch.testing.assert_close(d, torch.diagonal(want), rtol=0, atol=1e-10)


def test_a_float32_net_accumulates_in_float64_when_asked():
    net32 = _net(2, torch.float32)
    net64 = _net(2, torch.float64)
    x = torch.randn(30, 4, dtype=torch.float64)
    Q, _ = accumulate_gauss_newton(net32, x.float(), chunk_size=4, dtype=torch.float64)
    want, _ = accumulate_gauss_newton(net64, x)
    assert Q.dtype == torch.float64
    torch.testing.assert_close(Q, want, rtol=1e-5, atol=1e-5)  # float32 Jacobians, float64 sums


@pytest.mark.parametrize("approx", ["full", "diagonal", "last_layer"])
@pytest.mark.parametrize("likelihood,n_out", [("lms", 2), ("cross_entropy", 3)])
def test_laplace_in_chunks_equals_the_unchunked_posterior(approx, likelihood, n_out):
    net = _net(n_out)
    x = torch.randn(37, 4, dtype=torch.float64)
    xt = torch.randn(11, 4, dtype=torch.float64)
    whole = Laplace(net, likelihood, approx=approx, alpha=0.3, beta=2.0, chunk_size=37).fit(x)
    chunked = Laplace(net, likelihood, approx=approx, alpha=0.3, beta=2.0, chunk_size=5).fit(x)
    _, S_whole = whole.functional_covariance(xt)
    _, S_chunk = chunked.functional_covariance(xt)
    torch.testing.assert_close(S_chunk, S_whole, rtol=0, atol=1e-10)
    if approx == "diagonal":
        torch.testing.assert_close(chunked.posterior.h, whole.posterior.h, rtol=0, atol=1e-10)
    else:
        torch.testing.assert_close(chunked.posterior.precision, whole.posterior.precision, rtol=0, atol=1e-10)
    if approx == "full":  # and both equal H built from the whole Jacobian
        J, _ = per_sample_jacobian(net, x)
        H = gauss_newton(J, likelihood, outputs=net(x).detach(), beta=2.0, alpha=0.3)
        torch.testing.assert_close(chunked.posterior.precision, H, rtol=0, atol=1e-10)


def test_evidence_in_chunks_equals_the_unchunked_reestimation():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(60, 3, generator=g, dtype=torch.float64)
    y = torch.stack([torch.sin(x[:, 0]), x[:, 1] * x[:, 2]], dim=1)
    res = []
    for size in (60, 7):
        net = MLP([3, 5, 2], activation="tanh", seed=1, dtype=torch.float64)
        res.append(evidence_ard(net, x, y, outer=3, inner=20, chunk_size=size))
    whole, chunked = res
    torch.testing.assert_close(chunked.alpha, whole.alpha, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(chunked.gamma, whole.gamma, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(chunked.beta, whole.beta, rtol=1e-10, atol=1e-10)
