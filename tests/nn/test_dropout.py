"""Dropout: both conventions have the same expected output; masks are reproducible; gradients."""

import pytest
import torch

from deepnets.errors import ConfigError
from deepnets.nn.dropout import Dropout, dropout, dropout_mask


@pytest.mark.parametrize("mode", ["classic", "inverted"])
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_mean_over_masks_equals_test_output(mode, p):
    # E[train output] = test output, checked by averaging 20,000 masks of a 16-vector
    g = torch.Generator().manual_seed(1)
    z = torch.randn(16, generator=g, dtype=torch.float64)
    n = 20_000
    out = dropout(z.expand(n, 16), p, mode=mode, generator=g)  # (n, 16): every row its own mask
    mean = out.mean(dim=0)
    test = dropout(z, p, mode=mode, training=False)
    # standard error of the mean of a * m * z: a |z| sqrt(p (1 - p) / n)
    a = 1.0 if mode == "classic" else 1.0 / p
    se = a * z.abs() * (p * (1 - p) / n) ** 0.5
    assert torch.all((mean - test).abs() <= 5 * se + 1e-12)
    # and the test-time output is p z (classic) or z (inverted)
    torch.testing.assert_close(test, z * (p if mode == "classic" else 1.0))


def test_the_two_conventions_differ_by_the_factor_p():
    p, z = 0.3, torch.randn(5, 7)
    classic = dropout(z, p, mode="classic", generator=torch.Generator().manual_seed(3))
    inverted = dropout(z, p, mode="inverted", generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(inverted, classic / p)
    torch.testing.assert_close(dropout(z, p, mode="inverted", training=False),
                               dropout(z, p, mode="classic", training=False) / p)


def test_scaling_outputs_by_p_is_scaling_the_next_weights_by_p():
    # the lecture's "weights are scaled down by p" at test time
    p, z, lin = 0.6, torch.randn(4, 5), torch.nn.Linear(5, 3)
    scaled = torch.nn.functional.linear(z, lin.weight * p, lin.bias)
    torch.testing.assert_close(lin(dropout(z, p, mode="classic", training=False)), scaled)


def test_mask_statistics_and_values():
    g = torch.Generator().manual_seed(0)
    m = dropout_mask((200_000,), 0.3, generator=g)
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    assert abs(m.mean().item() - 0.3) < 5 * (0.3 * 0.7 / 200_000) ** 0.5
    out = dropout(torch.full((1000,), 2.0), 0.25, mode="inverted", generator=g)
    assert set(out.unique().tolist()) == {0.0, 8.0}


def test_module_modes_and_generator():
    z = torch.randn(8, 10)
    a = Dropout(0.5, "classic", generator=torch.Generator().manual_seed(7))
    b = Dropout(0.5, "classic", generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(a(z), b(z))  # same seed, same mask
    assert not torch.equal(a(z), a(z))  # a fresh mask each call
    a.eval()
    torch.testing.assert_close(a(z), 0.5 * z)
    assert torch.equal(Dropout(1.0)(z), z)
    assert "keep" in repr(a) and "classic" in repr(a)


@pytest.mark.parametrize("p,mode", [(0.0, "inverted"), (1.5, "classic"), (-0.1, "inverted"),
                                    (0.5, "dropconnect"), (0.5, "Inverted")])
def test_bad_configs_are_refused(p, mode):
    with pytest.raises(ConfigError):
        Dropout(p, mode)
    with pytest.raises(ConfigError):
        dropout(torch.ones(2), p, mode=mode)


@pytest.mark.parametrize("mode", ["classic", "inverted"])
def test_gradcheck(mode):
    z = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)

    def f(z):  # the same mask on every call: a fresh generator with a fixed seed
        return dropout(z, 0.4, mode=mode, generator=torch.Generator().manual_seed(5))

    assert torch.autograd.gradcheck(f, (z,))
    # and the gradient is exactly a * m
    f(z).sum().backward()
    m = dropout_mask(z.shape, 0.4, generator=torch.Generator().manual_seed(5), dtype=z.dtype)
    torch.testing.assert_close(z.grad, m * (1.0 if mode == "classic" else 1 / 0.4))
