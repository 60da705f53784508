"""Counting a model: trainable parameters and multiply-accumulates of one forward pass.

Multiply-accumulates (MACs) are counted by forward hooks on the weighted layers:

    convolution   output elements · (K₁ / groups) · F_h · F_w
    linear        output elements · in_features          (= N · in · out)
    other         a module's own ``macs(inputs, output)`` where it has one (LeNet's partial C3
                  and RBF output)

Biases, normalization, pooling and activations are not counted (the convention of the papers'
"multiply-adds"). The pass runs on the meta device, so even VGG-19 is counted in milliseconds
without allocating a weight.

>>> import torch
>>> count_macs(torch.nn.Conv2d(3, 6, 5), (3, 32, 32))  # 28*28*6 outputs, 5*5*3 each
352800
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["count_parameters", "count_macs"]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)  # not transposed convolutions: their count differs


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameter entries (those with requires_grad unless ``trainable_only=False``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _macs_of(module: nn.Module, inputs, output) -> int:
    if isinstance(module, _CONVS):
        k = 1
        for s in module.kernel_size:
            k *= s
        return output.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return module.macs(inputs, output)


def count_macs(model: nn.Module, input_shape, *, batch: int = 1, device="meta") -> int:
    """Multiply-accumulates of one forward pass of ``batch`` inputs of ``input_shape`` (C, H, W).

    The model is copied to ``device`` (default "meta": no memory, no arithmetic) and run in
    evaluation mode; the caller's model is not changed.

    Args:
        model: any torch module.
        input_shape: one input's shape, without the batch axis.
        batch: number of inputs (default 1).
        device: where to run the counting pass (default "meta"; None runs the model where it
            is, for modules the meta device cannot run).
    """
    was_training = model.training
    counted = model if device is None else _copy_to(model, device)
    counted.eval()
    total = [0]

    def hook(module, inputs, output):
        total[0] += int(_macs_of(module, inputs, output))

    handles = [m.register_forward_hook(hook) for m in counted.modules()
               if isinstance(m, (*_CONVS, nn.Linear)) or hasattr(m, "macs")]
    try:
        with torch.no_grad():
            first = next(iter(counted.parameters()), None)
            where = first.device if first is not None else torch.device(device or "cpu")
            counted(torch.zeros(batch, *input_shape, device=where))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total[0]


def _copy_to(model: nn.Module, device) -> nn.Module:
    """``model`` itself when it already lives on ``device``, else a deep copy moved there."""
    first = next(iter(model.parameters()), None)
    if first is not None and first.device == torch.device(device):
        return model
    return copy.deepcopy(model).to(device)
