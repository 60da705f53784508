import pytest
import torch

from deepnets.curvature import gauss_newton, gauss_newton_factors, woodbury_inverse
from deepnets.errors import ConfigError


@pytest.mark.parametrize("block_size", [1, 3, 64])
def test_woodbury_recursion_equals_direct_inverse(block_size):
    torch.manual_seed(0)
    X = torch.randn(30, 8, dtype=torch.float64)
    alpha = 1e-2
    Q = alpha * torch.eye(8, dtype=torch.float64) + X.T @ X / 30
    Qi = woodbury_inverse(X, alpha=alpha, block_size=block_size)
    assert torch.allclose(Qi, torch.linalg.inv(Q), atol=1e-10)


def test_woodbury_plain_sum_of_gauss_newton_factors():
    torch.manual_seed(1)
    J = torch.randn(6, 3, 10, dtype=torch.float64)
    logits = torch.randn(6, 3, dtype=torch.float64)
    X = gauss_newton_factors(J, "cross_entropy", outputs=logits)
    Qi = woodbury_inverse(X, alpha=0.1, scale=1.0)
    Q = gauss_newton(J, "cross_entropy", outputs=logits, alpha=0.1)
    assert torch.allclose(Qi @ Q, torch.eye(10, dtype=torch.float64), atol=1e-9)


def test_woodbury_rejects_bad_settings():
    X = torch.randn(3, 2)
    with pytest.raises(ConfigError, match="alpha"):
        woodbury_inverse(X, alpha=0.0)
    with pytest.raises(ConfigError, match="block_size"):
        woodbury_inverse(X, alpha=1.0, block_size=0)
