"""Shared checks for the zoo's tests."""

import pytest
import torch

from deepnets.zoo import count_parameters


def _forward_backward(model, input_shape, num_classes, batch=2):
    """One training-mode forward and backward pass on the CPU; every parameter gets a gradient."""
    torch.manual_seed(0)
    model.train()
    y = model(torch.randn(batch, *input_shape))
    assert y.shape == (batch, num_classes)
    torch.nn.functional.cross_entropy(y, torch.arange(batch) % num_classes).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert len(grads) > 0 and all(g is not None and torch.isfinite(g).all() for g in grads)
    return y


def _meta_params(builder, **kwargs):
    """Trainable parameters of builder(**kwargs), built on the meta device (no memory)."""
    with torch.device("meta"):
        return count_parameters(builder(**kwargs))


@pytest.fixture
def forward_backward():
    return _forward_backward


@pytest.fixture
def meta_params():
    return _meta_params
